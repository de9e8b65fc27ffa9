import Foundation
import TensorCore
import NN
import Zoo
import Testing
@testable import WeightIO

/// Perturbs every parameter deterministically (variances stay positive), so an export carries weights
/// no fixture has.
func perturb(_ model: ZooModel, seed: UInt64) {
    var rng = SeededRandom(seed: seed)
    for (path, p) in model.namedParameters() {
        let noise = Tensor.uniform(p.shape, limit: 0.1, rng: &rng)
        let scalars = zip(p.value.scalars, noise.scalars).map { path.hasSuffix("runningVar") ? $0 * (1 + $1) : $0 + $1 * max(abs($0), 0.05) }
        p.value = Tensor(shape: p.shape, scalars: scalars)
    }
}

@Test(arguments: ["lenet5", "resnet18_small"])
func nativeModelRoundTripsBitExact(name: String) throws {
    let dir = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let model = try FixtureModels.build(name)
    try model.importWeights(from: Fixture.path("\(name)_tfkeras.h5"))
    perturb(model, seed: 3)
    let (_, options, _) = FixtureModels.options(name)
    let classes = (0..<model.effectiveOptions(options).classCount!).map { "class_\($0)" }
    let path = dir.appendingPathComponent("\(name).graft").path
    try saveNativeModel(model, options: options, classNames: classes, extra: ["recipe": "test"], to: path)
    #expect(try detectWeightFileFormat(path: path) == .graftNative)

    let (loaded, metadata) = try loadNativeModel(path: path)
    #expect(loaded.architecture == model.architecture)
    #expect(metadata.classNames == classes && metadata.extra == ["recipe": "test"])
    #expect(metadata.inputShape == model.inputShape && metadata.preprocessing == model.preprocessing)
    #expect(metadata.graftVersion == graftVersion && metadata.options.classCount == classes.count)
    #expect(parameterBits(loaded) == parameterBits(model))
    #expect(loaded.namedParameters().map(\.0) == model.namedParameters().map(\.0))
    let io = try loadIO(Fixture.zooPath("\(name)_io.h5"))
    // Same parameters bit for bit; the forward pass itself is not bit-reproducible run to run (threaded
    // kernels: two runs of one model differ in the last bits), so outputs are compared with a tolerance.
    #expect(maxRelativeDifference(infer(loaded, io.input), infer(model, io.input)) < 1e-4)

    // Native files also import into a model built by hand (strict: every path and shape).
    let other = try FixtureModels.build(name, seed: 1)
    try other.importWeights(from: path)
    #expect(parameterBits(other) == parameterBits(model))
}

@Test func nativeModelKeepsARebuiltHead() throws {
    let dir = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let model = try Zoo.build("vgg11", ZooOptions(inputSize: 32, widthMultiplier: 0.125))
    try model.rebuildHead(classCount: 6, pooling: .globalAverage)
    let path = dir.appendingPathComponent("vgg.graft").path
    try saveNativeModel(model, options: ZooOptions(inputSize: 32, widthMultiplier: 0.125), to: path)
    let (loaded, metadata) = try loadNativeModel(path: path)
    #expect(loaded.headLayerNames == model.headLayerNames && metadata.headLayers == model.headLayerNames)
    #expect(parameterBits(loaded) == parameterBits(model))
    #expect(try loaded.outputShape(for: [1, 3, 32, 32]) == [1, 6])
}

@Test func nativeFileOfAnotherArchitectureIsRefused() throws {
    let dir = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("lenet.graft").path
    try saveNativeModel(try FixtureModels.build("lenet5"), to: path)
    let vgg = try Zoo.build("vgg11", ZooOptions(inputSize: 32, widthMultiplier: 0.125))
    let e = try #require(throws: WeightImportError.self) { try vgg.importWeights(from: path) }
    #expect(e.kind == .architectureMismatch && e.description.contains("lenet5"))
    // A plain checkpoint (no model metadata) cannot rebuild a model, and says why.
    let plain = dir.appendingPathComponent("plain.graft").path
    try writeNativeCheckpoint(path: plain, parameters: [("x.weight", Tensor(zeros: [2]))])
    #expect(expectWeightIOError { _ = try loadNativeModel(path: plain) }?.kind == .missingObject)
}

/// Keras-2 export writes exactly the fixture's tensors (layouts inverted bit for bit) and its layer order.
@Test(arguments: ["lenet5", "vgg_small", "alexnet_small", "resnet18_small"])
func keras2ExportReproducesTheFixture(name: String) throws {
    let dir = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let fixture = Fixture.path("\(name)_tfkeras.h5")
    let model = try FixtureModels.build(name)
    try model.importWeights(from: fixture)
    let path = dir.appendingPathComponent("\(name)_export.h5").path
    try model.exportKeras2Weights(to: path)
    let exported = try readWeightFile(path: path)
    let original = try readWeightFile(path: fixture)
    expectSameWeights(exported.layers, original.layers)
    // Keras's layer order (weightless layers included), except that Graft's dropout-free heads have no drop layers.
    let keras = try HDF5File.open(fixture).root().chunkedStringArrayAttribute("layer_names") ?? []
    #expect(model.kerasLayerOrder == keras)

    // Re-import is bit-exact.
    let again = try FixtureModels.build(name, seed: 1234)
    try again.importWeights(from: path)
    #expect(parameterBits(again) == parameterBits(model))
}

@Test func keras2ExportOfPerturbedModelReimportsBitExact() throws {
    let dir = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let model = try FixtureModels.build("resnet18_small")
    perturb(model, seed: 11)
    let path = dir.appendingPathComponent("r18.h5").path
    try model.exportKeras2Weights(to: path)
    let again = try FixtureModels.build("resnet18_small", seed: 77)
    try again.importWeights(from: path)
    #expect(parameterBits(again) == parameterBits(model))
    // Atomic: no temporary file is left beside the export.
    #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["r18.h5"])
}

/// Writes `<dir>/<name>_graft_export.h5` (Keras 2 weights of a perturbed model) and
/// `<dir>/<name>_graft_io.h5` (`input` NHWC, `output` Graft's softmax) for
/// `scripts/make_fixtures.py --verify-export`. Only with GRAFT_EXPORT_DIR set; otherwise it checks the
/// side file round trip in a temporary directory.
@Test(arguments: ["lenet5", "vgg_small", "alexnet_small", "resnet18_small"])
func exportForKerasVerification(name: String) throws {
    let target = ProcessInfo.processInfo.environment["GRAFT_EXPORT_DIR"]
    let dir = try target.map { URL(fileURLWithPath: $0) } ?? makeTemporaryDirectory()
    defer { if target == nil { try? FileManager.default.removeItem(at: dir) } }
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let model = try FixtureModels.build(name)
    try model.importWeights(from: Fixture.path("\(name)_tfkeras.h5"))
    perturb(model, seed: 2024)
    let ioPath = Fixture.zooPath("\(name)_io.h5")
    let nhwc = try HDF5File.open(ioPath).root().dataset("input").readTensor()
    let y = infer(model, nhwcToNCHW(nhwc))
    try model.exportKeras2Weights(to: dir.appendingPathComponent("\(name)_graft_export.h5").path)
    let side = dir.appendingPathComponent("\(name)_graft_io.h5").path
    try writeAtomically(to: side) { tmp in
        let f = try HDF5File.create(tmp)
        let root = try f.root()
        _ = try root.writeDataset("input", nhwc)
        _ = try root.writeDataset("output", y)
        try f.close()
    }
    let check = try HDF5File.open(side).root()
    #expect(bits(try check.dataset("output").readTensor()) == bits(y))
}

// MARK: inspection

@Test func inspectionReportsFormatLayersAndZooMatch() throws {
    let lenet = try inspectWeightFile(path: Fixture.path("lenet5_tfkeras.h5"))
    #expect(lenet.parameterCount == 61_706)
    let best = try #require(lenet.bestMatch)
    #expect(best.isExact && best.architecture == "lenet5" && best.options.classCount == 10)
    let text = lenet.description
    #expect(text.contains("keras2Weights") && text.contains("Keras 2.21.0") && text.contains("backend tensorflow"))
    #expect(text.contains("conv1") && text.contains("kernel 5x5x1x6") && text.contains("parameters: 61706"))
    // A weights-only file: the weights fit, but `inspect` does not claim the architecture matches.
    #expect(text.contains("weights fit zoo architecture lenet5") && text.contains("could not be checked"))
    #expect(!text.contains("matches zoo architecture"))

    let resnet = try inspectWeightFile(path: Fixture.path("resnet18_small_keras3.weights.h5"))
    #expect(resnet.parameterCount == 178_172)
    let r = try #require(resnet.bestMatch)
    #expect(r.isExact && r.architecture == "resnet18" && r.options.widthMultiplier == 0.125 && r.options.classCount == 4)

    // VGG-small's fc1/fc2 (64 units) are not a zoo width: closest is vgg11 at 1/8 width, not exact.
    let vgg = try inspectWeightFile(path: Fixture.path("vgg_small_tfkeras.h5"))
    let v = try #require(vgg.bestMatch)
    #expect(!v.isExact && v.architecture == "vgg11" && v.options.widthMultiplier == 0.125)
    #expect(vgg.description.contains("no exact zoo match"))

    let full = try inspectWeightFile(path: Fixture.path("lenet5_tfkeras_full.h5"))
    #expect(full.architecture?.layers.count == 9 && full.description.contains("conv1: Conv2D 5x5/1x1 same tanh"))
    #expect(full.bestMatch?.options.inputSize == 28)

    let caffe = try inspectWeightFile(path: Fixture.path("lenet5_caffe.h5"))
    #expect(caffe.bestMatch?.isExact == true && caffe.bestMatch?.architecture == "lenet5")
}
