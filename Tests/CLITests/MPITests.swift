import Foundation
import Testing
import WeightIO

/// `mpirun -np 2 finetune-mpi` on localhost: the same weights as one process, refused mismatched
/// data, and a killed rank ending the job. Skipped (with the reason) where Open MPI or the
/// finetune-mpi product (built only where libopenmpi-dev is installed) is missing.
@Suite(.serialized) struct MPITests {
    static let mpirun: URL? = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].map { URL(fileURLWithPath: $0) }
        .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    static let finetuneMPI: URL? = CLI.executable.map { $0.deletingLastPathComponent().appendingPathComponent("finetune-mpi") }
        .flatMap { FileManager.default.isExecutableFile(atPath: $0.path) ? $0 : nil }

    static func available() -> Bool {
        if mpirun == nil { print("MPITests skipped: mpirun not found (apt-get install openmpi-bin libopenmpi-dev)"); return false }
        if finetuneMPI == nil { print("MPITests skipped: finetune-mpi was not built (it needs libopenmpi-dev at build time)"); return false }
        return true
    }

    /// `mpirun` with `ranks` (one finetune-mpi per entry, each with its own arguments: MPMD).
    static func mpi(_ ranks: [[String]], timeout: TimeInterval = 120, afterStart: ((Process) -> Void)? = nil) throws -> CLI.Result {
        let p = Process()
        p.executableURL = mpirun
        var args = ["--oversubscribe", "--bind-to", "none"]
        if getuid() == 0 { args.append("--allow-run-as-root") }
        for (i, r) in ranks.enumerated() { args += (i > 0 ? [":"] : []) + ["-np", "1", finetuneMPI!.path] + r }
        p.arguments = args
        p.currentDirectoryURL = CLI.packageRoot
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        afterStart?(p)
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(100_000) }
        if p.isRunning { p.terminate(); Issue.record("mpirun still running after \(timeout) s") }
        p.waitUntilExit()
        return CLI.Result(status: p.terminationStatus, stdout: String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self),
                          stderr: String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self),
                          terminatedBySignal: p.terminationReason == .uncaughtSignal)
    }

    static func weights(_ model: URL) throws -> [String: [Float]] {
        let file = try readNativeCheckpoint(path: model.path)
        return Dictionary(uniqueKeysWithValues: file.parameters.map { ($0.name, $0.value.scalars) })
    }

    /// Two ranks x one thread end with the weights of one process x one thread (batch 15: shares of
    /// 7 and 8, so the n_r / N weighting is exercised), within 1e-4 relative.
    @Test func twoRanksMatchOneProcess() throws {
        guard Self.available() else { return }
        let tmp = try TempDir()
        let data = try TinyData.mnist(tmp.path("data"), classes: ["0", "1", "2"], train: 10, val: 3)
        func args(_ out: URL) -> [String] {
            CLI.lenet(data: data, out: out, epochs: 2, extra: ["--freeze", "none", "--batch-size", "15"]) + CLI.fixedConvPath
        }
        let one = tmp.path("one"), two = tmp.path("two")
        try CLI.succeed(args(one))
        let r = try Self.mpi([args(two), args(two)])
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout.components(separatedBy: "done    2 epochs").count == 2, "rank 0 alone reports: \(r.stdout)")
        #expect(r.stdout.contains("mpi     2 ranks; global batch 15") && r.stdout.contains("not scaled (lr_scaling: none)"), "\(r.stdout)")
        let a = try Self.weights(one.appendingPathComponent("model.h5")), b = try Self.weights(two.appendingPathComponent("model.h5"))
        #expect(a.keys.sorted() == b.keys.sorted() && !a.isEmpty)
        for (k, x) in a {
            let y = b[k] ?? []
            let scale = max(x.map(abs).max() ?? 0, 1e-12)
            let worst = zip(x, y).map { abs($0 - $1) }.max() ?? .infinity
            #expect(x.count == y.count && worst / scale <= 1e-4, "\(k): max difference \(worst) (scale \(scale))")
        }
    }

    /// `lr_scaling: linear` multiplies the rate by the ranks: 2 ranks at lr 0.005 train as 1 process at 0.01.
    @Test func linearScalingDoublesTheRate() throws {
        guard Self.available() else { return }
        let tmp = try TempDir()
        let data = try TinyData.mnist(tmp.path("data"), classes: ["0", "1"], train: 8, val: 2)
        func args(_ out: URL, lr: String, _ more: [String] = []) -> [String] {
            CLI.lenet(data: data, out: out, epochs: 1, extra: ["--freeze", "none", "--batch-size", "8", "--lr", lr] + more) + CLI.fixedConvPath
        }
        let one = tmp.path("one"), two = tmp.path("two")
        try CLI.succeed(args(one, lr: "0.01"))
        let scaled = args(two, lr: "0.005", ["--set", "lr_scaling=linear"])
        let r = try Self.mpi([scaled, scaled])
        #expect(r.status == 0 && r.stdout.contains("lr 0.005 x 2 = 0.01 (lr_scaling: linear)"), "\(r)")
        let a = try Self.weights(one.appendingPathComponent("model.h5")), b = try Self.weights(two.appendingPathComponent("model.h5"))
        for (k, x) in a {
            let y = b[k] ?? []
            let scale = max(x.map(abs).max() ?? 0, 1e-12)
            #expect(x.count == y.count && (zip(x, y).map { abs($0 - $1) }.max() ?? .infinity) / scale <= 1e-4, "\(k)")
        }
    }

    @Test func ranksWithDifferentDataAreRefused() throws {
        guard Self.available() else { return }
        let tmp = try TempDir()
        let a = try TinyData.mnist(tmp.path("a"), classes: ["0", "1"], train: 4, val: 2)
        let b = try TinyData.mnist(tmp.path("b"), classes: ["0", "1"], train: 5, val: 2)
        let out = tmp.path("run")
        let r = try Self.mpi([CLI.lenet(data: a, out: out), CLI.lenet(data: b, out: out)])
        #expect(r.status != 0)
        let lines = r.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        #expect(lines.count == 1 && lines[0].contains("sees other training images than rank 0"), "\(r)")
    }

    /// SIGKILL of one rank mid-run: mpirun ends the job non-zero within 30 s; the checkpoint rank 0
    /// wrote stays readable, and `--resume` with the same 2 ranks ends with exactly the weights of an
    /// uninterrupted 2-rank run.
    @Test func aKilledRankEndsTheJobAndTheRunResumes() throws {
        guard Self.available() else { return }
        let tmp = try TempDir()
        let data = try TinyData.mnist(tmp.path("data"), classes: ["0", "1", "2"], train: 10, val: 3)
        let out = tmp.path("run"), straight = tmp.path("straight")
        func run(_ out: URL) -> [String] { CLI.lenet(data: data, out: out, epochs: 60, extra: ["--freeze", "none"]) + CLI.fixedConvPath }
        let args = run(out)
        var killedAt: Date?
        let r = try Self.mpi([args, args], timeout: 90) { mpirun in
            let checkpoint = out.appendingPathComponent("checkpoint.h5").path
            let until = Date().addingTimeInterval(60)
            while !FileManager.default.fileExists(atPath: checkpoint) && Date() < until { usleep(10_000) }
            let children = Self.children(of: mpirun.processIdentifier)
            if let victim = children.last { _ = kill(victim, SIGKILL); killedAt = Date() }
        }
        let killed = try #require(killedAt, "no finetune-mpi process to kill")
        #expect(r.status != 0, "\(r)")
        #expect(Date().timeIntervalSince(killed) < 30)
        let file = try readNativeCheckpoint(path: out.appendingPathComponent("checkpoint.h5").path)
        #expect(!file.parameters.isEmpty)

        let resumed = try Self.mpi([["--resume", out.path, "--threads", "1", "--plain"] + CLI.fixedConvPath,
                                    ["--resume", out.path, "--threads", "1", "--plain"] + CLI.fixedConvPath])
        #expect(resumed.status == 0 && resumed.stdout.contains("done    60 epochs"), "\(resumed)")
        let whole = try Self.mpi([run(straight), run(straight)])
        #expect(whole.status == 0, "\(whole)")
        let a = try Self.weights(straight.appendingPathComponent("model.h5")), b = try Self.weights(out.appendingPathComponent("model.h5"))
        #expect(!a.isEmpty && a == b, "resumed weights differ from the uninterrupted run's")
    }

    /// Direct children of `pid` (from /proc), sorted.
    static func children(of pid: Int32) -> [Int32] {
        let procs = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return procs.compactMap(Int32.init).filter { p in
            guard let stat = try? String(contentsOfFile: "/proc/\(p)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && Int32(fields[1]) == pid
        }.sorted()
    }
}
