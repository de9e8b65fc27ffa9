import TensorCore

/// Shape-preserving layers for each activation. Softmax normalises the channel axis (the last axis
/// of [N, C], axis 1 of NCHW).
public class ActivationLayer: Module, Layer {
    public let activation: Activation

    public init(_ activation: Activation) { self.activation = activation }

    public var name: String { "\(activation)" }

    public func outputShape(for s: [Int]) throws -> [Int] {
        if activation == .softmax && s.count < 2 {
            throw ShapeError.invalidInput(layer: "Softmax", input: s, reason: "expected [N, C] or [N, C, H, W]")
        }
        return s
    }

    public func callAsFunction(_ x: Var) -> Var {
        _ = checked { try outputShape(for: x.shape) }
        return NN.activation(x, activation)
    }
}

public final class ReLU: ActivationLayer { public init() { super.init(.relu) } }
public final class ReLU6: ActivationLayer { public init() { super.init(.relu6) } }
public final class LeakyReLU: ActivationLayer {
    public init(alpha: Float = 0.3) { super.init(.leakyReLU(alpha: alpha)) }
}
public final class ELU: ActivationLayer { public init(alpha: Float = 1) { super.init(.elu(alpha: alpha)) } }
public final class Tanh: ActivationLayer { public init() { super.init(.tanh) } }
public final class AbsTanh: ActivationLayer { public init() { super.init(.absTanh) } }
public final class Sigmoid: ActivationLayer { public init() { super.init(.sigmoid) } }
public final class Softmax: ActivationLayer { public init() { super.init(.softmax) } }
