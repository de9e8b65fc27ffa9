import Foundation
import TensorCore
import NN
import Zoo
import Testing
@testable import WeightIO

// MARK: Keras parity: every fixture kind, imported into the matching zoo model, reproduces Keras's output.

@Test(arguments: [
    ("lenet5", "lenet5_tfkeras.h5", WeightFileFormat.keras2Weights),
    ("lenet5", "lenet5_tfkeras_full.h5", .keras2FullModel),
    ("lenet5", "lenet5_keras3.weights.h5", .keras3Weights),
    ("lenet5", "lenet5_caffe.h5", .caffe),
    ("lenet5", "lenet5_keras1.h5", .keras2Weights),
    ("lenet5", "lenet5_split_names.h5", .keras2Weights),
    ("vgg_small", "vgg_small_tfkeras.h5", .keras2Weights),
    ("alexnet_small", "alexnet_small_tfkeras.h5", .keras2Weights),
    ("resnet18_small", "resnet18_small_tfkeras.h5", .keras2Weights),
    ("resnet18_small", "resnet18_small_keras3.weights.h5", .keras3Weights),
])
func importedModelMatchesKeras(model name: String, file: String, format: WeightFileFormat) throws {
    let model = try FixtureModels.build(name)
    let io = try loadIO(Fixture.zooPath("\(name)_io.h5"))
    let before = infer(model, io.input)
    let report = try model.importWeights(from: Fixture.path(file))
    #expect(report.format == format)
    #expect(report.loaded.count == model.namedParameters().count)
    #expect(report.skipped.isEmpty && report.ignored.isEmpty)
    let y = infer(model, io.input)
    #expect(y.shape == io.output.shape)
    let diff = maxRelativeDifference(y, io.output)
    #expect(diff < 1e-4, "\(file): max relative difference \(diff)")
    #expect(maxRelativeDifference(before, io.output) > 1e-2, "the randomly initialised model must not already agree")
}

/// The trunk of a nested sub-model (`vgg_small_trunk/block1_conv1/...`) lands on the flat trunk layers.
@Test func nestedTrunkImportMatchesKeras() throws {
    let model = try FixtureModels.build("vgg_small_nested")
    let io = try loadIO(Fixture.path("vgg_small_nested_io.h5"))
    let report = try model.importWeights(from: Fixture.path("vgg_small_nested.h5"))
    #expect(report.loaded.count == 18)
    let diff = maxRelativeDifference(infer(model, io.input), io.output)
    #expect(diff < 1e-4, "max relative difference \(diff)")
}

/// All fixture files of one model hold the same weights, so every format imports to the same bits.
@Test func everyLeNetFormatImportsTheSameBits() throws {
    let reference = try FixtureModels.build("lenet5")
    try reference.importWeights(from: Fixture.path("lenet5_tfkeras.h5"))
    for file in ["lenet5_tfkeras_full.h5", "lenet5_keras3.weights.h5", "lenet5_caffe.h5", "lenet5_keras1.h5", "lenet5_split_names.h5"] {
        let m = try FixtureModels.build("lenet5", seed: 5)
        try m.importWeights(from: Fixture.path(file))
        #expect(parameterBits(m) == parameterBits(reference), "\(file)")
    }
}

// MARK: full-model architecture check

@Test func fullModelFileReportsItsArchitecture() throws {
    let model = try FixtureModels.build("lenet5")
    let report = try model.importWeights(from: Fixture.path("lenet5_tfkeras_full.h5"))
    let config = try #require(report.architecture)
    #expect(config.layers.map(\.name) == ["input", "conv1", "pool1", "conv2", "pool2", "flatten", "fc1", "fc2", "predictions"])
    let conv1 = try #require(config.layer("conv1"))
    #expect(conv1.className == "Conv2D" && conv1.activation == "tanh" && conv1.padding == "same")
    #expect(conv1.kernelSize == [5, 5] && conv1.strides == [1, 1] && conv1.filters == 6)
    #expect(config.layer("pool1")?.className == "AveragePooling2D")
    #expect(config.inputShape == [28, 28, 1])
}

@Test func fullModelFileWithAnotherArchitectureIsRefused() throws {
    let path = Fixture.path("lenet5_tfkeras_full.h5")
    // Same tensor shapes, other activation: the weights alone would load.
    let relu = try Zoo.build("lenet5", ZooOptions(inputSize: 28, activation: .relu))
    let before = parameterBits(relu)
    let e1 = try #require(throws: WeightImportError.self) { try relu.importWeights(from: path) }
    #expect(e1.kind == .architectureMismatch)
    #expect(e1.description.contains("'conv1'") && e1.description.contains("tanh") && e1.description.contains("relu"))
    #expect(e1.description.contains("lenet5_tfkeras_full.h5"))
    #expect(parameterBits(relu) == before)
    // Max pooling instead of average.
    let maxPool = try Zoo.build("lenet5", ZooOptions(inputSize: 28, subsampling: .max))
    let e2 = try #require(throws: WeightImportError.self) { try maxPool.importWeights(from: path) }
    #expect(e2.description.contains("'pool1'") && e2.description.contains("AveragePooling2D") && e2.description.contains("MaxPooling2D"))
    // 32x32 LeNet: conv1 is 'valid' there.
    let at32 = try Zoo.build("lenet5", ZooOptions(inputSize: 32))
    let e3 = try #require(throws: WeightImportError.self) { try at32.importWeights(from: path) }
    #expect(e3.description.contains("'conv1'") && e3.description.contains("padding"))
    // The check can be turned off explicitly.
    #expect(try at32.importWeights(from: path, options: ImportOptions(checkArchitecture: false)).loaded.count == 10)
}

// MARK: exact error cases

/// LeNet-5 tensors in Keras layout, as `writeKeras2Weights` takes them.
func lenetKerasLayers() throws -> [LayerWeights] {
    let m = try FixtureModels.build("lenet5")
    try m.importWeights(from: Fixture.path("lenet5_tfkeras.h5"))
    return try m.kerasLayerWeights()
}

@Test func missingAndUnexpectedTensorsAreListed() throws {
    let dir = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    var layers = try lenetKerasLayers()
    layers.removeAll { $0.name == "fc2" }
    layers.append(LayerWeights(name: "extra", tensors: [NamedTensor(name: "kernel", value: Tensor(zeros: [3, 2]))]))
    let path = dir.appendingPathComponent("broken.h5").path
    try writeKeras2Weights(path: path, layers: layers)

    let model = try FixtureModels.build("lenet5")
    let before = parameterBits(model)
    let e = try #require(throws: WeightImportError.self) { try model.importWeights(from: path) }
    #expect(e.kind == .incompatibleWeights)
    #expect(e.missingPaths == ["fc2.weight", "fc2.bias"])
    #expect(e.missing.map(\.fileName) == ["fc2/kernel", "fc2/bias"])
    #expect(e.missing.map(\.expectedShape) == [[120, 84], [84]])
    #expect(e.unexpectedNames == ["extra/kernel"])
    #expect(e.unexpected.first?.shape == [3, 2])
    #expect(e.shapeMismatches.isEmpty)
    #expect(e.description.contains("broken.h5") && e.description.contains("fc2.weight") && e.description.contains("extra/kernel"))
    #expect(parameterBits(model) == before, "a failed import must not change the model")

    // allowUnexpected ignores the extra tensor, but missing ones still fail.
    let e2 = try #require(throws: WeightImportError.self) {
        try model.importWeights(from: path, options: ImportOptions(allowUnexpected: true))
    }
    #expect(e2.unexpected.isEmpty && e2.missingPaths == ["fc2.weight", "fc2.bias"])
    // Skipping fc2 explicitly and allowing the extra: loads, and says so.
    let report = try model.importWeights(from: path, options: ImportOptions(allowUnexpected: true, skip: { $0.hasPrefix("fc2.") }))
    #expect(report.skipped == ["fc2.weight", "fc2.bias"] && report.ignored == ["extra/kernel"])
    #expect(parameterBits(model)["fc2.weight"] == before["fc2.weight"])
    #expect(parameterBits(model)["fc1.weight"] != before["fc1.weight"])
}

@Test func shapeMismatchNamesPathAndBothShapes() throws {
    let model = try Zoo.build("lenet5", ZooOptions(inputSize: 28, classCount: 5))
    let before = parameterBits(model)
    let e = try #require(throws: WeightImportError.self) { try model.importWeights(from: Fixture.path("lenet5_tfkeras.h5")) }
    #expect(e.kind == .incompatibleWeights)
    #expect(e.shapeMismatches == [
        .init(path: "predictions.weight", fileName: "predictions/kernel", expected: [84, 5], found: [84, 10]),
        .init(path: "predictions.bias", fileName: "predictions/bias", expected: [5], found: [10]),
    ])
    #expect(e.missing.isEmpty && e.unexpected.isEmpty)
    let text = e.description
    #expect(text.contains("lenet5_tfkeras.h5") && text.contains("predictions.weight") && text.contains("[84, 5]") && text.contains("[84, 10]"))
    #expect(text.contains("skipHead"))
    // Every other tensor was fine, yet nothing was assigned.
    #expect(parameterBits(model) == before)
}

@Test func skipHeadImportsIntoANewClassCount() throws {
    let model = try Zoo.build("lenet5", ZooOptions(inputSize: 28, classCount: 5))
    let before = parameterBits(model)
    let report = try model.importWeights(from: Fixture.path("lenet5_tfkeras.h5"), options: ImportOptions(skipHead: true))
    #expect(report.skipped == ["predictions.weight", "predictions.bias"])
    #expect(report.ignored.sorted() == ["predictions/bias", "predictions/kernel"])
    #expect(report.loaded.count == 8)
    let after = parameterBits(model)
    #expect(after["predictions.weight"] == before["predictions.weight"])
    #expect(after["predictions.bias"] == before["predictions.bias"])
    // The trunk and hidden layers are the fixture's.
    let reference = try FixtureModels.build("lenet5")
    try reference.importWeights(from: Fixture.path("lenet5_tfkeras.h5"))
    let ref = parameterBits(reference)
    for path in ["conv1.weight", "conv2.bias", "fc1.weight", "fc2.weight"] { #expect(after[path] == ref[path], "\(path)") }
    #expect(try model.outputShape(for: [2, 1, 28, 28]) == [2, 5])
}

@Test func notopFileNeedsSkipHead() throws {
    let dir = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("lenet_notop.h5").path
    try writeKeras2Weights(path: path, layers: try lenetKerasLayers().filter { $0.name != "predictions" })
    let model = try FixtureModels.build("lenet5")
    let e = try #require(throws: WeightImportError.self) { try model.importWeights(from: path) }
    #expect(e.missingPaths == ["predictions.weight", "predictions.bias"] && e.description.contains("skipHead"))
    #expect(try model.importWeights(from: path, options: ImportOptions(skipHead: true)).loaded.count == 8)
}

@Test func wrongFileListsBothSides() throws {
    let model = try FixtureModels.build("lenet5")
    let before = parameterBits(model)
    let e = try #require(throws: WeightImportError.self) { try model.importWeights(from: Fixture.path("vgg_small_tfkeras.h5")) }
    #expect(e.kind == .incompatibleWeights)
    #expect(Set(e.missingPaths) == Set(model.namedParameters().map(\.0).filter { !$0.hasPrefix("fc") && !$0.hasPrefix("predictions") }))
    #expect(e.unexpectedNames.contains("block1_conv1/kernel") && e.unexpectedNames.contains("block5_conv2/bias"))
    #expect(e.shapeMismatches.map(\.path).contains("fc1.weight"))
    #expect(parameterBits(model) == before)
}

@Test func unreadableFilesThrowFileErrorsAndChangeNothing() throws {
    let dir = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let model = try FixtureModels.build("lenet5")
    let before = parameterBits(model)

    let text = dir.appendingPathComponent("weights.h5").path
    try "not an HDF5 file\n".write(toFile: text, atomically: true, encoding: .utf8)
    #expect(expectWeightIOError { try model.importWeights(from: text) }?.kind == .notHDF5)

    let data = try Data(contentsOf: URL(fileURLWithPath: Fixture.path("lenet5_tfkeras.h5")))
    let truncated = dir.appendingPathComponent("truncated.h5").path
    try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: truncated))
    let t = expectWeightIOError { try model.importWeights(from: truncated) }
    #expect(t?.kind == .corruptFile || t?.kind == .missingObject || t?.kind == .hdf5Failure, "\(String(describing: t))")
    #expect(t?.file == truncated)

    #expect(expectWeightIOError { try model.importWeights(from: dir.appendingPathComponent("absent.h5").path) }?.kind == .fileNotFound)

    let int = expectWeightIOError { try model.importWeights(from: Fixture.path("keras2_int_kernel.h5")) }
    #expect(int?.kind == .unsupportedType && int?.layer == "dense_int")
    #expect(expectWeightIOError { try model.importWeights(from: Fixture.path("keras2_missing_dataset.h5")) }?.kind == .missingObject)
    #expect(parameterBits(model) == before)
}

// MARK: special sources

/// A one-layer model built from a spec: `conv` 2x2, 1 -> 3 channels.
func tinyConvModel(bias: Bool = true) throws -> ZooModel {
    var spec = try LeNet5.spec(ZooOptions(inputSize: 28))
    spec.architecture = "tiny"
    var b = GraphBuilder(shape: [1, 4, 4])
    try b.conv("conv", 3, kernel: 2, bias: bias)
    spec.trunk = try b.graph()
    spec.head = try ModelGraph(input: spec.trunk.output, inputShape: spec.trunkOutputShape, nodes: [])
    return ZooModel(spec: spec)
}

@Test func theanoKernelsAreFlippedSpatially() throws {
    let model = try tinyConvModel()
    let report = try model.importWeights(from: Fixture.path("keras2_theano.h5"), options: ImportOptions(skipHead: true))
    #expect(report.backend == "theano" && report.flippedTheanoKernels == ["conv.weight"])
    let w = try #require(model.parameter(at: "conv.weight")).value
    #expect(w.shape == [3, 1, 2, 2])
    // File HWIO value at (y, x, 0, o) is (y*2 + x)*3 + o; flipped: Graft [o, 0, y, x] = file[1-y, 1-x, 0, o].
    for o in 0..<3 { for y in 0..<2 { for x in 0..<2 {
        #expect(w[flat: (o * 2 + y) * 2 + x] == Float(((1 - y) * 2 + (1 - x)) * 3 + o))
    } } }
}

/// A Keras-1 Theano file with 'th' ordering stores OIHW kernels: transposed, then flipped, as Keras 2 did.
@Test func theanoOIHWKernelsAreTransposedThenFlipped() throws {
    let dir = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let oihw = Tensor(shape: [3, 1, 2, 2], scalars: (0..<12).map(Float.init))
    let path = dir.appendingPathComponent("th.h5").path
    try writeKeras2Weights(path: path, layers: [LayerWeights(name: "conv", tensors: [
        NamedTensor(name: "kernel", value: oihw), NamedTensor(name: "bias", value: Tensor(zeros: [3]))])],
        backend: "theano", kerasVersion: "1.2.2")
    let model = try tinyConvModel()
    let report = try model.importWeights(from: path, options: ImportOptions(skipHead: true))
    #expect(report.warnings.count == 1 && report.flippedTheanoKernels == ["conv.weight"])
    let w = try #require(model.parameter(at: "conv.weight")).value
    // Graft [o, 0, y, x] = file OIHW [o, 0, 1-y, 1-x].
    for o in 0..<3 { for y in 0..<2 { for x in 0..<2 {
        #expect(w[flat: (o * 2 + y) * 2 + x] == oihw[flat: (o * 2 + (1 - y)) * 2 + (1 - x)])
    } } }
}

@Test func caffeBatchNormAndScaleLayersMerge() throws {
    var spec = try LeNet5.spec(ZooOptions(inputSize: 28))
    spec.architecture = "tiny_bn"
    var b = GraphBuilder(shape: [1, 5, 5])
    try b.conv("conv1", 2, kernel: 3, bias: false)
    try b.batchNorm("conv1_bn", epsilon: 1e-5)
    spec.trunk = try b.graph()
    spec.head = try ModelGraph(input: spec.trunk.output, inputShape: spec.trunkOutputShape, nodes: [])
    spec.bnEpsilon = 1e-5
    spec.legacyAliases = ["bn_conv1": "conv1_bn"]
    let model = ZooModel(spec: spec)
    let report = try model.importWeights(from: Fixture.path("caffe_batchnorm.h5"), options: ImportOptions(skipHead: true))
    #expect(report.format == .caffe && report.loaded.count == 5)
    #expect(report.impliedBNEpsilon == 1e-5 && report.warnings.isEmpty)
    #expect(report.legacyNames["bn_conv1"] == "conv1_bn")
    #expect(model.parameter(at: "conv1.weight")?.value.scalars == (0..<18).map(Float.init))     // OIHW as stored
    #expect(model.parameter(at: "conv1_bn.runningMean")?.value.scalars == [2, -4])
    #expect(model.parameter(at: "conv1_bn.runningVar")?.value.scalars == [1.5, 3])
    #expect(model.parameter(at: "conv1_bn.weight")?.value.scalars == [1.25, 0.75])
    #expect(model.parameter(at: "conv1_bn.bias")?.value.scalars == [0.1, -0.1])
}

/// Legacy Keras-1 ResNet50 names (`conv1`, `bn_conv1`, `res2a_branch2a`, `fc1000`) import through the
/// aliases, and the file implies the old Keras epsilon 1e-3.
@Test func legacyResNet50NamesAndEpsilon() throws {
    let options = ZooOptions(inputSize: 32, classCount: 3, widthMultiplier: 0.0625)
    let source = try Zoo.build("resnet50", options)
    let reverse = Dictionary(source.legacyAliases.filter { !$0.key.contains("b1") }.map { ($0.value, $0.key) },
                             uniquingKeysWith: { a, b in a.count <= b.count ? a : b })
    let renamed = try source.kerasLayerWeights().map { l in
        LayerWeights(name: reverse[l.name] ?? l.name, className: l.className, tensors: l.tensors)
    }
    #expect(renamed.contains { $0.name == "res2a_branch2a" } && renamed.contains { $0.name == "fc1000" })
    let dir = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("resnet50_legacy.h5").path
    try writeKeras2Weights(path: path, layers: renamed, kerasVersion: "1.2.2")

    // A model at the default epsilon imports it, with a warning naming the implied epsilon.
    let model = try Zoo.build("resnet50", options)
    let report = try model.importWeights(from: path)
    #expect(report.impliedBNEpsilon == 1e-3 && report.modelBNEpsilon == 1.001e-5)
    #expect(report.legacyNames["res2a_branch2a"] == "conv2_block1_1_conv" && report.legacyNames["fc1000"] == "predictions")
    #expect(report.warnings.count == 1 && report.warnings[0].contains("0.001"))
    #expect(parameterBits(model) == parameterBits(source))
    // loadPretrained builds the model with the implied epsilon.
    let (built, r2) = try loadPretrained("resnet50", options: options, weights: path)
    #expect(built.bnEpsilon == 1e-3 && r2.warnings.isEmpty)
    #expect(parameterBits(built) == parameterBits(source))
}

@Test func formatComesFromContentNotExtension() throws {
    let dir = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let disguised = dir.appendingPathComponent("weights.caffemodel").path
    try FileManager.default.copyItem(atPath: Fixture.path("lenet5_keras3.weights.h5"), toPath: disguised)
    let model = try FixtureModels.build("lenet5")
    #expect(try model.importWeights(from: disguised).format == .keras3Weights)
}
