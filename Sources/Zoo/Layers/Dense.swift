import TensorCore
import NN

/// Keras `Dense` on flat [F] features: weight [units, F], optional bias, fused activation.
public struct DenseKind: LayerKind, ModuleBuildable, Hashable {
    public var units: Int
    public var useBias: Bool = true
    public var activation: Activation? = nil

    public init(units: Int, useBias: Bool = true, activation: Activation? = nil) {
        self.units = units; self.useBias = useBias; self.activation = activation
    }

    public func outputShape(_ inputs: [[Int]]) throws -> [Int] {
        let s = try single(inputs, what: "dense layer")
        guard s.count == 1 else { throw shapeFailure(inputs, "dense layer needs flat [N, F] input; add flatten or global pooling") }
        return [units]
    }

    public func parameters(_ inputs: [[Int]]) -> [(name: String, shape: [Int])] {
        [("weight", [units, inputs[0][0]])] + (useBias ? [("bias", [units])] : [])
    }

    public func makeModule(_ inputs: [[Int]], rng: inout SeededRandom) -> Module {
        let d = Dense(inputSize: inputs[0][0], outputSize: units, useBias: useBias, rng: &rng)
        d.fusedActivation = activation
        return d
    }

    /// A `Dense`, or the `ExtendedDense` that `ZooModel.extendHead` makes.
    public static func describing(_ m: Module) -> DenseKind? {
        switch m {
        case let d as Dense: DenseKind(units: d.outputSize, useBias: d.bias != nil, activation: d.fusedActivation)
        case let d as ExtendedDense: DenseKind(units: d.outputSize, useBias: d.bias != nil, activation: d.fusedActivation)
        default: nil
        }
    }
}
