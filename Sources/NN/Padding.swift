import TensorCore

/// Spatial padding of a convolution or pooling window.
public enum Padding: Hashable, Sendable {
    /// No padding: out = floor((in - k) / s) + 1.
    case valid
    /// Keras/TF rule: out = ceil(in / s); pad_total = max((out - 1) * s + k - in, 0), top = total / 2,
    /// the extra pixel (if any) at the bottom/right.
    case same
    case explicit(top: Int, bottom: Int, left: Int, right: Int)

    public static func symmetric(_ p: Int) -> Padding { .explicit(top: p, bottom: p, left: p, right: p) }

    /// (before, after) padding along one axis.
    public static func sameAmounts(input: Int, kernel: Int, stride: Int) -> (Int, Int) {
        let out = (input + stride - 1) / stride
        let total = max((out - 1) * stride + kernel - input, 0)
        return (total / 2, total - total / 2)
    }

    /// Concrete (top, bottom, left, right) for an input of `height` x `width`.
    public func amounts(height: Int, width: Int, kernel: (Int, Int), stride: (Int, Int))
        -> (top: Int, bottom: Int, left: Int, right: Int) {
        switch self {
        case .valid: return (0, 0, 0, 0)
        case let .explicit(t, b, l, r): return (t, b, l, r)
        case .same:
            let (t, b) = Padding.sameAmounts(input: height, kernel: kernel.0, stride: stride.0)
            let (l, r) = Padding.sameAmounts(input: width, kernel: kernel.1, stride: stride.1)
            return (t, b, l, r)
        }
    }
}

extension Padding: CustomStringConvertible {
    public var description: String {
        switch self {
        case .valid: "valid"
        case .same: "same"
        case let .explicit(t, b, l, r): t == b && l == r && t == l ? "pad \(t)" : "pad (\(t),\(b),\(l),\(r))"
        }
    }
}

/// Runs a throwing shape computation and traps with its message (the `check` counterpart of `outputShape(for:)`).
@inline(__always)
func checked<T>(_ body: () throws -> T) -> T {
    do { return try body() } catch { fatalError("\(error)") }
}

func sizeString(_ k: (Int, Int)) -> String { "\(k.0)x\(k.1)" }
