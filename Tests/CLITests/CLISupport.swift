import Foundation
import Testing

/// Helpers for running the built `finetune` executable as a subprocess on tiny image folders.
enum CLI {
    /// The package root (this file is `<root>/Tests/CLITests/CLISupport.swift`).
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The `finetune` executable built with these tests. `swift test` (any `--scratch-path`) puts the
    /// test runner and the package's executables in the same folder, so look next to the running test
    /// binary first (through symlinks, e.g. `.build/debug -> x86_64-unknown-linux-gnu/debug`). Otherwise
    /// (an unusual runner), GRAFT_FINETUNE, then the newest `<root>/.build*/debug/finetune`.
    static let executable: URL? = {
        let fm = FileManager.default
        func isExecutable(_ u: URL) -> Bool {
            var isDir: ObjCBool = false
            return fm.fileExists(atPath: u.path, isDirectory: &isDir) && !isDir.boolValue && fm.isExecutableFile(atPath: u.path)
        }
        if let explicit = ProcessInfo.processInfo.environment["GRAFT_FINETUNE"] {
            let u = URL(fileURLWithPath: explicit)
            if isExecutable(u) { return u }
        }
        var starts: [URL] = []
        if let arg0 = ProcessInfo.processInfo.arguments.first, arg0.contains("/") {
            starts.append(URL(fileURLWithPath: arg0))
        }
        if let exe = Bundle.main.executableURL { starts.append(exe) }
        starts.append(Bundle.main.bundleURL)
        for start in starts {
            // The runner may be `…/debug/GraftPackageTests.xctest` (a file on Linux, a bundle on macOS,
            // where the executable is inside it: `….xctest/Contents/MacOS/…`).
            var dir = start.resolvingSymlinksInPath().deletingLastPathComponent()
            for _ in 0..<4 {
                let candidate = dir.appendingPathComponent("finetune")
                if isExecutable(candidate) { return candidate }
                dir = dir.deletingLastPathComponent()
            }
        }
        // Fallback: the newest build of any scratch folder of this package.
        let builds = ((try? fm.contentsOfDirectory(atPath: packageRoot.path)) ?? []).filter { $0.hasPrefix(".build") }
        var best: (URL, Date)? = nil
        for b in builds {
            for sub in ["debug", "release"] {
                let u = packageRoot.appendingPathComponent(b).appendingPathComponent(sub).appendingPathComponent("finetune")
                guard isExecutable(u),
                      let date = (try? fm.attributesOfItem(atPath: u.path))?[.modificationDate] as? Date else { continue }
                if best == nil || date > best!.1 { best = (u, date) }
            }
        }
        return best?.0
    }()

    struct Result: CustomStringConvertible {
        var status: Int32
        var stdout: String
        var stderr: String
        var terminatedBySignal: Bool
        var description: String { "exit \(status)\nstdout:\n\(stdout)\nstderr:\n\(stderr)" }
        /// Non-empty stderr lines.
        var stderrLines: [String] { stderr.split(separator: "\n").map(String.init).filter { !$0.isEmpty } }
    }

    /// The executable, or a recorded failure when it was not built.
    static func finetune() throws -> URL {
        guard let exe = executable else {
            Issue.record("finetune executable not found next to the test binary nor under \(packageRoot.path)/.build*/debug (build it: swift build --product finetune)")
            throw CLIError("no finetune executable")
        }
        return exe
    }

    /// Starts `finetune ARGS` in the package root with stdout/stderr going to files (no pipe can fill up).
    final class Running {
        let process = Process()
        let outFile: URL, errFile: URL
        init(_ args: [String], in dir: URL = CLI.packageRoot, environment: [String: String] = [:]) throws {
            let tmp = FileManager.default.temporaryDirectory
            outFile = tmp.appendingPathComponent("finetune-out-\(UUID().uuidString)")
            errFile = tmp.appendingPathComponent("finetune-err-\(UUID().uuidString)")
            _ = FileManager.default.createFile(atPath: outFile.path, contents: nil)
            _ = FileManager.default.createFile(atPath: errFile.path, contents: nil)
            process.executableURL = try CLI.finetune()
            process.arguments = args
            process.currentDirectoryURL = dir
            process.standardOutput = try FileHandle(forWritingTo: outFile)
            process.standardError = try FileHandle(forWritingTo: errFile)
            var env = ProcessInfo.processInfo.environment
            env["TERM"] = "dumb"
            env.merge(environment) { _, new in new }
            process.environment = env
            try process.run()
        }

        func kill() { if process.isRunning { _ = Foundation.kill(process.processIdentifier, SIGKILL) } }

        func wait() -> Result {
            process.waitUntilExit()
            let out = (try? String(contentsOf: outFile, encoding: .utf8)) ?? ""
            let err = (try? String(contentsOf: errFile, encoding: .utf8)) ?? ""
            try? FileManager.default.removeItem(at: outFile)
            try? FileManager.default.removeItem(at: errFile)
            return Result(status: process.terminationStatus, stdout: out, stderr: err,
                          terminatedBySignal: process.terminationReason == .uncaughtSignal)
        }
    }

    /// Runs `finetune ARGS` to completion.
    @discardableResult
    static func run(_ args: [String], in dir: URL = packageRoot, environment: [String: String] = [:]) throws -> Result {
        try Running(args, in: dir, environment: environment).wait()
    }

    /// Runs and records an issue (with the whole output) unless it exits 0.
    @discardableResult
    static func succeed(environment: [String: String] = [:], _ args: [String],
                        sourceLocation: SourceLocation = #_sourceLocation) throws -> Result {
        let r = try run(args, environment: environment)
        if r.status != 0 {
            Issue.record("finetune \(args.joined(separator: " ")) failed: \(r)", sourceLocation: sourceLocation)
            throw CLIError("finetune failed")
        }
        return r
    }

    /// The im2col convolution path for every pass (`--conv im2col`), where a test wants one path
    /// throughout; the default rule is fixed per geometry too (unlike `--conv auto`, which picks by
    /// timing, so a resumed run would not be bit-identical to a straight one).
    static let fixedConvPath = ["--conv", "im2col"]

    /// Common flags of the tiny LeNet runs: one thread (deterministic, and the machine is shared).
    static func lenet(data: URL, out: URL, epochs: Int = 1, extra: [String] = []) -> [String] {
        ["--base", "lenet5", "--weights", "none", "--input-size", "28", "--data", data.path, "--out", out.path,
         "--epochs", "\(epochs)", "--batch-size", "4", "--lr", "0.01", "--preprocess", "scale", "--seed", "3",
         "--threads", "1", "--plain"] + extra
    }
}

struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// A temporary folder removed when the test ends.
final class TempDir {
    let url: URL
    init(_ label: String = "graft-cli") throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }
    func path(_ name: String) -> URL { url.appendingPathComponent(name) }
}

enum TinyData {
    /// `root/train/<class>/` and `root/val/<class>/` with PNGs copied from data/mnist5k (28x28 gray),
    /// classes named by digit; `train` and `val` images per class, taken in sorted order.
    static func mnist(_ root: URL, classes: [String], train: Int = 6, val: Int = 3) throws -> URL {
        let fm = FileManager.default
        for c in classes {
            for (split, source, count) in [("train", "train", train), ("val", "test", val)] where count > 0 {
                let from = CLI.packageRoot.appendingPathComponent("data/mnist5k/\(source)/\(c)")
                let names = try fm.contentsOfDirectory(atPath: from.path).filter { $0.hasSuffix(".png") }.sorted()
                guard names.count >= count else { throw CLIError("\(from.path) has only \(names.count) PNGs") }
                let to = root.appendingPathComponent("\(split)/\(c)")
                try fm.createDirectory(at: to, withIntermediateDirectories: true)
                for n in names.prefix(count) {
                    try fm.copyItem(at: from.appendingPathComponent(n), to: to.appendingPathComponent(n))
                }
            }
        }
        return root
    }

    /// Some PNG of class `c` in a tiny folder.
    static func anyImage(_ root: URL, split: String = "val", class c: String) throws -> URL {
        let dir = root.appendingPathComponent("\(split)/\(c)")
        let name = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted().first { $0.hasSuffix(".png") }
        guard let name else { throw CLIError("no PNG in \(dir.path)") }
        return dir.appendingPathComponent(name)
    }
}

extension Data {
    var jsonObject: Any? { try? JSONSerialization.jsonObject(with: self) }
}

extension String {
    var jsonObject: Any? { Data(utf8).jsonObject }
}
