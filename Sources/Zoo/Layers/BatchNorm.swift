import TensorCore
import NN

/// Keras `BatchNormalization` over the channels: weight (gamma), bias (beta), runningMean, runningVar.
public struct BatchNormKind: LayerKind, ModuleBuildable, Hashable {
    public var epsilon: Float

    public init(epsilon: Float) { self.epsilon = epsilon }

    public func outputShape(_ inputs: [[Int]]) throws -> [Int] {
        _ = try spatial(inputs, what: "batch normalisation")
        return inputs[0]
    }

    public func parameters(_ inputs: [[Int]]) -> [(name: String, shape: [Int])] {
        ["weight", "bias", "runningMean", "runningVar"].map { ($0, [inputs[0][0]]) }
    }

    public func makeModule(_ inputs: [[Int]], rng: inout SeededRandom) -> Module {
        BatchNorm(channels: inputs[0][0], epsilon: epsilon)
    }

    public static func describing(_ m: Module) -> BatchNormKind? { (m as? BatchNorm).map { BatchNormKind(epsilon: $0.epsilon) } }
}
