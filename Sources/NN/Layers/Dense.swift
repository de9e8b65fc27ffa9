import TensorCore

/// Fully connected layer: y = x · Wᵀ + b, weight [out, in] (PyTorch layout; Keras's (in, out) is
/// transposed by the importer).
public final class Dense: Module, Layer {
    public let weight: Parameter
    public let bias: Parameter?
    public let inputSize: Int
    public let outputSize: Int
    /// Applied after the bias (Keras's `activation=`, softmax included).
    public var fusedActivation: Activation? = nil

    /// Glorot-uniform weights and zero bias, as Keras initialises Dense.
    public init(inputSize: Int, outputSize: Int, useBias: Bool = true, initializer: WeightInitializer = .glorotUniform,
                rng: inout SeededRandom) {
        self.inputSize = inputSize
        self.outputSize = outputSize
        weight = Parameter(initializer.make([outputSize, inputSize], fanIn: inputSize, fanOut: outputSize, rng: &rng))
        bias = useBias ? Parameter(Tensor(zeros: [outputSize])) : nil
    }

    public func callAsFunction(_ x: Var) -> Var {
        check(x.shape.count == 2 && x.shape[1] == inputSize,
              "Dense(\(inputSize)->\(outputSize)): expected input [N, \(inputSize)], got \(x.shape)")
        return linear(x, Var(weight), bias.map { Var($0) }, activation: fusedActivation)
    }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape.count == 2, inputShape[1] == inputSize else {
            throw ShapeError.invalidInput(layer: "Dense(\(inputSize)->\(outputSize))", input: inputShape,
                                          reason: "expected [N, \(inputSize)]")
        }
        return [inputShape[0], outputSize]
    }
}
