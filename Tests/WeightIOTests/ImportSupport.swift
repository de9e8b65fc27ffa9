import Foundation
import TensorCore
import NN
import Zoo
import Testing
@testable import WeightIO

/// The zoo models matching Tests/ZooTests/Fixtures/README.md. LeNet-5 and ResNet-18-small are plain
/// registry builds; AlexNet-small and VGG-small have hidden dense layers (256, 64) that no width
/// multiplier gives, so their head specs are edited.
enum FixtureModels {
    static func options(_ name: String) -> (String, ZooOptions, hidden: Int?) {
        switch name {
        case "lenet5": return ("lenet5", ZooOptions(inputSize: 28, classCount: 10), nil)
        case "alexnet_small": return ("alexnet", ZooOptions(inputSize: 64, classCount: 5, widthMultiplier: 0.25), 256)
        case "vgg_small": return ("vgg11", ZooOptions(inputSize: 32, classCount: 3, widthMultiplier: 0.125), 64)
        case "resnet18_small": return ("resnet18", ZooOptions(inputSize: 32, classCount: 4, widthMultiplier: 0.125), nil)
        default: fatalError("no fixture model \(name)")
        }
    }

    static func build(_ name: String, seed: UInt64 = 99) throws -> ZooModel {
        if name == "vgg_small_nested" {
            var spec = try Zoo.entry(named: "vgg11").spec(ZooOptions(inputSize: 32, widthMultiplier: 0.125))
            var h = GraphBuilder(input: spec.trunk.output, shape: spec.trunkOutputShape)
            try h.pooling(.globalAverage)
            try h.dense("head", 3, activation: .softmax)
            spec.head = try h.graph()
            return ZooModel(spec: spec, seed: seed)
        }
        var (arch, o, hidden) = options(name)
        o.seed = seed
        var spec = try Zoo.entry(named: arch).spec(o)
        if let hidden {
            var h = GraphBuilder(input: spec.trunk.output, shape: spec.trunkOutputShape)
            for n in spec.head.nodes {
                var kind = n.layer
                if var d = kind as? DenseKind, n.name != spec.headRecipe.outputName { d.units = hidden; kind = d }
                try h.node(n.name, kind)
            }
            spec.head = try h.graph()
        }
        return ZooModel(spec: spec, seed: seed)
    }
}

/// `input` (NHWC in the file) as NCHW, and `output`.
func loadIO(_ path: String) throws -> (input: Tensor, output: Tensor) {
    let root = try HDF5File.open(path).root()
    let x = try root.dataset("input").readTensor()
    let y = try root.dataset("output").readTensor()
    return (nhwcToNCHW(x), y)
}

func nhwcToNCHW(_ x: Tensor) -> Tensor {
    let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    var out = Tensor(uninitializedShape: [n, c, h, w])
    out.withUnsafeMutableBufferPointer { dst in
        x.withUnsafeBufferPointer { src in
            for b in 0..<n { for y in 0..<h { for xx in 0..<w { for ch in 0..<c {
                dst[((b * c + ch) * h + y) * w + xx] = src[((b * h + y) * w + xx) * c + ch]
            } } } }
        }
    }
    return out
}

func infer(_ model: ZooModel, _ x: Tensor) -> Tensor {
    model.setTraining(false)
    return withoutGradients { model(Var(x)) }.value
}

/// Max relative difference, |a - b| / max(|b|, floor).
func maxRelativeDifference(_ a: Tensor, _ b: Tensor, floor: Float = 1e-3) -> Float {
    precondition(a.shape == b.shape, "shapes \(a.shape) vs \(b.shape)")
    var worst: Float = 0
    for i in 0..<a.count { worst = max(worst, abs(a[flat: i] - b[flat: i]) / max(abs(b[flat: i]), floor)) }
    return worst
}

/// Every parameter's bits, by path.
func parameterBits(_ m: Module) -> [String: [UInt32]] {
    Dictionary(uniqueKeysWithValues: m.namedParameters().map { ($0.0, bits($0.1.value)) })
}
