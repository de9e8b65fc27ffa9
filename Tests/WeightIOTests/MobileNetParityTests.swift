import Foundation
import Testing
import TensorCore
import NN
@testable import Zoo
import WeightIO

// keras.applications MobileNet (alpha 0.25) and MobileNetV2 (alpha 0.35) at 64 px with 10 classes and
// random weights (scripts/make_fixtures_mobilenet.py): every file kind imports into the zoo model and
// reproduces Keras's probabilities.

enum MobileNetFixture {
    static func options(_ name: String, includeTop: Bool = true, pooling: HeadPooling? = nil) -> ZooOptions {
        ZooOptions(inputSize: 64, classCount: 10, widthMultiplier: name == "mobilenet" ? 0.25 : 0.35, pooling: pooling,
                   includeTop: includeTop)
    }
}

private func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Float {
    #expect(a.shape == b.shape)
    guard a.shape == b.shape else { return .infinity }
    return a.maxAbsDifference(b)
}

@Test(arguments: ["mobilenet", "mobilenetv2"].flatMap { m in ["_tfkeras.h5", "_tfkeras_full.h5", "_keras3.weights.h5"].map { (m, $0) } })
func mobileNetFilesReproduceKerasProbabilities(name: String, suffix: String) throws {
    let model = try Zoo.build(name, MobileNetFixture.options(name))
    let report = try model.importWeights(from: Fixture.path(name + suffix))
    #expect(report.loaded.count == model.namedParameters().count)
    let (x, want) = try loadIO(Fixture.path("\(name)_io.h5"))
    let got = infer(model, x)
    let d = maxAbsDifference(got, want)
    #expect(d <= 1e-4, "\(name)\(suffix): max |Δp| \(d)")
    // The two images' probabilities differ by more than the tolerance, so the check sees the input.
    let rows = want.scalars.count / 2
    let between = zip(want.scalars[..<rows], want.scalars[rows...]).map { abs($0 - $1) }.max() ?? 0
    #expect(between > 10 * 1e-4)
}

/// The full-model file's config matches the zoo model layer by layer (ReLU max_value, keepdims, reshape).
@Test(arguments: ["mobilenet", "mobilenetv2"])
func mobileNetFullModelConfigMatches(name: String) throws {
    let file = try readWeightFile(path: Fixture.path("\(name)_tfkeras_full.h5"))
    let config = try parseKerasModelConfig(try #require(file.modelConfigJSON))
    let model = try Zoo.build(name, MobileNetFixture.options(name))
    #expect(model.architectureDisagreement(config) == nil)
    #expect(config.layers.contains { $0.className == "ReLU" && $0.maxValue == 6 })
    // Keras numbers the unnamed pooling per session; a numbered one still matches, another layer does not.
    var numbered = config
    let gap = try #require(numbered.layers.firstIndex { $0.name == "global_average_pooling2d" })
    numbered.layers[gap].name = "global_average_pooling2d_3"
    #expect(model.architectureDisagreement(numbered) == nil)
    numbered.layers[gap].name = "pooling_3"
    #expect(model.architectureDisagreement(numbered)?.contains("pooling_3") == true)
    // A ReLU model of the same shapes is refused, naming the layer.
    let other = try Zoo.build(name, MobileNetFixture.options(name))
    let first = try #require(other.trunk.graph.nodes.first { ($0.layer as? ActivationKind)?.activation == .relu6 })
    other.trunk.replace(first.name, with: ReLU(), kind: ActivationKind(.relu))
    let problem = try #require(other.architectureDisagreement(config))
    #expect(problem.contains(first.name) && problem.contains("relu6"), "\(problem)")
    // Another class count differs in conv_preds and the reshape, which skipHead accepts.
    let ten = try Zoo.build(name, ZooOptions(inputSize: 64, classCount: 3, widthMultiplier: name == "mobilenet" ? 0.25 : 0.35))
    #expect(ten.architectureDisagreement(config) != nil)
    #expect(ten.architectureDisagreement(config, skipHead: true) == nil)
    // Training builds the head linear (logits): the file's softmax layer is part of the skipped head.
    var o = MobileNetFixture.options(name)
    o.classifierActivation = .linear
    let logits = try Zoo.build(name, o)
    #expect(logits.architectureDisagreement(config) != nil)
    #expect(logits.architectureDisagreement(config, skipHead: true) == nil)
}

/// include_top=False files load into the trunk: the feature map (and its pooled mean) match Keras's, and a
/// new head on top trains from there.
@Test(arguments: ["mobilenet", "mobilenetv2"])
func mobileNetNoTopFilesLoadIntoTheTrunk(name: String) throws {
    let root = try HDF5File.open(Fixture.path("\(name)_notop_io.h5")).root()
    let x = nhwcToNCHW(try root.dataset("input").readTensor())
    let features = nhwcToNCHW(try root.dataset("output").readTensor())
    let pooled = try root.dataset("pooled").readTensor()

    let trunk = try Zoo.build(name, MobileNetFixture.options(name, includeTop: false))
    try trunk.importWeights(from: Fixture.path("\(name)_notop_tfkeras.h5"))
    // Features reach 6 (ReLU6) after 17 blocks of float32 sums: compare relative to max(|f|, 1).
    let got = infer(trunk, x)
    #expect(got.shape == features.shape)
    let d = maxRelativeDifference(got, features, floor: 1)
    #expect(d <= 1e-4, "\(name) feature map: max |Δ| / max(|f|, 1) \(d)")

    let avg = try Zoo.build(name, MobileNetFixture.options(name, includeTop: false, pooling: .globalAverage))
    try avg.importWeights(from: Fixture.path("\(name)_notop_tfkeras.h5"))
    let p = infer(avg, x)
    #expect(p.shape == pooled.shape)
    #expect(maxRelativeDifference(p, pooled, floor: 1) <= 1e-4)

    // Transfer: the no-top file into a model with a fresh 3-class head (skipHead: nothing to skip).
    let transfer = try Zoo.build(name, ZooOptions(inputSize: 64, classCount: 3, widthMultiplier: name == "mobilenet" ? 0.25 : 0.35))
    let report = try transfer.importWeights(from: Fixture.path("\(name)_notop_tfkeras.h5"), options: .transfer)
    #expect(report.loaded.count == transfer.trunk.namedParameters().count)
    let y = infer(transfer, x)
    #expect(y.shape == [2, 3])
    #expect(y.scalars.allSatisfy { $0.isFinite && $0 > 0 })
    // The with-top file into the same model: the head is skipped, the trunk is the same.
    let fromTop = try Zoo.build(name, ZooOptions(inputSize: 64, classCount: 3, widthMultiplier: name == "mobilenet" ? 0.25 : 0.35))
    try fromTop.importWeights(from: Fixture.path("\(name)_tfkeras.h5"), options: .transfer)
    #expect(parameterBits(fromTop.trunk) == parameterBits(transfer.trunk))
}

/// The Keras-2 export writes the fixture's tensors bit for bit in Keras's layer order and re-imports
/// bit-exact; a native file keeps the width and the convolutional head.
@Test(arguments: ["mobilenet", "mobilenetv2"])
func mobileNetExportsRoundTrip(name: String) throws {
    let dir = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let fixture = Fixture.path("\(name)_tfkeras.h5")
    let options = MobileNetFixture.options(name)
    let model = try Zoo.build(name, options)
    try model.importWeights(from: fixture)
    let path = dir.appendingPathComponent("\(name)_export.h5").path
    try model.exportKeras2Weights(to: path)
    expectSameWeights(try readWeightFile(path: path).layers, try readWeightFile(path: fixture).layers)
    let keras = try HDF5File.open(fixture).root().chunkedStringArrayAttribute("layer_names") ?? []
    // Keras's layer order (its input is the automatically named `input_1`).
    #expect(Array(model.kerasLayerOrder.dropFirst()) == Array(keras.dropFirst()) && keras.count > 90)
    let again = try Zoo.build(name, options)
    try again.importWeights(from: path)
    #expect(parameterBits(again) == parameterBits(model))

    // Trained further (perturbed) and extended by 2 classes: the Keras-2 export re-imports into
    // keras.applications' layout for 12 classes.
    perturb(model, seed: 5)
    try model.extendHead(by: 2)
    let wide = dir.appendingPathComponent("\(name)_12.h5").path
    try model.exportKeras2Weights(to: wide)
    var o12 = options
    o12.classCount = 12
    let twelve = try Zoo.build(name, o12)
    try twelve.importWeights(from: wide)
    #expect(parameterBits(twelve) == parameterBits(model))

    let native = dir.appendingPathComponent("\(name).graft").path
    try saveNativeModel(model, options: options, classNames: (0..<12).map { "c\($0)" }, to: native)
    let (loaded, meta) = try loadNativeModel(path: native)
    #expect(meta.options.widthMultiplier == options.widthMultiplier && meta.options.classCount == 12)
    #expect(loaded.headPath == model.headPath && loaded.headLayerNames == model.headLayerNames)
    #expect(parameterBits(loaded) == parameterBits(model))
}

/// `finetune inspect` recognises both fixtures, width and class count included (MobileNetV2 rounds its
/// widths, so the first kernel's ratio is not alpha; MobileNet's classes are conv_preds's filters).
@Test(arguments: [("mobilenet", 0.25), ("mobilenetv2", 0.35)])
func mobileNetFilesAreRecognised(name: String, alpha: Double) throws {
    for suffix in ["_tfkeras.h5", "_keras3.weights.h5"] {
        let best = try #require(try inspectWeightFile(path: Fixture.path(name + suffix)).bestMatch)
        #expect(best.isExact && best.architecture == name, "\(name)\(suffix): \(best)")
        #expect(best.options.widthMultiplier == alpha && best.options.classCount == 10)
    }
    let notop = try #require(try inspectWeightFile(path: Fixture.path("\(name)_notop_tfkeras.h5")).bestMatch)
    #expect(notop.isExact && notop.architecture == name && notop.options.includeTop == false)
}

/// The same weights at 67 px, where every side is odd: Keras's stride-2 'same' pads (1, 1), MobileNet's
/// conv_pad (0, 1) meets odd sides, and MobileNetV2's correct_pad switches to (1, 1).
@Test(arguments: ["mobilenet", "mobilenetv2"])
func mobileNetOddInputSizesMatchKeras(name: String) throws {
    var o = MobileNetFixture.options(name)
    o.inputSize = 67
    let model = try Zoo.build(name, o)
    try model.importWeights(from: Fixture.path("\(name)_tfkeras.h5"))
    let (x, want) = try loadIO(Fixture.path("\(name)_67_io.h5"))
    let d = maxAbsDifference(infer(model, x), want)
    #expect(d <= 1e-4, "\(name) at 67 px: max |Δp| \(d)")
}
