import TensorCore

/// A tensor owned by a module: trainable weights, or a buffer (BatchNorm running statistics).
/// A reference type so that importer, freezing, optimizer and head swap all mutate what the layer reads.
public final class Parameter: @unchecked Sendable {
    public enum Kind: String, Sendable { case trainable, buffer }

    public var value: Tensor
    public var grad: Tensor?
    public let kind: Kind
    public var isFrozen = false

    public init(_ value: Tensor, kind: Kind = .trainable) {
        self.value = value
        self.kind = kind
    }

    /// Frozen parameters and buffers are constant leaves: no gradient is computed for them.
    public var requiresGrad: Bool { kind == .trainable && !isFrozen }
    public var shape: [Int] { value.shape }

    /// Adds `g` into `grad` (allocating it on first use).
    public func accumulateGrad(_ g: Tensor) {
        check(g.shape == value.shape, "gradient \(g.shape) for parameter \(value.shape)")
        if grad == nil { grad = g } else { grad!.addInPlace(g) }
    }

    public func zeroGrad() { grad = nil }
}
