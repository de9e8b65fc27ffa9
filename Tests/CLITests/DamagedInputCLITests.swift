import Foundation
import Testing
import TensorCore
import WeightIO
import Zoo

/// Damaged and hostile inputs through the real executable: bad images in a folder, NaN weights, and
/// a write that fails half-way (RLIMIT_FSIZE, which the child inherits: no root or tmpfs needed).
@Suite struct DamagedInputCLITests {
    /// Runs `finetune ARGS` under bash with a file-size limit of `kib` KiB and SIGXFSZ ignored, so
    /// writes past it fail with EFBIG as on a full disk.
    static func runWithFileSizeLimit(kib: Int, _ args: [String], in dir: URL) throws -> CLI.Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", "ulimit -f \(kib); trap '' XFSZ; exec \"$0\" \"$@\"", try CLI.finetune().path] + args
        process.currentDirectoryURL = dir
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CLI.Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                          stderr: String(decoding: errData, as: UTF8.self),
                          terminatedBySignal: process.terminationReason == .uncaughtSignal)
    }

    static func lenetModel(_ path: URL, poison: Bool = false) throws {
        let model = try Zoo.build("lenet5", ZooOptions(inputSize: 28, inputChannels: 1, classCount: 2))
        if poison, let (_, p) = model.namedParameters().first {
            var v = p.value
            v.withUnsafeMutableBufferPointer { $0[0] = .nan }
            p.value = v
        }
        try saveNativeModel(model, classNames: ["0", "1"], to: path.path)
    }

    @Test func aWriteThatFailsHalfWayExitsOneAndLeavesNoTemporaryFile() throws {
        let tmp = try TempDir()
        let model = tmp.path("model.h5")
        try Self.lenetModel(model)
        let outDir = tmp.path("out")
        try FileManager.default.createDirectory(at: outDir, withIntermediateDirectories: true)
        for format in ["native", "keras-h5"] {
            let r = try Self.runWithFileSizeLimit(kib: 64, ["export", "--model", model.path, "--format", format,
                                                            "--out", outDir.appendingPathComponent("x.h5").path], in: tmp.url)
            #expect(!r.terminatedBySignal && r.status == 1, "\(format): \(r)")
            #expect(r.stderrLines.count == 1 && r.stderrLines.first?.hasPrefix("error: ") == true, "\(r)")
            #expect(r.stderr.contains("x.h5") && r.stderr.contains("File too large"), "\(r)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: outDir.path).isEmpty)
        }
    }

    @Test func anAugmentPreviewThatCannotBeWrittenLeavesNoTemporaryFile() throws {
        let tmp = try TempDir()
        let data = try TinyData.mnist(tmp.path("data"), classes: ["0", "1"], train: 4, val: 0)
        let outDir = tmp.path("out")
        try FileManager.default.createDirectory(at: outDir, withIntermediateDirectories: true)
        let r = try Self.runWithFileSizeLimit(kib: 1, ["augment", "--data", data.path, "--preview", "--input-size", "96",
                                                       "--out", outDir.appendingPathComponent("grid.png").path], in: tmp.url)
        #expect(!r.terminatedBySignal && r.status == 1, "\(r)")
        #expect(r.stderrLines.count == 1 && r.stderr.contains("grid.png"), "\(r)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: outDir.path).isEmpty)
    }

    @Test func predictOverAFolderReportsGoodImagesAndOneWarningPerBadOne() throws {
        let tmp = try TempDir()
        let model = tmp.path("model.h5")
        try Self.lenetModel(model)
        let data = try TinyData.mnist(tmp.path("data"), classes: ["0"], train: 2, val: 0)
        let folder = data.appendingPathComponent("train/0")
        try Data("not an image".utf8).write(to: folder.appendingPathComponent("text.png"))
        #expect(mkfifo(folder.appendingPathComponent("fifo.png").path, 0o600) == 0)
        try FileManager.default.createSymbolicLink(atPath: folder.appendingPathComponent("zero.png").path,
                                                   withDestinationPath: "/dev/zero")
        let started = Date()
        let running = try CLI.Running(["predict", "--model", model.path, folder.path])
        let pid = running.process.processIdentifier
        let watchdog = DispatchWorkItem { _ = kill(pid, SIGKILL) }   // a FIFO once hung it
        DispatchQueue.global().asyncAfter(deadline: .now() + 60, execute: watchdog)
        let r = running.wait()
        watchdog.cancel()
        #expect(Date().timeIntervalSince(started) < 60)
        #expect(r.status == 0, "\(r)")
        let results = r.stdout.split(separator: "\n").filter { $0.contains(".png: ") }
        #expect(results.count == 2, "\(r)")
        #expect(r.stderrLines.count == 3, "\(r)")
        for bad in ["text.png", "fifo.png", "zero.png"] {
            #expect(r.stderrLines.filter { $0.hasPrefix("warning: ") && $0.contains(bad) }.count == 1, "\(bad): \(r)")
        }
        #expect(!r.stderr.contains("warning: warning:"), "\(r)")
    }

    @Test func nanWeightsAreRefusedNamingFileAndTensorUnlessAllowed() throws {
        let tmp = try TempDir()
        let model = tmp.path("nan.h5")
        try Self.lenetModel(model, poison: true)
        let data = try TinyData.mnist(tmp.path("data"), classes: ["0"], train: 1, val: 0)
        let image = try TinyData.anyImage(data, split: "train", class: "0")
        let refused = try CLI.run(["predict", "--model", model.path, "--json", image.path])
        #expect(refused.status == 1 && refused.stderrLines.count == 1, "\(refused)")
        #expect(refused.stderr.contains(model.path) && refused.stderr.contains("NaN"), "\(refused)")
        let allowed = try CLI.run(["predict", "--model", model.path, "--json", "--allow-nonfinite-weights", image.path])
        #expect(allowed.status == 0, "\(allowed)")
        #expect(allowed.stdout.jsonObject is [Any], "\(allowed)")
    }

    @Test func aTrainingFolderWithABadImageWarnsOnceWithOnePrefix() throws {
        let tmp = try TempDir()
        let data = try TinyData.mnist(tmp.path("data"), classes: ["0", "1"], train: 3, val: 1)
        try Data("not an image".utf8).write(to: data.appendingPathComponent("train/0/bad.png"))
        let r = try CLI.run(CLI.lenet(data: data, out: tmp.path("run"), epochs: 1))
        #expect(r.status == 0, "\(r)")
        #expect(r.stderrLines.contains { $0.hasPrefix("warning: ") && $0.contains("bad.png") }, "\(r)")
        #expect(!r.stderr.contains("warning: warning:"), "\(r)")
    }

    /// A file that crashes libhdf5 itself (SIGSEGV in H5HG_read, scripts/make_damaged_fixtures.py): one
    /// error line through the contained reader, for every command that reads a weight file.
    @Test func aFileThatCrashesLibHDF5IsOneErrorLine() throws {
        let damaged = CLI.packageRoot.appendingPathComponent("Tests/WeightIOTests/Fixtures/damaged_global_heap.h5").path
        let image = CLI.packageRoot.appendingPathComponent("Tests/WeightIOTests/Fixtures/kerasfile_mnist_cnn_input.png").path
        for args in [["inspect", damaged], ["predict", "--model", damaged, image],
                     ["predict", "--base", "lenet5", "--weights", damaged, "--classes", "10", image]] {
            let r = try CLI.run(args)
            #expect(!r.terminatedBySignal && r.status == 1, "\(args): \(r)")
            #expect(r.stderrLines == ["error: \(damaged): the HDF5 library failed reading it (the file is damaged)"], "\(args): \(r)")
        }
    }
}
