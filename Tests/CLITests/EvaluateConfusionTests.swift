import Foundation
import NN
import TensorCore
import Testing
import WeightIO
import Zoo

/// `finetune evaluate --json` on a model whose predictions are known: the classifier weights are
/// zero and one bias is huge, so every image is predicted as that class.
@Suite struct EvaluateConfusionTests {
    /// A LeNet-5 for 28x28 gray input that always predicts class `winner`, saved with `classNames`.
    static func constantModel(classNames: [String], winner: Int, to file: URL) throws {
        let model = try Zoo.entry(named: "lenet5").build(ZooOptions(inputSize: 28, classCount: classNames.count))
        let headPath = try #require(model.headPath)
        let head = try #require(model.head[headPath] as? Dense)
        head.weight.value = Tensor(zeros: head.weight.value.shape)
        var bias = [Float](repeating: -20, count: classNames.count)
        bias[winner] = 20
        try #require(head.bias).value = Tensor(shape: [classNames.count], scalars: bias)
        try saveNativeModel(model, options: ZooOptions(inputSize: 28, classCount: classNames.count), classNames: classNames,
                            to: file.path)
    }

    /// Folders `alpha` (3 images) and `zeta` (2 images) under val/.
    static func data(_ tmp: TempDir) throws -> URL {
        let root = try TinyData.mnist(tmp.path("data"), classes: ["4", "9"], train: 0, val: 3)
        let val = root.appendingPathComponent("val")
        try FileManager.default.moveItem(at: val.appendingPathComponent("4"), to: val.appendingPathComponent("alpha"))
        try FileManager.default.moveItem(at: val.appendingPathComponent("9"), to: val.appendingPathComponent("zeta"))
        let zeta = val.appendingPathComponent("zeta")
        let extra = try FileManager.default.contentsOfDirectory(atPath: zeta.path).sorted().last!
        try FileManager.default.removeItem(at: zeta.appendingPathComponent(extra))
        return root
    }

    static func evaluate(_ model: URL, _ data: URL, topK: Int = 5) throws -> [String: Any] {
        let r = try CLI.succeed(["evaluate", "--model", model.path, "--data", data.path, "--json", "--top-k", "\(topK)"])
        return try #require(r.stdout.jsonObject as? [String: Any], "\(r)")
    }

    static func perClass(_ s: [String: Any]) -> [String: [String: Double]] {
        var out: [String: [String: Double]] = [:]
        for c in (s["per_class"] as? [[String: Any]]) ?? [] {
            guard let name = c["name"] as? String else { continue }
            var m: [String: Double] = [:]
            for k in ["precision", "recall", "f1", "support"] { m[k] = (c[k] as? NSNumber)?.doubleValue }
            out[name] = m
        }
        return out
    }

    /// Same keys, values within 1e-12.
    static func close(_ a: [String: Double]?, _ b: [String: Double]) -> Bool {
        guard let a, Set(a.keys) == Set(b.keys) else { return false }
        return b.allSatisfy { k, v in abs(a[k]! - v) < 1e-12 }
    }

    @Test func everythingPredictedAsTheFirstClass() throws {
        let tmp = try TempDir()
        let data = try Self.data(tmp)
        let model = tmp.path("always-alpha.h5")
        try Self.constantModel(classNames: ["alpha", "zeta"], winner: 0, to: model)
        let s = try Self.evaluate(model, data, topK: 1)
        #expect(s["confusion_matrix"] as? [[Int]] == [[3, 0], [2, 0]])
        #expect(s["count"] as? Int == 5)
        #expect(s["accuracy"] as? Double == 0.6)
        #expect(s["top_k"] as? Int == 1)
        #expect(s["top_k_accuracy"] as? Double == 0.6)
        let pc = Self.perClass(s)
        #expect(Self.close(pc["alpha"], ["precision": 0.6, "recall": 1, "f1": 0.75, "support": 3]), "\(pc)")
        #expect(pc["zeta"] == ["precision": 0, "recall": 0, "f1": 0, "support": 2])
        #expect(abs((s["macro_f1"] as? Double ?? -1) - 0.375) < 1e-12)
    }

    /// Model class order differs from the sorted folder order: rows and columns follow the model.
    @Test func confusionMatrixFollowsTheModelsClassOrder() throws {
        let tmp = try TempDir()
        let data = try Self.data(tmp)
        let model = tmp.path("always-zeta.h5")
        try Self.constantModel(classNames: ["zeta", "alpha"], winner: 0, to: model)
        let s = try Self.evaluate(model, data)
        #expect(s["class_names"] as? [String] == ["zeta", "alpha"])
        #expect(s["confusion_matrix"] as? [[Int]] == [[2, 0], [3, 0]])
        #expect(s["accuracy"] as? Double == 0.4)
        #expect(s["top_k"] as? Int == 2)
        #expect(s["top_k_accuracy"] as? Double == 1)
        let pc = Self.perClass(s)
        #expect(Self.close(pc["zeta"], ["precision": 0.4, "recall": 1, "f1": 4.0 / 7, "support": 2]), "\(pc)")
        #expect(pc["alpha"] == ["precision": 0, "recall": 0, "f1": 0, "support": 3])

        // The text form shows the same matrix.
        let text = try CLI.succeed(["evaluate", "--model", model.path, "--data", data.path])
        #expect(text.stdout.contains("accuracy 0.4000"), "\(text)")
        #expect(text.stdout.contains("confusion matrix"), "\(text)")
    }

    @Test func evaluateRejectsAFolderWithAnUnknownClass() throws {
        let tmp = try TempDir()
        let data = try Self.data(tmp)
        let model = tmp.path("m.h5")
        try Self.constantModel(classNames: ["alpha", "beta"], winner: 0, to: model)
        try ErrorTests.fails(["evaluate", "--model", model.path, "--data", data.path, "--json"], naming: ["'zeta'"])
    }
}
