import TensorCore

/// Whether operations record a tape. Evaluation runs inside `withoutGradients { }`.
public enum GradientMode {
    @TaskLocal public static var isEnabled = true
}

public func withoutGradients<R>(_ body: () throws -> R) rethrows -> R {
    try GradientMode.$isEnabled.withValue(false) { try body() }
}

/// The backward half of a `Var`: its gradient, its parents' nodes and its pullback, but not its value.
/// Children link to parents through nodes, so a forward value lives only as long as the caller or a
/// pullback that actually reads it holds it (a BatchNorm output feeding an add is dropped at once).
final class TapeNode {
    var grad: Tensor?
    /// One entry per parent of the op, nil where that parent needs no gradient. Cleared once
    /// `backward` has used them (the tape is single-use, like PyTorch without retain_graph).
    var parents: [TapeNode?]
    /// Given dL/d(self), returns dL/d(parent) for each parent in order (nil where not needed).
    var pullback: ((Tensor) -> [Tensor?])?
    /// For ops whose pullback does not read their own output (BatchNorm, add): the pullback given
    /// dL/d(relu(self)) and relu(self), applying the ReLU mask inside the op's own backward kernels.
    /// `relu` uses it to replace this node, so the pre-activation tensor is never kept.
    var reluPullback: ((Tensor, Tensor) -> [Tensor?])?
    let parameter: Parameter?

    init(parents: [TapeNode?], pullback: ((Tensor) -> [Tensor?])?, parameter: Parameter?) {
        self.parents = parents
        self.pullback = pullback
        self.parameter = parameter
    }
}

/// A value on the dynamic tape and (when something upstream is trainable) how to send a gradient back
/// to its parents. Frozen parameters and inputs are constant leaves, so a frozen trunk records nothing
/// and gets no backward work at all.
public final class Var {
    public let value: Tensor
    public let requiresGrad: Bool
    /// Present exactly when `requiresGrad`.
    let node: TapeNode?

    public var grad: Tensor? { node?.grad }
    var pullback: ((Tensor) -> [Tensor?])? { node?.pullback }
    var reluPullback: ((Tensor, Tensor) -> [Tensor?])? { node?.reluPullback }
    var parameter: Parameter? { node?.parameter }

    /// A constant (input data, or anything that needs no gradient).
    public init(_ value: Tensor) {
        self.value = value
        self.requiresGrad = false
        self.node = nil
    }

    /// A leaf reading a parameter; trainable ones accumulate their gradient into `Parameter.grad`.
    public init(_ parameter: Parameter) {
        self.value = parameter.value
        let needs = parameter.requiresGrad && GradientMode.isEnabled
        self.requiresGrad = needs
        self.node = needs ? TapeNode(parents: [], pullback: nil, parameter: parameter) : nil
    }

    /// An op result. The tape is kept only if some parent needs a gradient.
    public convenience init(_ value: Tensor, parents: [Var], pullback: @escaping (Tensor) -> [Tensor?]) {
        self.init(value, nodes: parents.map(\.node), pullback: pullback)
    }

    /// An op result linked straight to parent nodes (nil: that parent needs no gradient).
    init(_ value: Tensor, nodes: [TapeNode?], pullback: @escaping (Tensor) -> [Tensor?]) {
        self.value = value
        let needs = GradientMode.isEnabled && nodes.contains { $0 != nil }
        self.requiresGrad = needs
        self.node = needs ? TapeNode(parents: nodes, pullback: pullback, parameter: nil) : nil
    }

    /// An op result that a following ReLU may absorb (see `TapeNode.reluPullback`).
    convenience init(_ value: Tensor, parents: [Var], pullback: @escaping (Tensor) -> [Tensor?],
                     reluPullback: @escaping (Tensor, Tensor) -> [Tensor?]) {
        self.init(value, parents: parents, pullback: pullback)
        node?.reluPullback = reluPullback
    }

    public var shape: [Int] { value.shape }

    /// Back-propagates from this (scalar or seeded) node through the tape. `parameterReady` is called
    /// once per parameter as soon as its gradient is complete (after its last use on the tape), so a
    /// data-parallel step can start sending it while backward goes on.
    public func backward(seed: Tensor? = nil, parameterReady: ((Parameter) -> Void)? = nil) {
        guard let root = node else { return }
        let start = seed ?? Tensor(shape: value.shape, repeating: 1)
        check(start.shape == value.shape, "backward: seed \(start.shape) for value \(value.shape)")
        var order: [TapeNode] = []
        var visited = Set<ObjectIdentifier>()
        // Iterative post-order DFS (deep ResNets would stress recursion).
        var stack: [(TapeNode, Bool)] = [(root, false)]
        while let (n, expanded) = stack.popLast() {
            if expanded { order.append(n); continue }
            if !visited.insert(ObjectIdentifier(n)).inserted { continue }
            stack.append((n, true))
            for case let p? in n.parents where !visited.contains(ObjectIdentifier(p)) { stack.append((p, false)) }
        }
        var usesLeft: [ObjectIdentifier: Int] = [:]
        if parameterReady != nil {
            for n in order { if let p = n.parameter { usesLeft[ObjectIdentifier(p), default: 0] += 1 } }
        }
        root.grad = start
        // Pop in reverse topological order; releasing each node's tape lets its inputs' values go.
        while let n = order.popLast() {
            defer { n.parents = []; n.pullback = nil; n.reluPullback = nil }
            guard let g = n.grad else { continue }
            if let p = n.parameter {
                p.accumulateGrad(g)
                if let parameterReady {
                    let id = ObjectIdentifier(p)
                    usesLeft[id, default: 1] -= 1
                    if usesLeft[id] == 0 { parameterReady(p) }
                }
            }
            if n !== root { n.grad = nil }  // free intermediate gradients as we go
            if let pullback = n.pullback {
                let grads = pullback(g)
                for (parent, pg) in zip(n.parents, grads) {
                    guard let parent, let pg else { continue }
                    if parent.grad == nil { parent.grad = pg } else { parent.grad!.addInPlace(pg) }
                }
            }
        }
    }
}
