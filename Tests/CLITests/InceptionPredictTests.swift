import Foundation
import Testing
import TensorCore
import Zoo
import WeightIO

/// `finetune predict --base inceptionv3` on a Keras 2 weights file numbered as Keras 2.0-2.2 numbered
/// InceptionV3's auto-named layers (`conv2d_1`...`conv2d_94`, `batch_normalization_1`...): the importer
/// matches them by order, so it predicts what the same weights under the model's own names predict.
/// The files are written here (full-width InceptionV3 is 87 MB even at 75 px, too big to commit).
@Suite struct InceptionPredictTests {
    @Test func predictsFromAKeras2FileWithOtherLayerNumbering() throws {
        let tmp = try TempDir("graft-inception")
        let model = try Zoo.build("inceptionv3", ZooOptions(inputSize: 75, classCount: 3, seed: 5))
        // A small head keeps the softmax away from one-hot, so a wrong layer shows in the probabilities.
        let head = try #require(model.parameter(at: "predictions.weight"))
        head.value = head.value.map { $0 * 0.05 }
        let own = try model.kerasLayerWeights()
        let renumbered = own.map { layer -> LayerWeights in
            var l = layer
            for prefix in ["conv2d", "batch_normalization"] where l.name == prefix || l.name.hasPrefix(prefix + "_") {
                let k = l.name == prefix ? 0 : Int(l.name.dropFirst(prefix.count + 1)) ?? -1
                if k >= 0 { l.name = "\(prefix)_\(k + 1)" }
            }
            return l
        }
        #expect(renumbered.contains { $0.name == "conv2d_94" } && !renumbered.contains { $0.name == "conv2d" })
        let ownPath = tmp.path("own.h5").path, oldPath = tmp.path("keras2.h5").path
        try writeKeras2Weights(path: ownPath, layers: own)
        try writeKeras2Weights(path: oldPath, layers: renumbered)

        let data = try TinyData.mnist(tmp.path("data"), classes: ["3"], train: 0, val: 1)
        let image = try TinyData.anyImage(data, class: "3")
        func predict(_ weights: String) throws -> [Double] {
            let r = try CLI.succeed(["predict", "--base", "inceptionv3", "--weights", weights, "--classes", "3",
                                     "--input-size", "75", "--preprocess", "none", "--json", image.path])
            return try #require((r.stdout.jsonObject as? [[String: Any]])?.first?["probabilities"] as? [Double], "\(r)")
        }
        let expected = try predict(ownPath), got = try predict(oldPath)
        #expect(got.count == 3 && abs(got.reduce(0, +) - 1) < 1e-4)
        #expect(expected.max()! < 0.99, "degenerate check: \(expected)")
        #expect(zip(got, expected).allSatisfy { abs($0 - $1) < 1e-6 }, "\(got) vs \(expected)")
    }
}
