import TensorCore
import NN

/// Keras `DepthwiseConv2D`: each input channel convolved with its own `depthMultiplier` filters
/// (groups = channels), output channel c·m + j for filter j of channel c (TensorFlow's order).
/// Weight [C·m, 1, k, k]; trains through the grouped convolution (oneDNN grouped conv).
public struct DepthwiseConv2DKind: LayerKind, ModuleBuildable, Hashable {
    public var kernel: Int
    public var stride: Int = 1
    public var padding: SpecPadding = .valid
    public var depthMultiplier: Int = 1
    public var useBias: Bool = true
    public var activation: Activation? = nil

    public init(kernel: Int, stride: Int = 1, padding: SpecPadding = .valid, depthMultiplier: Int = 1,
                useBias: Bool = true, activation: Activation? = nil) {
        self.kernel = kernel; self.stride = stride; self.padding = padding
        self.depthMultiplier = depthMultiplier; self.useBias = useBias; self.activation = activation
    }

    public func outputShape(_ inputs: [[Int]]) throws -> [Int] {
        let (c, _, _) = try spatial(inputs, what: "depthwise convolution")
        guard depthMultiplier > 0 else { throw shapeFailure(inputs, "depth multiplier \(depthMultiplier) must be positive") }
        let (oh, ow) = try windowed(inputs, what: "depthwise convolution", kernel: kernel, stride: stride, padding: padding)
        return [c * depthMultiplier, oh, ow]
    }

    public func parameters(_ inputs: [[Int]]) -> [(name: String, shape: [Int])] {
        let out = inputs[0][0] * depthMultiplier
        return [("weight", [out, 1, kernel, kernel])] + (useBias ? [("bias", [out])] : [])
    }

    public func makeModule(_ inputs: [[Int]], rng: inout SeededRandom) -> Module {
        let c = inputs[0][0]
        let conv = Conv2D(inChannels: c, outChannels: c * depthMultiplier, kernel: kernel, stride: stride, padding: padding.nn,
                          useBias: useBias, groups: c, rng: &rng)
        conv.fusedActivation = activation
        return conv
    }

    /// A grouped convolution with one input channel per group (and more than one group).
    public static func describing(_ m: Module) -> DepthwiseConv2DKind? {
        guard let c = m as? Conv2D, c.groups > 1, c.groups == c.inChannels, c.kernelSize.0 == c.kernelSize.1,
              c.stride.0 == c.stride.1 else { return nil }
        return DepthwiseConv2DKind(kernel: c.kernelSize.0, stride: c.stride.0, padding: SpecPadding(c.padding),
                                   depthMultiplier: c.outChannels / c.inChannels, useBias: c.bias != nil,
                                   activation: c.fusedActivation)
    }
}
