import TensorCore
import NN

/// Keras `Concatenate` on the channel axis (Keras axis -1 of NHWC, axis 0 of Graft's per-image
/// [C, H, W] or [F]): the inputs agree on every other axis.
public struct ConcatenateKind: LayerKind, ModuleBuildable, Hashable {
    public init() {}

    public func outputShape(_ inputs: [[Int]]) throws -> [Int] {
        guard inputs.count >= 2 else { throw shapeFailure(inputs, "concatenate needs at least 2 inputs, got \(inputs.count)") }
        let rest = inputs[0].dropFirst()
        guard !inputs[0].isEmpty, inputs.allSatisfy({ $0.count == inputs[0].count && $0.dropFirst() == rest }) else {
            throw shapeFailure(inputs, "inputs disagree off the channel axis: \(inputs.map { "\($0)" }.joined(separator: " vs "))")
        }
        return [inputs.reduce(0) { $0 + $1[0] }] + rest
    }

    public func makeModule(_ inputs: [[Int]], rng: inout SeededRandom) -> Module { Concatenate(axis: 1) }
    public static func describing(_ m: Module) -> ConcatenateKind? { (m as? Concatenate)?.axis == 1 ? ConcatenateKind() : nil }
}
