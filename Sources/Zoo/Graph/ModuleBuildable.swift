import TensorCore
import NN

/// A kind that can make its trainable NN module (a `Layer`, or a `MergeLayer` for merge kinds), and
/// recognise one (so a plain `Sequential` of NN layers can be described as a graph too).
public protocol ModuleBuildable: LayerKind {
    /// Allocates and initialises the module for these input shapes, drawing from `rng` in
    /// parameter order.
    func makeModule(_ inputs: [[Int]], rng: inout SeededRandom) -> Module
    /// The kind of an existing module, or nil when the module is not of this kind.
    static func describing(_ module: Module) -> Self?
}

/// Every layer kind the zoo knows, in the order `describing` is tried (specific before general).
/// Each must also conform to the Zoo-owned concerns; WeightIO (`KerasLayers.all`) and the bench
/// (`BenchMACs.all`) keep tables of their own, and tests check that all three list the same kinds.
public enum LayerKinds {
    public typealias Kind = any (ModuleBuildable & DNNLLowerable).Type

    public static let all: [Kind] = [
        DepthwiseConv2DKind.self, Conv2DKind.self, BatchNormKind.self, ActivationKind.self, ZeroPadding2DKind.self,
        Pool2DKind.self, GlobalPool2DKind.self, FlattenKind.self, DenseKind.self, DropoutKind.self,
        LocalResponseNormKind.self, AddKind.self, MultiplyKind.self, ConcatenateKind.self, ReshapeKind.self,
        SeparableConv2DKind.self, SubtractKind.self, AverageKind.self, MaximumKind.self, Cropping2DKind.self,
        UpSampling2DKind.self, RescalingKind.self, NormalizationKind.self, PReLUKind.self,
    ]

    /// The kind describing `module`, or nil when no zoo kind does (the module then runs as itself).
    public static func kind(of module: Module) -> (any LayerKind)? {
        for k in all { if let d = k.describing(module) { return d } }
        return nil
    }

    public static var names: [String] { all.map { String(describing: $0) } }
}

extension ZooActivation {
    /// The activation fused into a Conv2D/Dense (nil for linear).
    var fused: Activation? {
        switch self {
        case .relu: .relu
        case .relu6: .relu6
        case .tanh: .tanh
        case .sigmoid: .sigmoid
        case .softmax: .softmax
        case .linear: nil
        }
    }

    var nn: Activation { fused ?? .linear }
}
