import TensorCore
import NN

/// Keras `BatchNormalization` over the channels: weight (gamma), bias (beta), runningMean, runningVar.
/// `scale: false` (Keras `scale=False`, InceptionV3) has no weight: gamma is 1.
public struct BatchNormKind: LayerKind, ModuleBuildable, Hashable {
    public var epsilon: Float
    public var scale: Bool = true

    public init(epsilon: Float, scale: Bool = true) { self.epsilon = epsilon; self.scale = scale }

    public func outputShape(_ inputs: [[Int]]) throws -> [Int] {
        _ = try spatial(inputs, what: "batch normalisation")
        return inputs[0]
    }

    public func parameters(_ inputs: [[Int]]) -> [(name: String, shape: [Int])] {
        (scale ? ["weight", "bias", "runningMean", "runningVar"] : ["bias", "runningMean", "runningVar"]).map { ($0, [inputs[0][0]]) }
    }

    public func makeModule(_ inputs: [[Int]], rng: inout SeededRandom) -> Module {
        BatchNorm(channels: inputs[0][0], epsilon: epsilon, scale: scale)
    }

    public static func describing(_ m: Module) -> BatchNormKind? {
        (m as? BatchNorm).map { BatchNormKind(epsilon: $0.epsilon, scale: $0.scale) }
    }
}
