import TensorCore
import NN

/// Cross-channel local response normalisation (Caffe LRN; no Keras twin).
public struct LocalResponseNormKind: LayerKind, ModuleBuildable, Hashable {
    public var size: Int, alpha: Float, beta: Float, k: Float

    public init(size: Int, alpha: Float, beta: Float, k: Float) {
        self.size = size; self.alpha = alpha; self.beta = beta; self.k = k
    }

    public func outputShape(_ inputs: [[Int]]) throws -> [Int] {
        _ = try spatial(inputs, what: "local response normalisation")
        return inputs[0]
    }

    public func makeModule(_ inputs: [[Int]], rng: inout SeededRandom) -> Module {
        LocalResponseNorm(size: size, alpha: alpha, beta: beta, k: k)
    }

    public static func describing(_ m: Module) -> LocalResponseNormKind? {
        (m as? LocalResponseNorm).map { LocalResponseNormKind(size: $0.size, alpha: $0.alpha, beta: $0.beta, k: $0.k) }
    }
}
