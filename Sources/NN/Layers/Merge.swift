import TensorCore

/// A layer of several inputs (Keras merge layers: Add, Multiply, Concatenate). Merges have no
/// parameters; a model graph feeds them the outputs of the nodes they name, in order.
public protocol MergeLayer: Module {
    func callAsFunction(_ xs: [Var]) -> Var
    func outputShape(for inputShapes: [[Int]]) throws -> [Int]
}

private func sameShapes(_ what: String, _ s: [[Int]]) throws -> [Int] {
    guard let first = s.first, s.count >= 2 else {
        throw ShapeError.invalidInput(layer: what, input: s.first ?? [], reason: "needs at least 2 inputs, got \(s.count)")
    }
    for x in s where x != first {
        throw ShapeError.invalidInput(layer: what, input: first, reason: "inputs disagree: \(s.map { "\($0)" }.joined(separator: " vs "))")
    }
    return first
}

/// Sum of same-shaped inputs (Keras `Add`; a residual connection).
public final class Add: Module, MergeLayer {
    public override init() {}
    public func outputShape(for s: [[Int]]) throws -> [Int] { try sameShapes("Add", s) }
    public func callAsFunction(_ xs: [Var]) -> Var {
        _ = checked { try outputShape(for: xs.map(\.shape)) }
        return xs.dropFirst().reduce(xs[0]) { add($0, $1) }
    }
}

/// Product of same-shaped inputs (Keras `Multiply`).
public final class Multiply: Module, MergeLayer {
    public override init() {}
    public func outputShape(for s: [[Int]]) throws -> [Int] { try sameShapes("Multiply", s) }
    public func callAsFunction(_ xs: [Var]) -> Var {
        _ = checked { try outputShape(for: xs.map(\.shape)) }
        return xs.dropFirst().reduce(xs[0]) { multiply($0, $1) }
    }
}

/// Concatenation along `axis` of NCHW activations (default 1, the channels; Keras `Concatenate` on
/// channels-last data is axis -1, which is this axis in Graft's layout).
public final class Concatenate: Module, MergeLayer {
    public let axis: Int

    public init(axis: Int = 1) { self.axis = axis }

    public func outputShape(for s: [[Int]]) throws -> [Int] {
        guard let first = s.first, s.count >= 2 else {
            throw ShapeError.invalidInput(layer: "Concatenate", input: s.first ?? [], reason: "needs at least 2 inputs, got \(s.count)")
        }
        guard axis > 0, axis < first.count else {
            throw ShapeError.invalidInput(layer: "Concatenate", input: first, reason: "axis \(axis) is not a feature axis")
        }
        var out = first
        out[axis] = 0
        for x in s {
            var rest = x
            if rest.count == first.count { rest[axis] = 0 }
            guard rest == { var f = first; f[axis] = 0; return f }() else {
                throw ShapeError.invalidInput(layer: "Concatenate", input: first,
                                              reason: "inputs disagree off axis \(axis): \(s.map { "\($0)" }.joined(separator: " vs "))")
            }
            out[axis] += x[axis]
        }
        return out
    }

    public func callAsFunction(_ xs: [Var]) -> Var {
        _ = checked { try outputShape(for: xs.map(\.shape)) }
        return concat(xs, axis: axis)
    }
}
