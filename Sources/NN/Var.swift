import TensorCore

/// Whether operations record a tape. Evaluation runs inside `withoutGradients { }`.
public enum GradientMode {
    @TaskLocal public static var isEnabled = true
}

public func withoutGradients<R>(_ body: () throws -> R) rethrows -> R {
    try GradientMode.$isEnabled.withValue(false) { try body() }
}

/// A node of the dynamic tape: a value, and (when something upstream is trainable) how to send a
/// gradient back to its parents. Frozen parameters and inputs are constant leaves, so a frozen trunk
/// records nothing and gets no backward work at all.
public final class Var {
    public let value: Tensor
    public internal(set) var grad: Tensor?
    public let requiresGrad: Bool
    let parents: [Var]
    /// Given dL/d(self), returns dL/d(parent) for each parent in order (nil where not needed).
    let pullback: ((Tensor) -> [Tensor?])?
    let parameter: Parameter?

    /// A constant (input data, or anything that needs no gradient).
    public init(_ value: Tensor) {
        self.value = value
        self.requiresGrad = false
        self.parents = []
        self.pullback = nil
        self.parameter = nil
    }

    /// A leaf reading a parameter; trainable ones accumulate their gradient into `Parameter.grad`.
    public init(_ parameter: Parameter) {
        self.value = parameter.value
        let needs = parameter.requiresGrad && GradientMode.isEnabled
        self.requiresGrad = needs
        self.parents = []
        self.pullback = nil
        self.parameter = needs ? parameter : nil
    }

    /// An op result. The tape is kept only if some parent needs a gradient.
    public init(_ value: Tensor, parents: [Var], pullback: @escaping (Tensor) -> [Tensor?]) {
        self.value = value
        let needs = GradientMode.isEnabled && parents.contains { $0.requiresGrad }
        self.requiresGrad = needs
        self.parents = needs ? parents : []
        self.pullback = needs ? pullback : nil
        self.parameter = nil
    }

    public var shape: [Int] { value.shape }

    /// Back-propagates from this (scalar or seeded) node through the tape.
    public func backward(seed: Tensor? = nil) {
        guard requiresGrad else { return }
        let start = seed ?? Tensor(shape: value.shape, repeating: 1)
        check(start.shape == value.shape, "backward: seed \(start.shape) for value \(value.shape)")
        var order: [Var] = []
        var visited = Set<ObjectIdentifier>()
        // Iterative post-order DFS (deep ResNets would stress recursion).
        var stack: [(Var, Bool)] = [(self, false)]
        while let (node, expanded) = stack.popLast() {
            if expanded { order.append(node); continue }
            if !visited.insert(ObjectIdentifier(node)).inserted { continue }
            stack.append((node, true))
            for p in node.parents where p.requiresGrad && !visited.contains(ObjectIdentifier(p)) {
                stack.append((p, false))
            }
        }
        grad = start
        for node in order.reversed() {
            guard let g = node.grad else { continue }
            if let p = node.parameter { p.accumulateGrad(g) }
            if let pullback = node.pullback {
                let grads = pullback(g)
                for (parent, pg) in zip(node.parents, grads) where parent.requiresGrad {
                    guard let pg else { continue }
                    if parent.grad == nil { parent.grad = pg } else { parent.grad!.addInPlace(pg) }
                }
            }
            if node !== self { node.grad = nil }  // free intermediate gradients as we go
        }
    }
}
