import NN
import TensorCore

/// Updates parameters from their gradients. Works on `[(path, Parameter)]` (what
/// `Module.namedParameters()` returns) and skips anything that is frozen, a buffer, or has no
/// gradient, so the trainer can re-read the list every step and gradual unfreezing needs no rebuild.
/// State (momentum, Adam moments, step counts) is keyed by parameter path, so it survives head swaps
/// and checkpoints by name, never by position.
public protocol Optimizer: Sendable {
    /// One update with base learning rate `lr` (each parameter group scales it).
    mutating func step(_ params: [(String, Parameter)], lr: Float)
    /// Every state tensor, keyed `"<path>.<slot>"` (e.g. `fc.weight.momentum`, `fc.weight.step`).
    func exportState() -> [String: Tensor]
    /// Replaces the state with one from `exportState()`; throws on keys this optimizer does not use.
    mutating func importState(_ state: [String: Tensor]) throws
}

/// Per-parameter learning-rate and weight-decay multipliers chosen by path; the first matching
/// group wins, unmatched parameters get 1 and 1. Example: trunk at a tenth of the head's rate,
/// `ParamGroup(lrScale: 0.1) { !$0.hasPrefix("fc.") }`.
public struct ParamGroup: Sendable {
    /// Whether a parameter path belongs to the group.
    public let match: @Sendable (String) -> Bool
    /// Multiplier of the base learning rate for the group.
    public let lrScale: Float
    /// Multiplier of the weight decay for the group (0 exempts it).
    public let weightDecayScale: Float

    public init(lrScale: Float = 1, weightDecayScale: Float = 1, match: @escaping @Sendable (String) -> Bool) {
        self.match = match
        self.lrScale = lrScale
        self.weightDecayScale = weightDecayScale
    }

    /// Parameters under any of `prefixes` (a path or a path followed by `.`).
    public static func prefixes(_ prefixes: [String], lrScale: Float = 1, weightDecayScale: Float = 1) -> ParamGroup {
        ParamGroup(lrScale: lrScale, weightDecayScale: weightDecayScale) { path in
            prefixes.contains { path == $0 || path.hasPrefix($0 + ".") }
        }
    }
}

/// Regularisation and grouping shared by every optimizer.
///
/// - `weightDecay` (L2): for `SGD` and `Adam` it is added to the gradient, `g += weightDecay * w`,
///   exactly PyTorch's `weight_decay`. Keras's `kernel_regularizer=l2(λ)` adds `λ·Σw²` to the loss,
///   whose gradient is `2λ·w`, so Keras `l2(λ)` equals `weightDecay = 2λ`. For `AdamW` it is
///   decoupled: `w -= lr * weightDecay * w` before the Adam step (PyTorch `AdamW`).
///   It applies to every trainable parameter, biases included (PyTorch's default); use a
///   `ParamGroup` with `weightDecayScale: 0` to exempt biases or norms.
/// - `l1`: `g += l1 * sign(w)`, the gradient of Keras `l1(λ)` with `λ = l1` (sign(0) = 0).
public struct OptimizerOptions: Sendable {
    /// L2 coefficient (see above for its Keras equivalent).
    public var weightDecay: Float
    /// L1 coefficient.
    public var l1: Float
    /// Per-path learning-rate and weight-decay scales; the first matching group wins.
    public var groups: [ParamGroup]

    public init(weightDecay: Float = 0, l1: Float = 0, groups: [ParamGroup] = []) {
        self.weightDecay = weightDecay
        self.l1 = l1
        self.groups = groups
    }

    /// (learning-rate scale, weight-decay scale) for `path`.
    public func scales(for path: String) -> (lr: Float, decay: Float) {
        for g in groups where g.match(path) { return (g.lrScale, g.weightDecayScale) }
        return (1, 1)
    }
}

public enum OptimizerStateError: Error, Equatable, CustomStringConvertible {
    case unexpectedKey(String)
    case shapeMismatch(key: String, expected: [Int], found: [Int])

    public var description: String {
        switch self {
        case .unexpectedKey(let k): "optimizer state: unexpected key '\(k)'"
        case let .shapeMismatch(k, e, f): "optimizer state: '\(k)' has shape \(f), expected \(e)"
        }
    }
}

/// Elements per chunk when an update loop is split across threads (small tensors stay serial).
let optimizerMinChunk = 1 << 15

/// The parameters an optimizer touches this step.
@inline(__always)
func updatable(_ params: [(String, Parameter)]) -> [(String, Parameter, Tensor)] {
    params.compactMap { path, p in
        guard p.requiresGrad, let g = p.grad else { return nil }
        check(g.shape == p.value.shape, "optimizer: gradient \(g.shape) for \(path) \(p.value.shape)")
        return (path, p, g)
    }
}

/// Regularised gradient element: g + wd*w + l1*sign(w).
@inline(__always)
func regularised(_ g: Float, _ w: Float, wd: Float, l1: Float) -> Float {
    let sign: Float = w > 0 ? 1 : (w < 0 ? -1 : 0)
    return g + wd * w + l1 * sign
}

/// Splits a `"<path>.<slot>"` key.
func splitStateKey(_ key: String) -> (path: String, slot: String)? {
    guard let dot = key.lastIndex(of: ".") else { return nil }
    return (String(key[..<dot]), String(key[key.index(after: dot)...]))
}

/// A step count stored as a one-element tensor (exact up to 2^24 steps).
func stepTensor(_ n: Int) -> Tensor { Tensor(shape: [1], scalars: [Float(n)]) }
