import ArgumentParser
import Foundation
import TensorCore
import Bench
import Training

/// `finetune bench`: Graft side by side with PyTorch and TensorFlow (issue #7). Build with -c release.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Side-by-side benchmark: Graft vs PyTorch vs TensorFlow, same models, batches and threads.",
        discussion: """
        Workloads: \(BenchWorkload.defaultOrder.map(\.rawValue).joined(separator: ", ")) (or all).
        Each run is a fresh process (peak RSS per workload); frameworks alternate run by run.
        Peers run scripts/bench_peers.py (PyTorch: apt-get install python3-torch python3-torchvision;
        TensorFlow: tensorflow-cpu in .venv, optional).
        """)

    @Option(help: "A workload name, a comma-separated list, or all.") var workload = "all"
    @Option(help: "Threads for every framework.") var threads = 2
    @Option(help: "Measured steps per run (default: per workload).") var iterations: Int?
    @Option(help: "Unmeasured warm-up steps per run.") var warmup = 1
    @Option(help: "Rounds of alternating runs per workload.") var rounds = 2
    @Option(help: "Peers, comma-separated (torch,tf); empty for Graft only.") var peers = "torch,tf"
    @Option(help: "Python for PyTorch (default: /usr/bin/python3 if it imports torch).") var python: String?
    @Option(name: .customLong("tf-python"), help: "Python for TensorFlow (default: .venv/bin/python if it imports tensorflow).") var tfPython: String?
    @Option(help: "Path of bench_peers.py.") var script = "scripts/bench_peers.py"
    @Option(help: "Seconds before one run is killed.") var timeout = 900
    @Flag(help: "Fewer measured steps (batch sizes unchanged).") var quick = false
    @Flag(help: "Print the report as JSON.") var json = false
    @Option(name: .customLong("save-json"), help: "Also write the report as JSON to this file.") var saveJSON: String?
    @Flag(help: .hidden) var child = false
    @Flag(help: "Print where Graft's inference time goes by layer kind (resnet50-infer, vgg16-infer or mobilenetv2-infer), then exit.") var profile = false
    @OptionGroup(title: "Runtime (Graft runs)") var runtime: RuntimeFlags

    func run() throws {
        try runReportingErrors {
            let options = runtime.applied()
            if profile {
                guard let w = BenchWorkload(rawValue: workload), w.isInference else { throw ValidationError("--profile takes --workload resnet50-infer, vgg16-infer or mobilenetv2-infer") }
                print(try BenchJob.profileInference(w, threads: threads, iterations: iterations ?? 3, warmup: warmup,
                                                    inference: options.inference))
                return
            }
            if child {
                guard let w = BenchWorkload(rawValue: workload) else { throw ValidationError("unknown workload \(workload)") }
                let m = try BenchJob.runGraft(w, threads: threads, iterations: iterations ?? 3, warmup: warmup,
                                              inference: options.inference)
                let enc = JSONEncoder()
                enc.outputFormatting = [.sortedKeys]
                print(String(decoding: try enc.encode(m), as: UTF8.self))
                return
            }
            var o = BenchOptions()
            if workload != "all" {
                o.workloads = try workload.split(separator: ",").map { name in
                    guard let w = BenchWorkload(rawValue: String(name)) else {
                        throw ValidationError("unknown workload \(name); known: \(BenchWorkload.defaultOrder.map(\.rawValue).joined(separator: ", "))")
                    }
                    return w
                }
            }
            o.threads = threads; o.iterations = iterations; o.warmup = warmup; o.rounds = rounds
            o.peers = peers.split(separator: ",").map(String.init).filter { ["torch", "tf"].contains($0) }
            o.torchPython = python; o.tfPython = tfPython; o.script = script; o.runTimeout = timeout; o.quick = quick
            o.environment = RuntimeEnvironment.variables
            o.graftArguments = runtime.arguments
            let command = "finetune " + CommandLine.arguments.dropFirst().joined(separator: " ")
            let report = BenchJob.runAll(o, command: command) { line in
                FileHandle.standardError.write(Data("bench: \(line)\n".utf8))
            }
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys, .prettyPrinted]
            if let saveJSON { try enc.encode(report).write(to: URL(fileURLWithPath: saveJSON)) }
            if json {
                print(String(decoding: try enc.encode(report), as: UTF8.self))
            } else {
                print("\(report.date)  \(report.machine)  threads \(report.threads)")
                print(BenchJob.table(report, peers: o.peers))
                print(BenchJob.details(report))
            }
        }
    }
}
