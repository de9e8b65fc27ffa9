import Foundation
import Testing
import WeightIO

/// `early_stopping` and `keep_best` survive kill-and-resume: min_delta 100 makes epoch 1 the best
/// for good, so a 6-epoch run stops after epoch 3 (patience 2) and model.h5 holds epoch 1's weights.
@Suite struct EarlyStoppingResumeTests {
    static let settings = ["--set", "early_stopping={monitor: val_loss, patience: 2, min_delta: 100}", "--set", "keep_best=true",
                           "--freeze", "none", "--optimizer", "adam", "--lr", "0.003"] + CLI.fixedConvPath

    @Test func earlyStoppedKeepBestRunKilledAfterAnEpochResumesBitExactly() throws {
        let tmp = try TempDir()
        let data = try TinyData.mnist(tmp.path("data"), classes: ["0", "1", "2"], train: ResumeTests.trainPerClass, val: 3)
        let outA = tmp.path("straight")
        let straight = try CLI.succeed(CLI.lenet(data: data, out: outA, epochs: 6, extra: Self.settings))
        #expect(straight.stdout.contains("early stopping after epoch 3"), "\(straight)")
        #expect(straight.stdout.contains("done    3 epochs"), "\(straight)")
        #expect(straight.stdout.contains("best    epoch 1 by val_loss; model.h5 holds its weights"), "\(straight)")

        // model.h5 is epoch 1 (best.h5), not the last epoch (the checkpoint's model).
        let model = try readNativeCheckpoint(path: outA.appendingPathComponent("model.h5").path)
        let best = try readNativeCheckpoint(path: outA.appendingPathComponent("best.h5").path)
        let last = try readNativeCheckpoint(path: outA.appendingPathComponent("checkpoint.h5").path)
        #expect(model.attributes["best_epoch"] == "1")
        let bits = { (f: NativeCheckpoint, name: String) in f[name]?.scalars.map(\.bitPattern) }
        let w = try #require(model.parameters.first?.name)
        #expect(bits(model, w) == bits(best, w))
        #expect(bits(model, w) != bits(last, "model:" + w), "the last epoch differs from the best")

        let recipe = try recipeText(outA)
        #expect(recipe.contains("early_stopping:") && recipe.contains("keep_best: true"), "\(recipe)")

        let killed = try Interrupt.killedRun(in: tmp, afterEpochs: 1) { CLI.lenet(data: data, out: $0, epochs: 6, extra: Self.settings) }
        let resumed = try CLI.succeed(["--resume", killed.path, "--plain"] + CLI.fixedConvPath)
        #expect(resumed.stdout.contains("resume  ") && resumed.stdout.contains("done    3 epochs"), "\(resumed)")
        try Compare.runs(outA, killed)
    }

    private func recipeText(_ out: URL) throws -> String {
        try String(contentsOf: out.appendingPathComponent("recipe.yaml"), encoding: .utf8)
    }
}
