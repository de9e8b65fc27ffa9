import Foundation
import NN
import TensorCore
import Testing
@testable import Training
import WeightIO
import Zoo

/// `--extend`: a trained model gains classes; the old classes keep their rows (old logits
/// bit-identical before training), come first in the class order, and the run reports old-class
/// validation accuracy before and after.
@Suite struct ExtendTests {
    /// Old classes "3" and "5"; the extension adds "1", which sorts first, so old-first order is visible.
    static let oldClasses = ["3", "5"]

    static func trainOldModel(_ tmp: TempDir) throws -> (model: URL, oldData: URL) {
        let oldData = try TinyData.mnist(tmp.path("old-data"), classes: oldClasses, train: 8, val: 4)
        let out = tmp.path("old-run")
        try CLI.succeed(CLI.lenet(data: oldData, out: out, epochs: 3, extra: ["--optimizer", "adam", "--lr", "0.005"]))
        return (out.appendingPathComponent("model.h5"), oldData)
    }

    static func input(_ n: Int) -> Tensor {
        Tensor(shape: [n, 1, 28, 28], scalars: (0..<(n * 28 * 28)).map { Float(($0 * 7919) % 256) / 255 })
    }

    static func logits(_ model: ZooModel, _ x: Tensor) -> Tensor {
        model.setTraining(false)
        return withoutGradients { model(Var(x)).value }
    }

    @Test func extendHeadKeepsOldLogitsBitExactly() throws {
        let tmp = try TempDir()
        let (modelFile, _) = try Self.trainOldModel(tmp)
        let (model, meta) = try loadNativeModel(path: modelFile.path)
        #expect(meta.classNames == Self.oldClasses)
        ModelSetup.setLogitOutput(model)
        #expect(model.outputIsLogits)
        let x = Self.input(5)
        // The first call of each convolution geometry may run another kernel than later calls (auto-tuning
        // in TensorCore): warm up, so that the trunk computes the same features before and after.
        _ = Self.logits(model, x)
        let features = withoutGradients { model.trunk(Var(x)).value }
        let headBefore = withoutGradients { model.head(Var(features)).value }
        let before = Self.logits(model, x)
        #expect(before.shape == [5, 2])
        try model.extendHead(by: 1)
        #expect(model.classCount == 3)
        let after = Self.logits(model, x)
        #expect(after.shape == [5, 3])
        var same = true
        for i in 0..<5 {
            for c in 0..<2 where before[flat: i * 2 + c].bitPattern != after[flat: i * 3 + c].bitPattern { same = false }
        }
        #expect(same, "old logits changed: \(before.scalars) vs \(after.scalars)")
        // The head alone, on the same features: the old columns are bit-identical.
        let headAfter = withoutGradients { model.head(Var(features)).value }
        #expect(headAfter.shape == [5, 3])
        let oldColumns = (0..<5).flatMap { i in (0..<2).map { headAfter[flat: i * 3 + $0].bitPattern } }
        #expect(oldColumns == headBefore.scalars.map(\.bitPattern))
        // Not vacuous: the logits are not all equal, and the new class column is a real output.
        #expect(Set(before.scalars).count > 1)
        #expect((0..<5).allSatisfy { after[flat: $0 * 3 + 2].isFinite })
    }

    @Test func extendRunAddsTheNewClassAfterTheOldOnesAndReportsOldClassAccuracy() throws {
        let tmp = try TempDir()
        let (modelFile, oldData) = try Self.trainOldModel(tmp)
        let newData = try TinyData.mnist(tmp.path("new-data"), classes: Self.oldClasses + ["1"], train: 8, val: 4)

        // What the old model scores on the old classes' validation images.
        let evaluateOld = try CLI.succeed(["evaluate", "--model", modelFile.path, "--data", oldData.path, "--json"])
        let oldAccuracy = try #require((evaluateOld.stdout.jsonObject as? [String: Any])?["accuracy"] as? Double)

        let out = tmp.path("extended")
        let r = try CLI.succeed(["--extend", modelFile.path, "--data", newData.path, "--out", out.path, "--epochs", "2",
                                 "--batch-size", "4", "--lr", "0.01", "--seed", "3", "--threads", "1", "--plain"])
        #expect(r.stdout.contains("head extended 2 -> 3 classes"), "\(r)")
        #expect(r.stdout.contains("3 classes (3, 5, 1)"), "\(r)")
        let line = try #require(r.stdout.split(separator: "\n").first { $0.hasPrefix("extend  old-class validation accuracy:") },
                                "no old-class accuracy line: \(r)")
        let numbers = line.split(whereSeparator: { " ,".contains($0) }).compactMap { Double($0) }
        #expect(numbers.count == 2, "\(line)")
        let before = try #require(numbers.first), after = try #require(numbers.last)
        #expect((0...1).contains(before) && (0...1).contains(after))
        // "before" is exactly the old model's accuracy: its old logits are unchanged by the extension.
        #expect(abs(before - oldAccuracy) < 0.00005, "\(line) vs evaluate \(oldAccuracy)")

        // The saved model: 3 classes, old first; evaluate and predict use that order.
        let saved = try readNativeCheckpoint(path: out.appendingPathComponent("model.h5").path)
        let names = try JSONDecoder().decode([String].self, from: Data((saved.attributes["class_names"] ?? "").utf8))
        #expect(names == ["3", "5", "1"])
        // The resolved recipe names the extended model's architecture (not the default 'resnet18').
        let recipe = try Recipe.load(contentsOf: out.appendingPathComponent("recipe.yaml"))
        #expect(recipe.model == "lenet5")
        #expect(recipe.extend == modelFile.path)
        #expect(saved["predictions.weight"]?.shape == [3, 16])
        let evaluate = try CLI.succeed(["evaluate", "--model", out.appendingPathComponent("model.h5").path,
                                        "--data", newData.path, "--json"])
        let summary = try #require(evaluate.stdout.jsonObject as? [String: Any])
        #expect(summary["class_names"] as? [String] == ["3", "5", "1"])
        #expect((summary["confusion_matrix"] as? [[Int]])?.map { $0.reduce(0, +) } == [4, 4, 4])
        let predict = try CLI.succeed(["predict", "--model", out.appendingPathComponent("model.h5").path, "--json",
                                       try TinyData.anyImage(newData, class: "1").path])
        let p = try #require((predict.stdout.jsonObject as? [[String: Any]])?.first)
        #expect((p["probabilities"] as? [Double])?.count == 3)
    }

    @Test func extendRefusesDataWithoutANewClassOrMissingAnOldOne() throws {
        let tmp = try TempDir()
        let (modelFile, oldData) = try Self.trainOldModel(tmp)
        let out = tmp.path("extended")
        try ErrorTests.fails(["--extend", modelFile.path, "--data", oldData.path, "--out", out.path, "--epochs", "1"],
                             naming: ["no class the model does not already know"], out: out)
        let other = try TinyData.mnist(tmp.path("other"), classes: ["3", "7"], train: 2, val: 1)
        try ErrorTests.fails(["--extend", modelFile.path, "--data", other.path, "--out", out.path, "--epochs", "1"],
                             naming: ["lacks the model's classes 5"], out: out)
    }
}

/// recipes/extend-2to3-step1.yaml + recipes/extend-2to3.yaml: digits 7 and 8, then 9 added, picked
/// from the shipped data/mnist5k by class_names.
@Suite struct ExtendRecipeTests {
    static let root = CLI.packageRoot

    @Test func recipePairParsesAndChains() throws {
        let step1 = try Recipe.load(contentsOf: Self.root.appendingPathComponent("recipes/extend-2to3-step1.yaml"))
        let step2 = try Recipe.load(contentsOf: Self.root.appendingPathComponent("recipes/extend-2to3.yaml"))
        #expect(step1.model == "vgg")
        #expect(step1.data == "data/mnist5k" && step2.data == step1.data)
        #expect(step1.classNames == ["7", "8"])
        #expect(step2.classNames == ["7", "8", "9"])
        #expect(step1.out == "runs/extend-2class")
        #expect(step1.extend == nil)
        #expect(step2.extend == step1.out + "/model.h5")
        #expect(step2.out != step1.out)
    }

    @Test func classNamesPickFoldersInTheirOrder() throws {
        let mnist = Self.root.appendingPathComponent("data/mnist5k").path
        let two = try RunData.load(mnist, validationFraction: 0.2, seed: 0, selecting: ["8", "7"], warn: { _ in })
        let all = try RunData.load(mnist, validationFraction: 0.2, seed: 0, warn: { _ in })
        #expect(two.train.classNames == ["8", "7"])
        #expect(two.validation?.classNames == ["8", "7"])
        #expect(all.train.classNames.count == 10)
        #expect(two.train.classCounts == [all.train.classCounts[8], all.train.classCounts[7]])
        #expect(two.validation?.classCounts == [all.validation?.classCounts[8], all.validation?.classCounts[7]].compactMap { $0 })
        #expect(Set(two.train.samples.map { $0.file.deletingLastPathComponent().lastPathComponent }) == ["7", "8"])
        #expect(throws: (any Error).self) {
            try RunData.load(mnist, validationFraction: 0.2, seed: 0, selecting: ["7", "eleven"], warn: { _ in })
        }
    }

    /// The pair's flow on a stand-in model (the shipped VGG trunk is not needed): step 1 on
    /// digits 7 and 8, step 2 extends its model.h5 with '9'.
    @Test func recipePairRunsWithAStandInModel() throws {
        let tmp = try TempDir()
        let out1 = tmp.path("extend-2class"), out2 = tmp.path("extend-2to3")
        let small = ["--epochs", "1", "--threads", "1", "--plain", "--set", "unfreeze_at=[]"]
        let r1 = try CLI.succeed(["--recipe", "recipes/extend-2to3-step1.yaml", "--base", "lenet5", "--weights", "none",
                                  "--input-size", "32", "--out", out1.path] + small)
        #expect(r1.stdout.contains("2 classes (7, 8)"), "\(r1)")
        let r2 = try CLI.succeed(["--recipe", "recipes/extend-2to3.yaml", "--extend", out1.appendingPathComponent("model.h5").path,
                                  "--out", out2.path] + small)
        #expect(r2.stdout.contains("3 classes (7, 8, 9)"), "\(r2)")
        #expect(r2.stdout.contains("extend  old-class validation accuracy: before "), "\(r2)")
    }
}
