import TensorCore
import NN

/// Keras `Flatten`: [C, H, W] -> [C·H·W] in CHW order (the Keras map permutes the next Dense's rows).
public struct FlattenKind: LayerKind, ModuleBuildable, Hashable {
    /// The source model flattened channels-first data (Keras `data_format="channels_first"`): its rows
    /// are already in CHW order, so the next Dense's kernel needs no permutation.
    public var channelsFirst = false

    public init(channelsFirst: Bool = false) { self.channelsFirst = channelsFirst }

    public func outputShape(_ inputs: [[Int]]) throws -> [Int] {
        let s = try single(inputs, what: "flatten")
        guard s.count == 3 else { throw shapeFailure(inputs, "head pooling needs a [C, H, W] feature map") }
        return [s.reduce(1, *)]
    }

    public func makeModule(_ inputs: [[Int]], rng: inout SeededRandom) -> Module { Flatten() }
    public static func describing(_ m: Module) -> FlattenKind? { m is Flatten ? FlattenKind() : nil }
}

/// Keras `Reshape` to a vector: [C, 1, 1] (or [C]) -> [C], where Keras's channels-last order and
/// Graft's CHW order hold the same elements (MobileNet's `reshape_2`). Other reshapes would need a
/// layout permutation and are refused.
public struct ReshapeKind: LayerKind, ModuleBuildable, Hashable {
    public var targetShape: [Int]

    public init(targetShape: [Int]) { self.targetShape = targetShape }

    public func outputShape(_ inputs: [[Int]]) throws -> [Int] {
        let s = try single(inputs, what: "reshape")
        guard targetShape.count == 1, s.first == targetShape[0], s.dropFirst().allSatisfy({ $0 == 1 }) else {
            throw shapeFailure(inputs, "reshape to \(targetShape) is supported only from [\(targetShape.first ?? 0), 1, 1]")
        }
        return targetShape
    }

    public func makeModule(_ inputs: [[Int]], rng: inout SeededRandom) -> Module { Reshape(targetShape) }
    public static func describing(_ m: Module) -> ReshapeKind? { (m as? Reshape).map { ReshapeKind(targetShape: $0.shape) } }
}

/// Keras `Dropout` (identity in inference). Its module draws one seed from the model's stream.
public struct DropoutKind: LayerKind, ModuleBuildable, Hashable {
    public var rate: Float

    public init(rate: Float) { self.rate = rate }

    public func outputShape(_ inputs: [[Int]]) throws -> [Int] { try single(inputs, what: "dropout") }
    public func makeModule(_ inputs: [[Int]], rng: inout SeededRandom) -> Module { Dropout(rate: rate, seed: rng.next()) }
    public static func describing(_ m: Module) -> DropoutKind? { (m as? Dropout).map { DropoutKind(rate: $0.rate) } }
}
