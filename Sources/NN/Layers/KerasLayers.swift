import TensorCore

// NN modules of the Keras layers people's CNNs use besides the core ones (ops in KerasLayerOps.swift).

/// a − b of exactly two same-shaped inputs (Keras `Subtract`).
public final class Subtract: Module, MergeLayer {
    public override init() {}
    public func outputShape(for s: [[Int]]) throws -> [Int] {
        guard s.count == 2, s[0] == s[1] else {
            throw ShapeError.invalidInput(layer: "Subtract", input: s.first ?? [], reason: "needs 2 inputs of one shape, got \(s)")
        }
        return s[0]
    }
    public func callAsFunction(_ xs: [Var]) -> Var {
        _ = checked { try outputShape(for: xs.map(\.shape)) }
        return subtract(xs[0], xs[1])
    }
}

/// The mean of same-shaped inputs (Keras `Average`).
public final class Average: Module, MergeLayer {
    public override init() {}
    public func outputShape(for s: [[Int]]) throws -> [Int] {
        guard s.count >= 2, s.allSatisfy({ $0 == s[0] }) else {
            throw ShapeError.invalidInput(layer: "Average", input: s.first ?? [], reason: "needs at least 2 inputs of one shape, got \(s)")
        }
        return s[0]
    }
    public func callAsFunction(_ xs: [Var]) -> Var {
        _ = checked { try outputShape(for: xs.map(\.shape)) }
        return scaled(xs.dropFirst().reduce(xs[0]) { add($0, $1) }, 1 / Float(xs.count))
    }
}

/// The element-wise maximum of same-shaped inputs (Keras `Maximum`).
public final class Maximum: Module, MergeLayer {
    public override init() {}
    public func outputShape(for s: [[Int]]) throws -> [Int] {
        guard s.count >= 2, s.allSatisfy({ $0 == s[0] }) else {
            throw ShapeError.invalidInput(layer: "Maximum", input: s.first ?? [], reason: "needs at least 2 inputs of one shape, got \(s)")
        }
        return s[0]
    }
    public func callAsFunction(_ xs: [Var]) -> Var {
        _ = checked { try outputShape(for: xs.map(\.shape)) }
        return maximum(xs)
    }
}

/// y = x·scale + offset, one value or one per channel (Keras `Rescaling`). No parameters.
public final class Rescaling: Module, Layer {
    public let scale: [Float], offset: [Float]
    public init(scale: [Float], offset: [Float]) { self.scale = scale; self.offset = offset }
    public func outputShape(for s: [Int]) throws -> [Int] {
        guard s.count >= 2, [1, s[1]].contains(scale.count), [1, s[1]].contains(offset.count) else {
            throw ShapeError.invalidInput(layer: "Rescaling", input: s, reason: "\(scale.count) scales / \(offset.count) offsets for \(s.count >= 2 ? s[1] : 0) channels")
        }
        return s
    }
    public func callAsFunction(_ x: Var) -> Var {
        _ = checked { try outputShape(for: x.shape) }
        return channelAffine(x, scale: scale, shift: offset)
    }
}

/// Keras `Normalization` over the channels: (x − mean) / max(√variance, 1e-7), or its inverse. Adapted
/// statistics are buffers `mean`/`variance` (read from the file, never trained); statistics given in
/// the config are constants (no parameters).
public final class Normalization: Module, Layer {
    public let mean: Parameter?, variance: Parameter?
    private let fixed: (mean: [Float], variance: [Float])
    public let invert: Bool

    /// `adapted`: the statistics are buffers a weight file fills; else constants.
    public init(mean: [Float], variance: [Float], invert: Bool = false, adapted: Bool = false) {
        self.mean = adapted ? Parameter(Tensor(shape: [mean.count], scalars: mean), kind: .buffer) : nil
        self.variance = adapted ? Parameter(Tensor(shape: [variance.count], scalars: variance), kind: .buffer) : nil
        fixed = (mean, variance)
        self.invert = invert
    }

    /// The statistics in use.
    public var statistics: (mean: [Float], variance: [Float]) {
        (mean?.value.scalars ?? fixed.mean, variance?.value.scalars ?? fixed.variance)
    }

    public func outputShape(for s: [Int]) throws -> [Int] {
        let (m, v) = statistics
        guard s.count >= 2, [1, s[1]].contains(m.count), m.count == v.count else {
            throw ShapeError.invalidInput(layer: "Normalization", input: s, reason: "\(m.count) means for \(s.count >= 2 ? s[1] : 0) channels")
        }
        return s
    }
    public func callAsFunction(_ x: Var) -> Var {
        _ = checked { try outputShape(for: x.shape) }
        let (m, v) = statistics
        let sd = v.map { max($0.squareRoot(), 1e-7) }
        if invert { return channelAffine(x, scale: sd, shift: m) }
        return channelAffine(x, scale: sd.map { 1 / $0 }, shift: zip(m, sd).map { -$0 / $1 })
    }
}

/// Keras `PReLU`: a learned slope for negative inputs, per position or shared over axes.
public final class PReLU: Module, Layer {
    public let alpha: Parameter
    public init(alphaShape: [Int]) { alpha = Parameter(Tensor(zeros: alphaShape)) }
    public func outputShape(for s: [Int]) throws -> [Int] {
        let a = alpha.shape
        guard s.count == a.count + 1, zip(a, s.dropFirst()).allSatisfy({ $0 == $1 || $0 == 1 }) else {
            throw ShapeError.invalidInput(layer: "PReLU", input: s, reason: "alpha \(a) does not fit")
        }
        return s
    }
    public func callAsFunction(_ x: Var) -> Var {
        _ = checked { try outputShape(for: x.shape) }
        return prelu(x, Var(alpha))
    }
}

/// Keras `Cropping2D`.
public final class Cropping2D: Module, Layer {
    public let top: Int, bottom: Int, left: Int, right: Int
    public init(top: Int, bottom: Int, left: Int, right: Int) { self.top = top; self.bottom = bottom; self.left = left; self.right = right }
    public func outputShape(for s: [Int]) throws -> [Int] {
        guard s.count == 4, s[2] > top + bottom, s[3] > left + right else {
            throw ShapeError.invalidInput(layer: "Cropping2D", input: s, reason: "cannot crop (\(top), \(bottom), \(left), \(right))")
        }
        return [s[0], s[1], s[2] - top - bottom, s[3] - left - right]
    }
    public func callAsFunction(_ x: Var) -> Var {
        _ = checked { try outputShape(for: x.shape) }
        return crop2d(x, top: top, bottom: bottom, left: left, right: right)
    }
}

/// Keras `UpSampling2D` with nearest interpolation.
public final class UpSampling2D: Module, Layer {
    public let height: Int, width: Int
    public init(height: Int, width: Int) { self.height = height; self.width = width }
    public func outputShape(for s: [Int]) throws -> [Int] {
        guard s.count == 4 else { throw ShapeError.invalidInput(layer: "UpSampling2D", input: s, reason: "expected NCHW") }
        return [s[0], s[1], s[2] * height, s[3] * width]
    }
    public func callAsFunction(_ x: Var) -> Var {
        _ = checked { try outputShape(for: x.shape) }
        return upsampleNearest2d(x, height: height, width: width)
    }
}
