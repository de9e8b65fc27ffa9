import TensorCore
import NN

/// Keras `Conv2D`: `filters` output channels, a kernel `kernel` x `kernelWidth` (nil: square), square
/// stride, optional bias, `groups`, and a fused activation (nil: linear). Weight [filters, C/groups, kh, kw].
public struct Conv2DKind: LayerKind, ModuleBuildable, Hashable {
    public var filters: Int
    public var kernel: Int
    public var stride: Int = 1
    public var padding: SpecPadding = .valid
    public var useBias: Bool = true
    public var groups: Int = 1
    public var activation: Activation? = nil
    /// Kernel width when it differs from the height `kernel` (nil: square).
    public var kernelWidth: Int? = nil
    /// Keras `dilation_rate` (square; > 1 only with a square kernel): built as a `DilatedConv2D`.
    public var dilation: Int = 1

    public init(filters: Int, kernel: Int, stride: Int = 1, padding: SpecPadding = .valid, useBias: Bool = true,
                groups: Int = 1, activation: Activation? = nil, kernelWidth: Int? = nil, dilation: Int = 1) {
        self.filters = filters; self.kernel = kernel; self.stride = stride; self.padding = padding
        self.useBias = useBias; self.groups = groups; self.activation = activation
        self.kernelWidth = kernelWidth == kernel ? nil : kernelWidth
        self.dilation = dilation
    }

    /// (height, width) of the kernel.
    public var kernelSize: (Int, Int) { (kernel, kernelWidth ?? kernel) }

    public func outputShape(_ inputs: [[Int]]) throws -> [Int] {
        let (c, _, _) = try spatial(inputs, what: "convolution")
        guard c % groups == 0, filters % groups == 0 else {
            throw shapeFailure(inputs, "channels \(c) -> \(filters) are not divisible by groups \(groups)")
        }
        guard dilation == 1 || (dilation > 1 && kernelWidth == nil) else {
            throw shapeFailure(inputs, "dilation \(dilation) needs a square kernel")
        }
        let span = (kernel - 1) * dilation + 1
        let (oh, ow) = try windowed(inputs, what: "convolution", kernel: span, kernelWidth: kernelWidth.map { ($0 - 1) * dilation + 1 },
                                     stride: stride, padding: padding)
        return [filters, oh, ow]
    }

    public func parameters(_ inputs: [[Int]]) -> [(name: String, shape: [Int])] {
        [("weight", [filters, inputs[0][0] / groups, kernelSize.0, kernelSize.1])] + (useBias ? [("bias", [filters])] : [])
    }

    public func makeModule(_ inputs: [[Int]], rng: inout SeededRandom) -> Module {
        if dilation > 1 {
            let d = DilatedConv2D(inChannels: inputs[0][0], outChannels: filters, kernel: kernel, stride: stride, padding: padding.nn,
                                  dilation: dilation, groups: groups, useBias: useBias, rng: &rng)
            d.fusedActivation = activation
            return d
        }
        let c = Conv2D(inChannels: inputs[0][0], outChannels: filters, kernelSize: kernelSize, strides: (stride, stride),
                       padding: padding.nn, useBias: useBias, groups: groups, rng: &rng)
        c.fusedActivation = activation
        return c
    }

    public static func describing(_ m: Module) -> Conv2DKind? {
        if let d = m as? DilatedConv2D {
            return Conv2DKind(filters: d.outChannels, kernel: d.kernel, stride: d.stride, padding: SpecPadding(d.padding), useBias: d.bias != nil,
                              groups: d.groups, activation: d.fusedActivation, dilation: d.dilation)
        }
        guard let c = m as? Conv2D, c.stride.0 == c.stride.1 else { return nil }
        return Conv2DKind(filters: c.outChannels, kernel: c.kernelSize.0, stride: c.stride.0, padding: SpecPadding(c.padding),
                          useBias: c.bias != nil, groups: c.groups, activation: c.fusedActivation, kernelWidth: c.kernelSize.1)
    }
}
