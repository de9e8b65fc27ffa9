import TensorCore

/// [N, C, H, W] -> [N, C*H*W] in CHW order (the importer permutes Keras's HWC-ordered Dense rows).
public final class Flatten: Module, Layer {
    public override init() {}

    public func outputShape(for s: [Int]) throws -> [Int] {
        guard s.count >= 2 else { throw ShapeError.invalidInput(layer: "Flatten", input: s, reason: "expected [N, ...] of rank >= 2") }
        return [s[0], s.dropFirst().reduce(1, *)]
    }

    public func callAsFunction(_ x: Var) -> Var {
        _ = checked { try outputShape(for: x.shape) }
        return flatten(x)
    }
}

/// [N, ...] -> [N] + `shape` in row-major order (the same elements, as Keras's `Reshape` for the shapes
/// where NCHW and NHWC orders agree, such as [C, 1, 1] -> [C]).
public final class Reshape: Module, Layer {
    public let shape: [Int]
    public init(_ shape: [Int]) { self.shape = shape }

    public func outputShape(for s: [Int]) throws -> [Int] {
        guard s.count >= 1, s.dropFirst().reduce(1, *) == shape.reduce(1, *) else {
            throw ShapeError.invalidInput(layer: "Reshape", input: s, reason: "cannot hold the \(shape.reduce(1, *)) values of \(shape)")
        }
        return [s[0]] + shape
    }

    public func callAsFunction(_ x: Var) -> Var { reshape(x, checked { try outputShape(for: x.shape) }) }
}

/// Inverted dropout: in training, each element is zeroed with probability `rate` and the survivors
/// are scaled by 1/(1 - rate); identity in inference. Masks come from a seeded stream that advances
/// with every training call, so runs are reproducible.
public final class Dropout: Module, Layer {
    public let rate: Float
    private var _rng: SeededRandom

    public init(rate: Float, seed: UInt64 = 0) {
        check(rate >= 0 && rate < 1, "Dropout: rate \(rate) outside [0, 1)")
        self.rate = rate
        _rng = SeededRandom(seed: seed)
    }

    public func outputShape(for s: [Int]) throws -> [Int] { s }

    /// The mask generator's state, saved with training checkpoints so a resumed run draws the same masks.
    public var randomState: SeededRandom {
        get { _rng }
        set { _rng = newValue }
    }

    public func callAsFunction(_ x: Var) -> Var {
        guard isTraining, rate > 0 else { return x }
        return dropout(x, rate: rate, rng: &_rng)
    }
}

/// Cross-channel local response normalisation (AlexNet / Caffe LRN ACROSS_CHANNELS, PyTorch
/// LocalResponseNorm): y = x / (k + alpha/size * Σ_window x²)^beta.
public final class LocalResponseNorm: Module, Layer {
    public let size: Int, alpha: Float, beta: Float, k: Float

    public init(size: Int = 5, alpha: Float = 1e-4, beta: Float = 0.75, k: Float = 2) {
        check(size >= 1, "LocalResponseNorm: size \(size) must be >= 1")
        self.size = size; self.alpha = alpha; self.beta = beta; self.k = k
    }

    public func outputShape(for s: [Int]) throws -> [Int] {
        guard s.count == 4 else {
            throw ShapeError.invalidInput(layer: "LocalResponseNorm(\(size))", input: s, reason: "expected NCHW [N, C, H, W]")
        }
        return s
    }

    public func callAsFunction(_ x: Var) -> Var {
        _ = checked { try outputShape(for: x.shape) }
        return localResponseNorm(x, size: size, alpha: alpha, beta: beta, k: k)
    }
}
