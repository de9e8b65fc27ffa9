import TensorCore
import NN

/// Keras `Activation` (and `ReLU`): a standalone element-wise function (softmax over the channels).
public struct ActivationKind: LayerKind, ModuleBuildable, Hashable {
    public var activation: Activation

    public init(_ activation: Activation) { self.activation = activation }

    public func outputShape(_ inputs: [[Int]]) throws -> [Int] { try single(inputs, what: "activation") }

    public func makeModule(_ inputs: [[Int]], rng: inout SeededRandom) -> Module {
        switch activation {
        case .relu: ReLU()
        case .tanh: Tanh()
        case .sigmoid: Sigmoid()
        case .softmax: Softmax()
        default: ActivationLayer(activation)
        }
    }

    public static func describing(_ m: Module) -> ActivationKind? { (m as? ActivationLayer).map { ActivationKind($0.activation) } }
}
