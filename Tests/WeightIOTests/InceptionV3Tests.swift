import Foundation
import Testing
import TensorCore
import NN
@testable import Zoo
@testable import WeightIO

/// make_inception_fixtures.py's hash weights: make_fixtures.py's, with kernels sqrt(75 / fan_in) * h so
/// the input still reaches the softmax through 94 conv2d_bn layers.
func inceptionHashTensor(ordinal t: Int, kind: KerasWeightName, shape: [Int]) -> Tensor {
    guard kind == .kernel else { return hashTensor(ordinal: t, kind: kind, shape: shape) }
    let n = shape.reduce(1, *), salt = UInt64(t + 1) &* 40503 &+ 12345
    let scale = (75.0 / Double(shape.dropLast().reduce(1, *))).squareRoot()
    var out = [Float](repeating: 0, count: n)
    for i in 0..<n {
        let u = (UInt64(i) &* 2654435761 &+ salt) & 0xFFFF_FFFF
        out[i] = Float(scale * (Double(u) / 4294967296.0 - 0.5))
    }
    return Tensor(shape: shape, scalars: out)
}

/// Full-width keras.applications.InceptionV3 at 75x75, 5 classes, with the hash weights of
/// scripts/make_inception_fixtures.py: probabilities and probes of a few mixed blocks.
@Test func inceptionV3WithHashWeightsMatchesKeras() throws {
    let m = try Zoo.build("inceptionv3", ZooOptions(inputSize: 75, classCount: 5))
    m.setTraining(false)
    #expect(m.parameterCount == 21_813_029)   // Keras count_params() at 75 px, 5 classes
    let list = try String(contentsOfFile: Fixture.path("inceptionv3_75_weights.txt"), encoding: .utf8)
    let map = try m.kerasWeightMap()
    try fillHashWeights(m, map: map, list: list, tensor: inceptionHashTensor)
    let root = try HDF5File.open(Fixture.path("inceptionv3_75_io.h5")).root()
    let x = nhwcToNCHW(try root.dataset("input").readTensor())
    let ref = try root.dataset("output").readTensor()
    let (y, seen) = forwardRecording(m, x)
    print("parity inceptionv3_75: max |Δp| = \(y.maxAbsDifference(ref))")
    #expect(y.shape == ref.shape)
    #expect(y.maxAbsDifference(ref) < 1e-4, "max |Δp| = \(y.maxAbsDifference(ref))")
    for layer in ["activation_4", "mixed0", "mixed3", "mixed7", "mixed10", "avg_pool"] {
        let probe = try root.dataset("activations/\(layer)").readTensor()
        let ours = try #require(seen[layer], "no layer \(layer)")
        let per = ours.count / ours.shape[0]
        let first = Tensor(shape: [1] + Array(ours.shape.dropFirst()), scalars: Array(ours.scalars.prefix(per)))
        let expected = probe.rank == 4 ? nhwcToNCHW(probe) : probe
        print("parity inceptionv3_75 \(layer): relative error \(relativeError(first, expected))")
        #expect(relativeError(first, expected) < 1e-4, "\(layer): relative error \(relativeError(first, expected))")
    }
    // The oneDNN inference plan computes the same probabilities, with every trunk node native.
    let plan = InferencePlan(m)
    let planned = plan(x)
    #expect(planned.maxAbsDifference(ref) < 1e-4, "inference plan: max |Δp| = \(planned.maxAbsDifference(ref))")
    #expect(plan.nativeFailures == 0)
    #expect(plan.moduleLayers.allSatisfy { !m.trunkLayerNames.contains($0) }, "\(plan.moduleLayers)")
}

/// A small InceptionV3 written as a Keras file of another session would name its layers (`shift` added
/// to every conv2d/batch_normalization counter; Keras 2.0-2.2 counted from 1).
func renumberedKerasFile(_ m: ZooModel, shift: Int, dropLast: Bool = false) throws -> WeightFile {
    var layers: [LayerWeights] = []
    var refs = try m.kerasWeightMap().weights
    if dropLast { refs.removeAll { $0.layer == "conv2d_93" || $0.layer == "batch_normalization_93" } }
    for ref in refs {
        var name = ref.layer
        if let a = autoName(name) { name = "\(a.prefix)_\(a.counter + shift)" }
        let t = NamedTensor(name: ref.weight.rawValue, value: ref.layout.toKeras(m.parameter(at: ref.path)!.value))
        if layers.last?.name == name { layers[layers.count - 1].tensors.append(t) } else { layers.append(LayerWeights(name: name, tensors: [t])) }
    }
    return WeightFile(format: .keras2Weights, path: "renumbered.h5", layers: layers)
}

@Test(arguments: [1, 94])
func autoNamedLayersNumberedOtherwiseMatchByOrder(shift: Int) throws {
    let o = ZooOptions(inputSize: 75, classCount: 3, widthMultiplier: 0.125)
    let source = try Zoo.build("inceptionv3", ZooOptions(inputSize: 75, classCount: 3, widthMultiplier: 0.125, seed: 7))
    let file = try renumberedKerasFile(source, shift: shift)
    #expect(file.layer("conv2d_\(93 + shift)") != nil && file.layer("conv2d") == nil)
    let target = try Zoo.build("inceptionv3", o)
    let report = try target.importWeights(file)
    #expect(report.warnings.contains { $0.contains("matched by their order") })
    #expect(parameterBits(target) == parameterBits(source))
    // `finetune inspect` recognises the file the same way (width and class count from the tensors).
    let best = try #require(matchZooArchitectures(file).first)
    #expect(best.architecture == "inceptionv3" && best.missing.isEmpty && best.unexpected.isEmpty && best.mismatched.isEmpty,
            "\(best)")
}

@Test func autoNamedLayersAreNotMatchedByOrderWhenTheCountsDiffer() throws {
    let o = ZooOptions(inputSize: 75, classCount: 3, widthMultiplier: 0.125)
    let file = try renumberedKerasFile(try Zoo.build("inceptionv3", o), shift: 1, dropLast: true)
    let target = try Zoo.build("inceptionv3", o)
    let before = parameterBits(target)
    #expect(throws: WeightImportError.self) { try target.importWeights(file) }
    #expect(parameterBits(target) == before)
}

@Test func inceptionV3RefusesInputsBelow75Pixels() throws {
    #expect(throws: ZooError.invalidOption("inceptionv3: inputSize 74 is below the minimum 75 px (as in Keras)")) {
        try Zoo.entry(named: "inceptionv3").spec(ZooOptions(inputSize: 74))
    }
    #expect(try Zoo.entry(named: "inceptionv3").parameterCount(ZooOptions(includeTop: false)) == 21_802_784)
}

@Test func batchNormWithoutScaleHasNoGammaAndComparesKerasScale() throws {
    let kind = BatchNormKind(epsilon: 1e-3, scale: false)
    #expect(kind.parameters([[4, 2, 2]]).map(\.name) == ["bias", "runningMean", "runningVar"])
    var rng = SeededRandom(seed: 1)
    #expect(kind.makeModule([[4, 2, 2]], rng: &rng).namedParameters().map(\.0) == ["bias", "runningMean", "runningVar"])
    var config = KerasLayerConfig(name: "batch_normalization", className: "BatchNormalization")
    config.epsilon = 1e-3
    config.scale = false
    #expect(kind.kerasDisagreement(config, module: nil) == nil)
    #expect(BatchNormKind(epsilon: 1e-3).kerasDisagreement(config, module: nil)?.what == "BatchNorm scale")
    #expect(BatchNormKind.fromKeras(config) == kind)
}

/// Keras 3 `.weights.h5` stores a scale=False BatchNormalization as three vars: beta, moving_mean, moving_variance.
@Test func keras3BatchNormWithoutScaleReadsThreeVariables() throws {
    let dir = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("bn.weights.h5").path
    let file = try HDF5File.create(path)
    let root = try file.root()
    let vars = try root.createGroup("layers/batch_normalization_3/vars")
    try vars.setAttribute("name", string: "batch_normalization_3")
    for (i, v) in [Float(0.5), 0.25, 2].enumerated() {
        try vars.writeDataset("\(i)", Tensor(shape: [2], repeating: v))
    }
    _ = try root.createGroup("vars")
    try file.close()
    let read = try readWeightFile(path: path)
    #expect(read.format == .keras3Weights)
    let layer = try #require(read.layer("batch_normalization_3"))
    #expect(layer.tensors.map(\.name) == ["beta", "moving_mean", "moving_variance"])
    #expect(layer.tensors.map { $0.value.scalars[0] } == [0.5, 0.25, 2])
}

/// tf_keras's InceptionV3 `model_config` (a Keras 2 full-model file's) read through the kind table is the
/// zoo graph: same layer names, kinds (non-square kernels, BatchNorm without scale), inputs and shapes;
/// Keras lists the layers by depth, the zoo in creation order, so nodes are compared by name.
@Test func inceptionV3KerasConfigReadsAsTheZooGraph() throws {
    let json = try String(contentsOfFile: Fixture.path("inceptionv3_75_tfkeras_config.json"), encoding: .utf8)
    let config = try parseKerasModelConfig(json)
    let read = try config.graph()
    let zoo = try InceptionV3.spec(ZooOptions(inputSize: 75, classCount: 5)).graph
    #expect(read.inputShape == zoo.inputShape)
    #expect(Set(read.nodes.map(\.name)) == Set(zoo.nodes.map(\.name)))
    let byName = Dictionary(uniqueKeysWithValues: read.nodes.map { ($0.name, $0) })
    for n in zoo.nodes {
        guard let r = byName[n.name] else { continue }
        #expect(r.layer.identity == n.layer.identity, "\(n.name): \(r.layer) vs \(n.layer)")
        #expect(r.inputs.map { $0 == read.input ? "input" : $0 } == n.inputs, "\(n.name) inputs")
    }
    let shapes = { (g: ModelGraph) in Dictionary(uniqueKeysWithValues: g.parameterShapes.map { ($0.path, $0.shape) }) }
    #expect(shapes(read) == shapes(zoo))
    let model = try Zoo.build("inceptionv3", ZooOptions(inputSize: 75, classCount: 5, widthMultiplier: 1))
    #expect(model.architectureDisagreement(config) == nil)
    // Keras's model.layers order, which a topological load_weights of an exported file needs.
    #expect(model.kerasLayerOrder == config.layers.map { $0.name == read.input ? "input" : $0.name })
}
