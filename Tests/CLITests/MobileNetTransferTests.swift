import Foundation
import Testing
import NN
import TensorCore
import Training
import WeightIO
import Zoo

/// `finetune --base mobilenet[v2] --width A --weights KERAS_NO_TOP.h5 --data DIR` starts from
/// recipes/mobilenet[v2]-transfer.yaml: trunk from the file, a new global-average + Dense head for the
/// folder's classes, the trunk untouched while it is frozen (phase 1 on cached features) and its top
/// blocks trained from the recipe's unfreeze epoch (6) on.
@Suite struct MobileNetTransferTests {
    static let fixtures = CLI.packageRoot.appendingPathComponent("Tests/WeightIOTests/Fixtures")

    @Test(arguments: [("mobilenet", 0.25, "conv_dw_11"), ("mobilenetv2", 0.35, "block_11_expand")])
    func noTopFileTrainsWithTheTransferRecipe(name: String, width: Double, unfreeze: String) throws {
        let tmp = try TempDir("graft-mobilenet-transfer")
        let data = try TinyData.mnist(tmp.path("data"), classes: ["3", "5", "7"], train: 3, val: 2)
        let file = Self.fixtures.appendingPathComponent("\(name)_notop_tfkeras.h5").path
        let out = tmp.path("run")
        // 64 px and 6 epochs (5 frozen on cached features, 1 with the top blocks) keep it fast; everything
        // else comes from the default recipe.
        let r = try CLI.succeed(["train", "--base", name, "--width", String(width), "--weights", file, "--data", data.path,
                                 "--input-size", "64", "--epochs", "6", "--threads", "1", "--out", out.path])
        let recipe = try String(contentsOf: out.appendingPathComponent("recipe.yaml"), encoding: .utf8)
        #expect(recipe.contains("6:\(unfreeze)") && recipe.contains("preprocess: tf") && recipe.contains("optimizer: adam"), "\(recipe)\n\(r)")

        let (model, _) = try loadNativeModel(path: out.appendingPathComponent("model.h5").path)
        #expect(model.classCount == 3)
        // Head: global average pooling, then one Dense of (3, trunk channels); MobileNet (v1) keeps Keras's
        // form of it, a 1x1 convolution conv_preds on the pooled [C, 1, 1] (so exports match Keras's model).
        let channels = try model.trunk.outputShape(for: [1] + model.inputShape)[1]
        let head = model.head.namedParameters().map { ($0.0, $0.1.value.shape) }
        let kernel = name == "mobilenet" ? [3, channels, 1, 1] : [3, channels]
        #expect(head.count == 2 && head.contains { $0.1 == kernel } && head.contains { $0.1 == [3] }, "\(head)")
        #expect(model.head.nodes.contains { $0.module is Dense || $0.module is Conv2D }
                && model.head.nodes.contains { $0.node.layer is GlobalPool2DKind }, "\(model.head.nodes.map(\.node.name))")

        // Below the unfrozen blocks the trunk (BatchNorm statistics included) is exactly the file's; the
        // unfrozen blocks trained in epoch 6.
        let reference = try Zoo.build(name, ZooOptions(inputSize: 64, classCount: 3, widthMultiplier: width, includeTop: false))
        try reference.importWeights(from: file)
        let want = Dictionary(uniqueKeysWithValues: reference.trunk.namedParameters().map { ($0.0, $0.1.value.scalars) })
        let got = model.trunk.namedParameters()
        #expect(got.count == want.count && !got.isEmpty)
        let top = try #require(got.firstIndex { $0.0.hasPrefix(unfreeze + ".") })
        for (path, p) in got[..<top] { #expect(p.value.scalars == want[path], "\(name): frozen \(path) changed or missing") }
        #expect(got[top...].contains { $0.1.value.scalars != want[$0.0] }, "\(name): the unfrozen blocks did not train")
    }
}
