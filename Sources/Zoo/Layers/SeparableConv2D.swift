import TensorCore
import NN

/// Keras `SeparableConv2D`: depthwise (kernel, stride, padding, dilation, `depthMultiplier`) then a 1x1
/// convolution to `filters`, bias and activation after it. Parameters `depthwiseWeight` [C·m, 1, k, k],
/// `pointwiseWeight` [F, C·m, 1, 1], `bias` [F]. Runs (and trains) as its module in every path.
public struct SeparableConv2DKind: LayerKind, ModuleBuildable, Hashable {
    public var filters: Int
    public var kernel: Int
    public var stride: Int = 1
    public var padding: SpecPadding = .valid
    public var depthMultiplier: Int = 1
    public var dilation: Int = 1
    public var useBias: Bool = true
    public var activation: Activation? = nil

    public init(filters: Int, kernel: Int, stride: Int = 1, padding: SpecPadding = .valid, depthMultiplier: Int = 1,
                dilation: Int = 1, useBias: Bool = true, activation: Activation? = nil) {
        self.filters = filters; self.kernel = kernel; self.stride = stride; self.padding = padding
        self.depthMultiplier = depthMultiplier; self.dilation = dilation; self.useBias = useBias; self.activation = activation
    }

    public func outputShape(_ inputs: [[Int]]) throws -> [Int] {
        _ = try spatial(inputs, what: "separable convolution")
        guard depthMultiplier > 0, dilation > 0 else { throw shapeFailure(inputs, "depth multiplier and dilation must be positive") }
        let (oh, ow) = try windowed(inputs, what: "separable convolution", kernel: (kernel - 1) * dilation + 1, stride: stride, padding: padding)
        return [filters, oh, ow]
    }

    public func parameters(_ inputs: [[Int]]) -> [(name: String, shape: [Int])] {
        let mid = inputs[0][0] * depthMultiplier
        return [("depthwiseWeight", [mid, 1, kernel, kernel]), ("pointwiseWeight", [filters, mid, 1, 1])]
            + (useBias ? [("bias", [filters])] : [])
    }

    public func makeModule(_ inputs: [[Int]], rng: inout SeededRandom) -> Module {
        let m = SeparableConv2D(inChannels: inputs[0][0], outChannels: filters, kernel: kernel, stride: stride, padding: padding.nn,
                                multiplier: depthMultiplier, dilation: dilation, useBias: useBias, rng: &rng)
        m.fusedActivation = activation
        return m
    }

    public static func describing(_ m: Module) -> SeparableConv2DKind? {
        guard let s = m as? SeparableConv2D else { return nil }
        return SeparableConv2DKind(filters: s.outChannels, kernel: s.kernel, stride: s.stride, padding: SpecPadding(s.padding),
                                   depthMultiplier: s.multiplier, dilation: s.dilation, useBias: s.bias != nil, activation: s.fusedActivation)
    }
}
