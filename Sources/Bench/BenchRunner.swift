import Foundation

/// Drives `finetune bench`: for each workload, rounds of graft / torch / tf runs alternating (each run a
/// fresh process, so peak RSS is per workload and nothing is cached between runs), then medians and one table.
public struct BenchOptions: Sendable {
    public var workloads: [BenchWorkload] = BenchWorkload.defaultOrder
    public var threads = 2
    /// Measured steps per run (nil: per-workload default; `quick` lowers them).
    public var iterations: Int?
    public var warmup = 1
    public var rounds = 2
    public var peers = ["torch", "tf"]
    public var torchPython: String?
    public var tfPython: String?
    /// Python for ONNX Runtime and OpenVINO (`ort`, `openvino`, `openvino-f32`; inference workloads only).
    public var inferPython: String?
    public var script = "scripts/bench_peers.py"
    /// Seconds before a single run is killed.
    public var runTimeout = 900
    public var quick = false
    /// The environment the runs start from (the executable passes its own; each run adds its thread
    /// variables), and where peers' Pythons are looked up (`PATH`).
    public var environment: [String: String] = [:]
    /// Runtime flags passed on to every Graft run (`--conv im2col`, `--no-plan`, ...).
    public var graftArguments: [String] = []
    public init() {}

    /// Default measured steps: many for cheap workloads, few for VGG16 training.
    public func iterations(for w: BenchWorkload) -> Int {
        if let i = iterations { return i }
        switch w {
        case .lenet5Train: return quick ? 20 : 50
        case .resnet20Train: return quick ? 5 : 10
        case .resnet50Infer, .vgg16Infer, .inceptionv3Infer: return quick ? 2 : 4
        case .mobilenetv2Infer: return quick ? 3 : 6
        case .vgg16Frozen, .vgg16Cached, .resnet50Train, .mobilenetv2Train: return quick ? 2 : 3
        case .vgg16Train: return 2
        }
    }

    public func warmup(for w: BenchWorkload) -> Int { w == .lenet5Train ? max(warmup, 3) : warmup }

    /// Peers that run the workload's PyTorch model exported to ONNX (inference workloads only).
    public static let onnxPeers: Set<String> = ["ort", "openvino", "openvino-f32"]
    /// Every peer `--peers` takes; `openvino` stands for both OpenVINO configurations.
    public static let knownPeers = ["torch", "tf", "ort", "openvino", "openvino-f32"]

    /// `--peers` as given (comma-separated), `openvino` expanded to its default and f32 runs.
    public static func peers(_ list: String) -> [String] {
        var out: [String] = []
        for p in list.split(separator: ",").map(String.init) where knownPeers.contains(p) {
            for q in p == "openvino" ? ["openvino", "openvino-f32"] : [p] where !out.contains(q) { out.append(q) }
        }
        return out
    }
}

public struct BenchRow: Codable, Sendable {
    public var workload: String
    public var title: String
    public var batch: Int
    /// framework -> median over rounds of each run's rate (img/s; cached: 6000 / whole-job seconds)
    public var rate: [String: Double] = [:]
    /// framework -> each run's rate, in run order
    public var runs: [String: [Double]] = [:]
    public var rssMB: [String: Double] = [:]
    public var version: [String: String] = [:]
    /// framework -> number format it ran in (fp32, bf16, ...), where it said.
    public var precision: [String: String] = [:]
    public var skipped: [String: String] = [:]
    public var notes: [String] = []
    public var gflopPerStep: Double?
    /// Median Graft step seconds (for GFLOP/s).
    public var graftSeconds: Double?
    /// Whole-job seconds, cached fine-tune only.
    public var totalSeconds: [String: Double] = [:]

    public var bestPeer: (name: String, rate: Double)? {
        rate.filter { $0.key != "graft" }.max { $0.value < $1.value }.map { ($0.key, $0.value) }
    }
    public var ratio: Double? {
        guard let g = rate["graft"], let p = bestPeer else { return nil }
        return g / p.rate
    }
    /// Graft's run divided by the best peer run of the same round, per round: the load of a shared
    /// machine changes between rounds, and within one round the runs are minutes apart at most.
    public var roundRatios: [Double] {
        guard let g = runs["graft"] else { return [] }
        return g.indices.compactMap { r in
            let best = runs.filter { $0.key != "graft" && r < $0.value.count }.map { $0.value[r] }.max()
            return best.map { g[r] / $0 }
        }
    }
    /// Graft's run divided by `peer`'s run of the same round, per round.
    public func roundRatios(vs peer: String) -> [Double] {
        guard let g = runs["graft"], let p = runs[peer] else { return [] }
        return zip(g, p).map { $0 / $1 }
    }

    public var graftGFLOPs: Double? {
        guard let f = gflopPerStep, let s = graftSeconds, s > 0 else { return nil }
        return f / s
    }
}

public struct BenchReport: Codable, Sendable {
    public var date: String
    public var machine: String
    public var loadBefore: String
    public var loadAfter: String
    public var threads: Int
    public var fmaPeakGFLOPs: Double
    public var fmaPeakAfterGFLOPs: Double
    public var command: String
    public var rows: [BenchRow]
}

extension BenchJob {
    /// Python that can import `module` (first candidate that works), or nil.
    static func python(importing module: String, candidates: [String], environment: [String: String]) -> String? {
        for c in candidates where FileManager.default.isExecutableFile(atPath: c) {
            let r = runProcess([c, "-c", "import \(module)"], timeout: 120, environment: environment)
            if r.status == 0 { return c }
        }
        return nil
    }

    /// Runs argv with a timeout (via /usr/bin/timeout) in exactly `environment`; stdout/stderr go
    /// through temp files (no pipe deadlock).
    static func runProcess(_ argv: [String], timeout: Int, environment: [String: String]) -> (status: Int32, stdout: String, stderr: String) {
        let dir = FileManager.default.temporaryDirectory
        let id = UUID().uuidString
        let outURL = dir.appendingPathComponent("graft-bench-\(id).out"), errURL = dir.appendingPathComponent("graft-bench-\(id).err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: outURL); try? FileManager.default.removeItem(at: errURL) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        p.arguments = ["-s", "KILL", String(timeout)] + argv
        p.environment = environment
        guard let out = try? FileHandle(forWritingTo: outURL), let err = try? FileHandle(forWritingTo: errURL) else {
            return (-1, "", "cannot create temp files")
        }
        p.standardOutput = out
        p.standardError = err
        do { try p.run() } catch { return (-1, "", "\(error)") }
        p.waitUntilExit()
        try? out.close(); try? err.close()
        let so = (try? String(contentsOf: outURL, encoding: .utf8)) ?? ""
        let se = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
        return (p.terminationStatus, so, se)
    }

    /// One run of `framework` on `workload` in a fresh process.
    static func runOne(_ framework: String, _ w: BenchWorkload, _ o: BenchOptions, executable: String,
                       pythons: [String: String]) -> BenchMeasurement {
        var failed = BenchMeasurement(framework: framework, workload: w.rawValue, batch: w.batch)
        let its = o.iterations(for: w), wu = o.warmup(for: w)
        let common = ["--workload", w.rawValue, "--threads", String(o.threads), "--iterations", String(its), "--warmup", String(wu)]
        let threadVariables = ["OMP_NUM_THREADS": String(o.threads), "OPENBLAS_NUM_THREADS": String(o.threads),
                   "MKL_NUM_THREADS": String(o.threads), "TF_ENABLE_ONEDNN_OPTS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"]
        let argv: [String]
        if framework == "graft" {
            argv = [executable, "bench", "--child"] + common + o.graftArguments
        } else {
            if BenchOptions.onnxPeers.contains(framework), !w.isInference {
                failed.skipped = "\(framework) runs the inference workloads only"
                return failed
            }
            guard let py = pythons[framework] else {
                failed.skipped = BenchOptions.onnxPeers.contains(framework)
                    ? "no Python that imports \(framework == "ort" ? "onnxruntime" : "openvino") (pass --infer-python)"
                    : framework == "tf" ? "no Python that imports tensorflow (pass --tf-python)"
                    : "no Python that imports torch (apt-get install python3-torch python3-torchvision, or pass --python)"
                return failed
            }
            argv = [py, o.script, "--framework", framework, "--json"] + common
                + (BenchOptions.onnxPeers.contains(framework) ? ["--export-python", pythons["export"] ?? "/usr/bin/python3"] : [])
        }
        let r = runProcess(argv, timeout: o.runTimeout, environment: o.environment.merging(threadVariables) { _, new in new })
        let line = r.stdout.split(separator: "\n").last { $0.hasPrefix("{") }
        if let line, let m = try? JSONDecoder().decode(BenchMeasurement.self, from: Data(line.utf8)) { return m }
        let tail = r.stderr.split(separator: "\n").suffix(3).joined(separator: " | ")
        failed.skipped = r.status == 137 || r.status == 124 ? "timed out after \(o.runTimeout) s"
            : "run failed (exit \(r.status)): \(tail.prefix(300))"
        return failed
    }

    /// The whole side-by-side benchmark. `log` gets one line per run.
    public static func runAll(_ o: BenchOptions, command: String, log: (String) -> Void) -> BenchReport {
        let executable = Bundle.main.executablePath ?? CommandLine.arguments[0]
        var pythons: [String: String] = [:]
        if o.peers.contains("torch") {
            pythons["torch"] = python(importing: "torch, torchvision",
                                      candidates: [o.torchPython, "/usr/bin/python3", "python3"].compactMap { $0 }.map { resolve($0, o) },
                                      environment: o.environment)
            log("torch: \(pythons["torch"] ?? "not found, skipped")")
        }
        if o.peers.contains("tf") {
            let cwd = FileManager.default.currentDirectoryPath
            pythons["tf"] = python(importing: "tensorflow",
                                   candidates: [o.tfPython, cwd + "/.venv/bin/python", "/usr/bin/python3"].compactMap { $0 }.map { resolve($0, o) },
                                   environment: o.environment)
            log("tf: \(pythons["tf"] ?? "not found, skipped")")
        }
        let cwd = FileManager.default.currentDirectoryPath
        let inferCandidates = [o.inferPython, cwd + "/.venv/bin/python", "/usr/bin/python3"].compactMap { $0 }.map { resolve($0, o) }
        for (peer, module) in [("ort", "onnxruntime"), ("openvino", "openvino"), ("openvino-f32", "openvino")] where o.peers.contains(peer) {
            pythons[peer] = python(importing: module, candidates: inferCandidates, environment: o.environment)
            log("\(peer): \(pythons[peer] ?? "not found, skipped")")
        }
        if o.peers.contains(where: BenchOptions.onnxPeers.contains) {
            // The ONNX models are exported from the PyTorch ones, by a Python that imports torch.
            pythons["export"] = pythons["torch"] ?? python(importing: "torch, torchvision",
                candidates: [o.torchPython, "/usr/bin/python3", "python3"].compactMap { $0 }.map { resolve($0, o) }, environment: o.environment)
        }
        let loadBefore = loadAverage()
        let peak = fmaPeakGFLOPs(threads: o.threads)
        log(String(format: "FMA peak (SIMD8, 12 chains/thread, %d threads): %.1f GFLOP/s; load %@", o.threads, peak, loadBefore))
        let frameworks = ["graft"] + o.peers
        var rows: [BenchRow] = []
        for w in o.workloads {
            var row = BenchRow(workload: w.rawValue, title: w.title, batch: w.batch)
            var graftSeconds: [Double] = [], totals: [String: [Double]] = [:]
            for round in 0..<max(1, o.rounds) {
                // Alternate run by run, and rotate the order each round so no framework always goes first.
                for k in 0..<frameworks.count {
                    let fw = frameworks[(k + round) % frameworks.count]
                    if row.skipped[fw] != nil { continue }
                    // Peers' cached fine-tune = their frozen-trunk step rate x 6000 images (they recompute the
                    // trunk every epoch): reuse the vgg16-frozen runs of this invocation instead of re-running them.
                    if w == .vgg16Cached, fw != "graft", let frozen = rows.first(where: { $0.workload == BenchWorkload.vgg16Frozen.rawValue }),
                       let fr = frozen.runs[fw], round < fr.count {
                        let total = Double(BenchWorkload.cachedImages * BenchWorkload.cachedEpochs) / fr[round]
                        totals[fw, default: []].append(total)
                        row.runs[fw, default: []].append(fr[round])
                        row.rssMB[fw] = frozen.rssMB[fw]; row.version[fw] = frozen.version[fw]
                        continue
                    }
                    let m = runOne(fw, w, o, executable: executable, pythons: pythons)
                    if let s = m.skipped {
                        row.skipped[fw] = s
                        log("\(w.rawValue) \(fw): skipped: \(s)")
                        continue
                    }
                    guard let rate = m.rate else { continue }
                    row.runs[fw, default: []].append(rate)
                    row.rssMB[fw] = max(row.rssMB[fw] ?? 0, m.rss_mb ?? 0)
                    row.version[fw] = m.version
                    if let p = m.precision { row.precision[fw] = p }
                    if fw != "graft", let n = m.note, !row.notes.contains("\(fw): \(n)") { row.notes.append("\(fw): \(n)") }
                    if fw == "graft" {
                        row.gflopPerStep = m.gflop_per_step
                        if let s = m.seconds { graftSeconds.append(s) }
                        if let n = m.note { row.notes.removeAll { $0.hasPrefix("graft: ") }; row.notes.insert("graft: \(n)", at: 0) }
                    }
                    if let t = m.total_seconds { totals[fw, default: []].append(t) }
                    log(String(format: "%@ %@ round %d: %.2f img/s (steps %@), RSS %.0f MiB",
                               w.rawValue, fw, round + 1, rate,
                               (m.times ?? []).map { String(format: "%.3f", $0) }.joined(separator: ","), m.rss_mb ?? 0))
                }
            }
            for (fw, v) in row.runs { row.rate[fw] = benchMedian(v) }
            for (fw, v) in totals { row.totalSeconds[fw] = benchMedian(v) }
            if !graftSeconds.isEmpty { row.graftSeconds = benchMedian(graftSeconds) }
            rows.append(row)
        }
        let peakAfter = fmaPeakGFLOPs(threads: o.threads)
        let date = ISO8601DateFormatter().string(from: Date())
        return BenchReport(date: date, machine: cpuModel(), loadBefore: loadBefore, loadAfter: loadAverage(), threads: o.threads,
                           fmaPeakGFLOPs: peak, fmaPeakAfterGFLOPs: peakAfter, command: command, rows: rows)
    }

    static func resolve(_ p: String, _ o: BenchOptions) -> String {
        if p.contains("/") { return p }
        for dir in (o.environment["PATH"] ?? "").split(separator: ":") {
            let c = "\(dir)/\(p)"
            if FileManager.default.isExecutableFile(atPath: c) { return c }
        }
        return p
    }

    // MARK: - Table

    /// Markdown table (also readable as plain text).
    public static func table(_ r: BenchReport, peers: [String]) -> String {
        func f(_ v: Double?) -> String {
            guard let v, v.isFinite else { return "-" }
            return v >= 100 ? String(format: "%.0f", v) : v >= 10 ? String(format: "%.1f", v) : String(format: "%.2f", v)
        }
        // The machine's FMA ceiling: the better of the probes before and after (load lowers a probe).
        let peak = max(r.fmaPeakGFLOPs, r.fmaPeakAfterGFLOPs)
        // A cell's number format, where the run reported one: "59.0 bf16".
        func cell(_ row: BenchRow, _ fw: String) -> String {
            if row.skipped[fw] != nil && row.rate[fw] == nil { return "skipped" }
            return f(row.rate[fw]) + (row.rate[fw] != nil ? row.precision[fw].map { " \($0)" } ?? "" : "")
        }
        var s = "| workload | batch | Graft img/s | " + peers.map { "\($0) img/s | " }.joined()
            + "Graft / best peer | Graft GFLOP/s | % of FMA peak | peak RSS MiB (" + (["graft"] + peers).joined(separator: "/") + ") |\n"
        s += "|---|---:|---:|" + peers.map { _ in "---:|" }.joined() + "---:|---:|---:|---|\n"
        for row in r.rows {
            let peerCells = peers.map { cell(row, $0) }
            let ratio = row.ratio.map { String(format: "%.2fx (vs %@)", $0, row.bestPeer!.name) } ?? "-"
            let g = row.workload == BenchWorkload.vgg16Cached.rawValue ? nil : row.graftGFLOPs
            let pct = g.map { String(format: "%.0f%%", 100 * $0 / peak) } ?? "-"
            let rss = (["graft"] + peers).map { row.rssMB[$0].map { String(format: "%.0f", $0) } ?? "-" }.joined(separator: "/")
            s += "| \(row.title) | \(row.batch) | \(cell(row, "graft")) | " + peerCells.map { "\($0) | " }.joined()
                + "\(ratio) | \(f(g)) | \(pct) | \(rss) |\n"
        }
        return s
    }

    /// Per-run details, the cached fine-tune's whole-job seconds and skip reasons.
    public static func details(_ r: BenchReport) -> String {
        var s = String(format: "FMA peak (%d threads, SIMD8 x 12 chains, best of 7 probes): %.1f GFLOP/s before, %.1f after (%% of peak uses the higher); load average %@ -> %@\n",
                       r.threads, r.fmaPeakGFLOPs, r.fmaPeakAfterGFLOPs, r.loadBefore, r.loadAfter)
        for row in r.rows {
            let runs = row.runs.sorted { $0.key < $1.key }.map { k, v in "\(k) [" + v.map { String(format: "%.2f", $0) }.joined(separator: ", ") + "]" }
            s += "- \(row.workload): runs (img/s) " + runs.joined(separator: "; ")
            if !row.roundRatios.isEmpty {
                s += "; Graft / best peer per round [" + row.roundRatios.map { String(format: "%.2f", $0) }.joined(separator: ", ") + "]"
            }
            for peer in ["openvino", "openvino-f32", "ort"] where !row.roundRatios(vs: peer).isEmpty {
                s += "; Graft / \(peer) per round [" + row.roundRatios(vs: peer).map { String(format: "%.2f", $0) }.joined(separator: ", ") + "]"
            }
            if !row.totalSeconds.isEmpty {
                s += "; whole job seconds " + row.totalSeconds.sorted { $0.key < $1.key }.map { String(format: "%@ %.0f", $0.key, $0.value) }.joined(separator: ", ")
            }
            for n in row.notes { s += "; \(n)" }
            for (k, v) in row.skipped.sorted(by: { $0.key < $1.key }) { s += "; \(k) skipped: \(v)" }
            s += "\n"
        }
        let versions = Set(r.rows.flatMap { $0.version.map { "\($0.key) \($0.value)" } }).sorted()
        s += "versions: " + versions.joined(separator: ", ") + "\n"
        return s
    }
}
