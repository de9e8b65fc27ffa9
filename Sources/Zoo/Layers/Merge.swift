import TensorCore
import NN

private func sameShape(_ what: String, _ inputs: [[Int]]) throws -> [Int] {
    guard inputs.count >= 2 else { throw shapeFailure(inputs, "\(what) needs at least 2 inputs, got \(inputs.count)") }
    guard inputs.allSatisfy({ $0 == inputs[0] }) else {
        throw shapeFailure(inputs, "branches disagree: \(inputs.map { "\($0)" }.joined(separator: " vs "))")
    }
    return inputs[0]
}

/// Keras `Add`: the sum of same-shaped inputs (ResNet's residual connection).
public struct AddKind: LayerKind, ModuleBuildable, Hashable {
    public init() {}
    public func outputShape(_ inputs: [[Int]]) throws -> [Int] { try sameShape("add", inputs) }
    public func makeModule(_ inputs: [[Int]], rng: inout SeededRandom) -> Module { Add() }
    public static func describing(_ m: Module) -> AddKind? { m is Add ? AddKind() : nil }
}

/// Keras `Multiply`: the element-wise product of same-shaped inputs.
public struct MultiplyKind: LayerKind, ModuleBuildable, Hashable {
    public init() {}
    public func outputShape(_ inputs: [[Int]]) throws -> [Int] { try sameShape("multiply", inputs) }
    public func makeModule(_ inputs: [[Int]], rng: inout SeededRandom) -> Module { Multiply() }
    public static func describing(_ m: Module) -> MultiplyKind? { m is Multiply ? MultiplyKind() : nil }
}

/// Keras `Subtract`: the first input minus the second.
public struct SubtractKind: LayerKind, ModuleBuildable, Hashable {
    public init() {}
    public func outputShape(_ inputs: [[Int]]) throws -> [Int] {
        guard inputs.count == 2 else { throw shapeFailure(inputs, "subtract takes 2 inputs, got \(inputs.count)") }
        return try sameShape("subtract", inputs)
    }
    public func makeModule(_ inputs: [[Int]], rng: inout SeededRandom) -> Module { Subtract() }
    public static func describing(_ m: Module) -> SubtractKind? { m is Subtract ? SubtractKind() : nil }
}

/// Keras `Average`: the mean of same-shaped inputs.
public struct AverageKind: LayerKind, ModuleBuildable, Hashable {
    public init() {}
    public func outputShape(_ inputs: [[Int]]) throws -> [Int] { try sameShape("average", inputs) }
    public func makeModule(_ inputs: [[Int]], rng: inout SeededRandom) -> Module { Average() }
    public static func describing(_ m: Module) -> AverageKind? { m is Average ? AverageKind() : nil }
}

/// Keras `Maximum`: the element-wise maximum of same-shaped inputs.
public struct MaximumKind: LayerKind, ModuleBuildable, Hashable {
    public init() {}
    public func outputShape(_ inputs: [[Int]]) throws -> [Int] { try sameShape("maximum", inputs) }
    public func makeModule(_ inputs: [[Int]], rng: inout SeededRandom) -> Module { Maximum() }
    public static func describing(_ m: Module) -> MaximumKind? { m is Maximum ? MaximumKind() : nil }
}
