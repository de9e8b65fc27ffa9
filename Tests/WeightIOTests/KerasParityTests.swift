import Foundation
import Testing
import TensorCore
import NN
@testable import Zoo
import WeightIO

/// Keras reference tensors converted from `Fixtures/<model>_io.h5` (and the small models' weight files)
/// by `scripts/fixtures_to_bin.py`: one float32 little-endian blob plus a JSON header.
struct ParityFixture {
    struct Header: Decodable { struct Entry: Decodable { let name: String; let shape: [Int]; let offset: Int }; let tensors: [Entry] }
    let tensors: [String: Tensor]

    init(_ model: String) throws {
        let dir = Fixture.zooDirectory.appendingPathComponent("parity")
        let header = try JSONDecoder().decode(Header.self, from: Data(contentsOf: dir.appendingPathComponent("\(model).json")))
        let blob = try Data(contentsOf: dir.appendingPathComponent("\(model).bin"))
        var t: [String: Tensor] = [:]
        for e in header.tensors {
            let n = e.shape.reduce(1, *)
            var scalars = [Float](repeating: 0, count: n)
            scalars.withUnsafeMutableBytes { dst in
                blob.copyBytes(to: dst, from: (e.offset * 4)..<((e.offset + n) * 4))
            }
            t[e.name] = Tensor(shape: e.shape, scalars: scalars.map { Float(bitPattern: $0.bitPattern.littleEndian) })
        }
        tensors = t
    }

    subscript(_ name: String) -> Tensor? { tensors[name] }
}

/// NHWC -> NCHW.
func nchw(_ t: Tensor) -> Tensor {
    let (n, h, w, c) = (t.shape[0], t.shape[1], t.shape[2], t.shape[3])
    var out = [Float](repeating: 0, count: t.count)
    let s = t.scalars
    for b in 0..<n { for y in 0..<h { for x in 0..<w { for ch in 0..<c {
        out[((b * c + ch) * h + y) * w + x] = s[((b * h + y) * w + x) * c + ch]
    } } } }
    return Tensor(shape: [n, c, h, w], scalars: out)
}

/// Fills every parameter from Keras-layout tensors via the model's Keras map; all must be found.
func fill(_ model: ZooModel, _ kerasTensor: (KerasWeightRef) throws -> Tensor) throws {
    for ref in try model.kerasWeightMap().weights {
        let k = try kerasTensor(ref)
        #expect(k.shape == ref.kerasShape, "\(ref.layer)/\(ref.weight.rawValue)")
        model.parameter(at: ref.path)!.value = ref.layout.toGraft(k)
    }
}

/// Fills every parameter of `m` from a `<fixture>_weights.txt` list (`layer/weight d0,d1,...` per line,
/// in the writer's `model.weights` order) with `tensor(ordinal, weight, Keras shape)`; all must be filled.
func fillHashWeights(_ m: ZooModel, map: KerasMapping, list: String,
                     tensor: (_ ordinal: Int, _ kind: KerasWeightName, _ shape: [Int]) -> Tensor) throws {
    var filled = Set<String>()
    for (t, line) in list.split(separator: "\n").enumerated() {
        let parts = line.split(separator: " ")
        let key = parts[0].split(separator: "/").map(String.init)
        let shape = parts[1].split(separator: ",").map { Int($0)! }
        let kind = try #require(KerasWeightName(rawValue: key[1]))
        let ref = try #require(map.ref(layer: key[0], weight: kind), "no Graft parameter for \(parts[0])")
        #expect(ref.kerasShape == shape, "\(parts[0])")
        m.parameter(at: ref.path)!.value = ref.layout.toGraft(tensor(t, kind, shape))
        filled.insert(ref.path)
    }
    #expect(filled.count == m.namedParameters().count)
}

/// The fixture README's integer-hash weight formula, in Keras layout.
func hashTensor(ordinal t: Int, kind: KerasWeightName, shape: [Int]) -> Tensor {
    let n = shape.reduce(1, *)
    let salt = UInt64(t + 1) &* 40503 &+ 12345
    let (scale, offset): (Double, Double)
    switch kind {
    case .kernel, .depthwiseKernel, .pointwiseKernel: (scale, offset) = ((3.0 / Double(shape.dropLast().reduce(1, *))).squareRoot(), 0)
    case .bias, .beta, .alpha, .mean: (scale, offset) = (0.1, 0)
    case .gamma: (scale, offset) = (0.4, 1)
    case .movingMean: (scale, offset) = (0.2, 0)
    case .movingVariance, .variance: (scale, offset) = (0.8, 1)
    }
    var out = [Float](repeating: 0, count: n)
    out.withUnsafeMutableBufferPointer { p in
        for i in 0..<n {
            let u = (UInt64(i) &* 2654435761 &+ salt) & 0xFFFF_FFFF
            let h = Double(u) / 4294967296.0 - 0.5
            // README: moving_variance = 1 + 0.8 * (h + 0.5), kept in that order of operations.
            p[i] = kind == .movingVariance ? Float(offset + scale * (h + 0.5)) : Float(offset + scale * h)
        }
    }
    return Tensor(shape: shape, scalars: out)
}

/// Runs the model node by node, recording every node's output under its name.
func forwardRecording(_ m: ZooModel, _ x: Tensor) -> (Tensor, [String: Tensor]) {
    var seen: [String: Tensor] = [:]
    let y = withoutGradients { m.forward(Var(x)) { name, v in seen[name] = v.value } }
    return (y.value, seen)
}

func relativeError(_ a: Tensor, _ ref: Tensor) -> Float {
    let scale = max(1, ref.scalars.map(abs).max() ?? 1)
    return a.maxAbsDifference(ref) / scale
}

/// The four small Keras models of the fixture README, built from zoo options, with the seeded weights.
@Test(arguments: [
    ("lenet5", "lenet5", ZooOptions(inputSize: 28, classCount: 10)),
    ("alexnet_small", "alexnet", ZooOptions(inputSize: 64, classCount: 5, widthMultiplier: 0.25, hiddenWidth: 256)),
    ("vgg_small", "vgg11", ZooOptions(inputSize: 32, classCount: 3, widthMultiplier: 0.125, hiddenWidth: 64)),
    ("resnet18_small", "resnet18", ZooOptions(inputSize: 32, classCount: 4, widthMultiplier: 0.125)),
])
func smallModelsMatchKeras(fixture: String, model name: String, options: ZooOptions) throws {
    let f = try ParityFixture(fixture)
    let m = try Zoo.build(name, options)
    m.setTraining(false)
    try fill(m) { ref in try #require(f["weights/\(ref.layer)/\(ref.weight.rawValue)"], "missing \(ref.layer)/\(ref.weight)") }
    // Every Keras weight was used.
    #expect(f.tensors.keys.filter { $0.hasPrefix("weights/") }.count == m.namedParameters().count)
    let input = nchw(try #require(f["input"]))
    let (y, _) = forwardRecording(m, input)
    let ref = try #require(f["output"])
    #expect(y.shape == ref.shape)
    print("parity \(fixture): max |Δp| = \(y.maxAbsDifference(ref))")
    #expect(y.maxAbsDifference(ref) < 1e-4, "\(fixture): max |Δp| = \(y.maxAbsDifference(ref))")
}

/// Full-width VGG16 and ResNet50 at 64x64 with the hash weights: probabilities and stage probes.
@Test(arguments: [("vgg16_64", "vgg16"), ("resnet50_64", "resnet50")])
func fullSizeModelsWithHashWeightsMatchKeras(fixture: String, model name: String) throws {
    let f = try ParityFixture(fixture)
    let m = try Zoo.build(name, ZooOptions(inputSize: 64, classCount: 5))
    m.setTraining(false)
    #expect(m.parameterCount == (name == "vgg16" ? 39_909_189 : 23_597_957))
    let list = try String(contentsOf: Fixture.zooDirectory.appendingPathComponent("\(fixture)_weights.txt"), encoding: .utf8)
    let map = try m.kerasWeightMap()
    try fillHashWeights(m, map: map, list: list, tensor: hashTensor)
    let (y, seen) = forwardRecording(m, nchw(try #require(f["input"])))
    let ref = try #require(f["output"])
    print("parity \(fixture): max |Δp| = \(y.maxAbsDifference(ref))")
    #expect(y.maxAbsDifference(ref) < 1e-4, "\(fixture): max |Δp| = \(y.maxAbsDifference(ref))")
    for (key, probe) in f.tensors where key.hasPrefix("activations/") {
        let layer = String(key.dropFirst("activations/".count))
        let ours = try #require(seen[layer], "no layer \(layer)")
        let first: Tensor   // image 0 only
        if ours.rank == 4 {
            let per = ours.count / ours.shape[0]
            first = Tensor(shape: [1] + Array(ours.shape.dropFirst()), scalars: Array(ours.scalars.prefix(per)))
        } else {
            first = Tensor(shape: [1, ours.shape[1]], scalars: Array(ours.scalars.prefix(ours.shape[1])))
        }
        let expected = probe.rank == 4 ? nchw(probe) : probe
        print("parity \(fixture) \(layer): relative error \(relativeError(first, expected))")
        #expect(relativeError(first, expected) < 1e-4, "\(fixture) \(layer): relative error \(relativeError(first, expected))")
    }
}
