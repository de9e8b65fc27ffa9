import Foundation
import Testing
import WeightIO

/// A run interrupted after an epoch and continued with `finetune --resume OUT` ends bit-identical
/// to the same run done in one go: every parameter of model.h5, and the metrics of every epoch.
/// The first test runs under the default convolution rule and under im2col; the others use im2col
/// throughout (`CLI.fixedConvPath`). (`--conv auto` picks by timing, so it cannot resume bit-exactly.)
@Suite struct ResumeTests {
    /// Images per class: enough that a full-phase epoch takes a noticeable time (about a second in
    /// debug), so the test sees the first checkpoints long before the run would end.
    static let trainPerClass = 20

    @Test(arguments: [[], CLI.fixedConvPath])
    func fullPhaseRunKilledAfterAnEpochResumesBitExactly(runtime: [String]) throws {
        let tmp = try TempDir()
        let data = try TinyData.mnist(tmp.path("data"), classes: ["0", "1", "2"], train: Self.trainPerClass, val: 3)
        let extra = ["--freeze", "none", "--optimizer", "adam", "--lr", "0.003"]
        let outA = tmp.path("straight")
        try CLI.succeed(CLI.lenet(data: data, out: outA, epochs: 3, extra: extra + runtime))

        // Kill the run with SIGKILL as soon as its first epoch is on disk; if the machine is so idle
        // that the whole run ends first, try again on a fresh folder.
        let killed = try Interrupt.killedRun(in: tmp, afterEpochs: 1) { CLI.lenet(data: data, out: $0, epochs: 3, extra: extra + runtime) }
        #expect(FileManager.default.fileExists(atPath: killed.appendingPathComponent("checkpoint.h5").path))
        #expect(!FileManager.default.fileExists(atPath: killed.appendingPathComponent("model.h5").path),
                "a killed run has no final model")

        let resumed = try CLI.succeed(["--resume", killed.path, "--plain"] + runtime)
        #expect(resumed.stdout.contains("resume  "), "\(resumed)")
        #expect(resumed.stdout.contains("done    3 epochs"), "\(resumed)")
        try Compare.runs(outA, killed)
    }

    /// An `--extend` run (2 old classes + 1 new) killed after its first epoch resumes from its
    /// checkpoint to the same model as the uninterrupted run: the resumed run must rebuild the
    /// extended head (3 outputs, old rows first) before loading the checkpoint into it.
    @Test func extendRunKilledAfterAnEpochResumesBitExactly() throws {
        let tmp = try TempDir()
        let (modelFile, _) = try ExtendTests.trainOldModel(tmp)
        let data = try TinyData.mnist(tmp.path("new-data"), classes: ExtendTests.oldClasses + ["1"],
                                      train: Self.trainPerClass, val: 3)
        func args(_ out: URL) -> [String] {
            ["--extend", modelFile.path, "--data", data.path, "--out", out.path, "--epochs", "3", "--freeze", "none",
             "--optimizer", "adam", "--lr", "0.003", "--batch-size", "4", "--seed", "3", "--threads", "1", "--plain"]
                + CLI.fixedConvPath
        }
        let outA = tmp.path("straight")
        let straight = try CLI.succeed(args(outA))
        #expect(straight.stdout.contains("head extended 2 -> 3 classes"), "\(straight)")

        let killed = try Interrupt.killedRun(in: tmp, afterEpochs: 1, args)
        let resumed = try CLI.succeed(["--resume", killed.path, "--plain"] + CLI.fixedConvPath)
        #expect(resumed.stdout.contains("resume  "), "\(resumed)")
        #expect(resumed.stdout.contains("done    3 epochs"), "\(resumed)")
        try Compare.runs(outA, killed)
        let saved = try readNativeCheckpoint(path: killed.appendingPathComponent("model.h5").path)
        #expect(saved["predictions.weight"]?.shape == [3, 16])
    }

    /// Trunk frozen, no augmentation: epochs 1-2 train the head on cached trunk features, epochs 3-4
    /// train the whole network (`--unfreeze-at 3:all`). Interrupted (a) inside the cached phase by a
    /// failed write right after the first checkpoint, (b) by SIGKILL once phase 1 has ended.
    @Test func cachedHeadPhaseAndFullPhaseResumeBitExactly() throws {
        let tmp = try TempDir()
        let data = try TinyData.mnist(tmp.path("data"), classes: ["0", "1", "2"], train: Self.trainPerClass, val: 3)
        let extra = ["--freeze", "trunk", "--unfreeze-at", "3:all", "--optimizer", "adam", "--lr", "0.003"] + CLI.fixedConvPath
        let outA = tmp.path("straight")
        let straight = try CLI.succeed(CLI.lenet(data: data, out: outA, epochs: 4, extra: extra))
        #expect(straight.stdout.contains("cached trunk features"), "phase 1 should run on cached features: \(straight)")
        #expect(straight.stdout.contains("phase 2"), "\(straight)")

        // (a) metrics.json is a non-empty folder, so the run fails right after writing the epoch-1 checkpoint.
        let outB = tmp.path("crashed")
        let blocker = outB.appendingPathComponent("metrics.json")
        try FileManager.default.createDirectory(at: blocker, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: blocker.appendingPathComponent("keep").path, contents: Data())
        let crashed = try CLI.run(CLI.lenet(data: data, out: outB, epochs: 4, extra: extra))
        #expect(crashed.status != 0, "\(crashed)")
        #expect(crashed.stderrLines.last?.hasPrefix("error:") == true && crashed.stderr.contains("metrics.json"), "\(crashed)")
        let checkpoint = try readNativeCheckpoint(path: outB.appendingPathComponent("checkpoint.h5").path)
        #expect(checkpoint.attributes["checkpoint_phase"] == "1")
        try FileManager.default.removeItem(at: blocker)
        let resumedB = try CLI.succeed(["--resume", outB.path, "--plain"] + CLI.fixedConvPath)
        #expect(resumedB.stdout.contains("phase 1, epoch 1 done"), "\(resumedB)")
        try Compare.runs(outA, outB)

        // (b) killed once metrics.json lists 2 epochs (phase 1 complete): resumes at the phase boundary or in phase 2.
        let killed = try Interrupt.killedRun(in: tmp, afterEpochs: 2) { CLI.lenet(data: data, out: $0, epochs: 4, extra: extra) }
        let resumedC = try CLI.succeed(["--resume", killed.path, "--plain"] + CLI.fixedConvPath)
        #expect(resumedC.stdout.contains("resume  "), "\(resumedC)")
        try Compare.runs(outA, killed)
    }
}

enum Interrupt {
    /// Runs `args(folder)` on fresh folders `killed-1`, `killed-2`, ... until one is killed after
    /// `afterEpochs` epochs (on an idle machine a run may end before it can be killed); that folder.
    static func killedRun(in tmp: TempDir, afterEpochs: Int, _ args: (URL) -> [String]) throws -> URL {
        for attempt in 1...4 {
            let candidate = tmp.path("killed-\(attempt)")
            if try kill(args(candidate), out: candidate, afterEpochs: afterEpochs) { return candidate }
        }
        return try #require(nil as URL?, "the run always finished before it could be killed")
    }

    /// Starts `finetune ARGS`, polls OUT/metrics.json and sends SIGKILL as soon as it lists
    /// `afterEpochs` epochs. Returns true when the process died by the signal (false: it ended first).
    static func kill(_ args: [String], out: URL, afterEpochs: Int, timeout: TimeInterval = 300) throws -> Bool {
        let run = try CLI.Running(args)
        let metrics = out.appendingPathComponent("metrics.json")
        let deadline = Date().addingTimeInterval(timeout)
        while run.process.isRunning {
            if let object = (try? Data(contentsOf: metrics))?.jsonObject as? [String: Any],
               let epochs = object["epochs"] as? [Any], epochs.count >= afterEpochs {
                run.kill()
                break
            }
            if Date() > deadline {
                run.kill()
                Issue.record("finetune did not finish \(afterEpochs) epoch(s) in \(Int(timeout)) s")
                break
            }
            usleep(2_000)
        }
        let r = run.wait()
        if !r.terminatedBySignal && r.status != 0 { Issue.record("interrupted run failed on its own: \(r)") }
        return r.terminatedBySignal
    }
}

enum Compare {
    /// model.h5 parameters bit for bit, class names, and metrics.json without the timings.
    static func runs(_ a: URL, _ b: URL, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let ma = try readNativeCheckpoint(path: a.appendingPathComponent("model.h5").path)
        let mb = try readNativeCheckpoint(path: b.appendingPathComponent("model.h5").path)
        #expect(ma.parameters.map(\.name) == mb.parameters.map(\.name), sourceLocation: sourceLocation)
        #expect(!ma.parameters.isEmpty, sourceLocation: sourceLocation)
        for (x, y) in zip(ma.parameters, mb.parameters) {
            #expect(x.value.shape == y.value.shape, "\(x.name)", sourceLocation: sourceLocation)
            let bx = x.value.scalars.map(\.bitPattern), by = y.value.scalars.map(\.bitPattern)
            let differing = zip(bx, by).filter { $0 != $1 }.count
            #expect(bx == by, "\(x.name): \(differing) of \(bx.count) values differ", sourceLocation: sourceLocation)
        }
        #expect(ma.attributes["class_names"] == mb.attributes["class_names"], sourceLocation: sourceLocation)
        func epochs(_ dir: URL) throws -> [[String: Double]] {
            let object = try Data(contentsOf: dir.appendingPathComponent("metrics.json")).jsonObject as? [String: Any]
            let rows = (object?["epochs"] as? [[String: Any]]) ?? []
            return rows.map { row in
                var r: [String: Double] = [:]
                for (k, v) in row where k != "seconds" { r[k] = (v as? NSNumber)?.doubleValue }
                return r
            }
        }
        let ea = try epochs(a), eb = try epochs(b)
        #expect(!ea.isEmpty, sourceLocation: sourceLocation)
        #expect(ea == eb, "metrics.json differs:\n\(ea)\n\(eb)", sourceLocation: sourceLocation)
    }
}
