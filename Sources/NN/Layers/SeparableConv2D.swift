import TensorCore

/// Keras `SeparableConv2D`: a depthwise convolution (each channel with its `multiplier` filters, the
/// stride, padding and dilation) then a 1x1 convolution to `outChannels`, bias and activation last.
/// Weights: depthwise [C·m, 1, k, k], pointwise [F, C·m, 1, 1], bias [F].
public final class SeparableConv2D: Module, Layer {
    public let depthwiseWeight: Parameter
    public let pointwiseWeight: Parameter
    public let bias: Parameter?
    public let inChannels: Int, outChannels: Int, multiplier: Int, kernel: Int, stride: Int, dilation: Int
    public let padding: Padding
    public var fusedActivation: Activation? = nil

    public init(inChannels: Int, outChannels: Int, kernel: Int, stride: Int = 1, padding: Padding = .valid, multiplier: Int = 1,
                dilation: Int = 1, useBias: Bool = true, rng: inout SeededRandom) {
        self.inChannels = inChannels; self.outChannels = outChannels; self.multiplier = multiplier
        self.kernel = kernel; self.stride = stride; self.dilation = dilation; self.padding = padding
        let mid = inChannels * multiplier
        depthwiseWeight = Parameter(WeightInitializer.glorotUniform.make([mid, 1, kernel, kernel], fanIn: kernel * kernel,
                                                                          fanOut: multiplier * kernel * kernel, rng: &rng))
        pointwiseWeight = Parameter(WeightInitializer.glorotUniform.make([outChannels, mid, 1, 1], fanIn: mid, fanOut: outChannels, rng: &rng))
        bias = useBias ? Parameter(Tensor(zeros: [outChannels])) : nil
    }

    var effectiveKernel: Int { (kernel - 1) * dilation + 1 }

    func geometries(_ s: [Int]) throws -> (Conv2DGeometry, Conv2DGeometry) {
        guard s.count == 4, s[1] == inChannels else {
            throw ShapeError.invalidInput(layer: "SeparableConv2D(\(inChannels)->\(outChannels))", input: s, reason: "expected [N, \(inChannels), H, W]")
        }
        let k = effectiveKernel, mid = inChannels * multiplier
        let p = padding.amounts(height: s[2], width: s[3], kernel: (k, k), stride: (stride, stride))
        guard s[2] + p.top + p.bottom >= k, s[3] + p.left + p.right >= k else {
            throw ShapeError.invalidInput(layer: "SeparableConv2D", input: s, reason: "is too small for a \(k)x\(k) window")
        }
        let d = Conv2DGeometry(batch: s[0], inChannels: inChannels, inHeight: s[2], inWidth: s[3], outChannels: mid,
                               kernelHeight: k, kernelWidth: k, strideH: stride, strideW: stride,
                               padTop: p.top, padBottom: p.bottom, padLeft: p.left, padRight: p.right, groups: inChannels)
        let o = d.outputShape
        let pw = Conv2DGeometry(batch: s[0], inChannels: mid, inHeight: o[2], inWidth: o[3], outChannels: outChannels,
                                kernelHeight: 1, kernelWidth: 1, strideH: 1, strideW: 1, padTop: 0, padBottom: 0, padLeft: 0, padRight: 0,
                                groups: 1)
        return (d, pw)
    }

    public func outputShape(for s: [Int]) throws -> [Int] { try geometries(s).1.outputShape }

    public func callAsFunction(_ x: Var) -> Var {
        let (d, p) = checked { try geometries(x.shape) }
        let mid = conv2d(x, dilateKernel(Var(depthwiseWeight), dilation), nil, d)
        return conv2d(mid, Var(pointwiseWeight), bias.map { Var($0) }, p, activation: fusedActivation)
    }
}

/// A `Conv2D` with dilation > 1 (Keras `dilation_rate`): the convolution with the dilated kernel
/// (`dilateKernel`), so forward and backward are the ordinary convolution's. Weight [O, C/groups, k, k].
public final class DilatedConv2D: Module, Layer {
    public let weight: Parameter
    public let bias: Parameter?
    public let inChannels: Int, outChannels: Int, kernel: Int, stride: Int, dilation: Int, groups: Int
    public let padding: Padding
    public var fusedActivation: Activation? = nil

    public init(inChannels: Int, outChannels: Int, kernel: Int, stride: Int = 1, padding: Padding = .valid, dilation: Int,
                groups: Int = 1, useBias: Bool = true, rng: inout SeededRandom) {
        self.inChannels = inChannels; self.outChannels = outChannels; self.kernel = kernel; self.stride = stride
        self.dilation = dilation; self.groups = groups; self.padding = padding
        let field = kernel * kernel
        weight = Parameter(WeightInitializer.glorotUniform.make([outChannels, inChannels / groups, kernel, kernel],
                                                                fanIn: inChannels / groups * field, fanOut: outChannels * field, rng: &rng))
        bias = useBias ? Parameter(Tensor(zeros: [outChannels])) : nil
    }

    func geometry(_ s: [Int]) throws -> Conv2DGeometry {
        guard s.count == 4, s[1] == inChannels else {
            throw ShapeError.invalidInput(layer: "DilatedConv2D(\(inChannels)->\(outChannels))", input: s, reason: "expected [N, \(inChannels), H, W]")
        }
        let k = (kernel - 1) * dilation + 1
        let p = padding.amounts(height: s[2], width: s[3], kernel: (k, k), stride: (stride, stride))
        guard s[2] + p.top + p.bottom >= k, s[3] + p.left + p.right >= k else {
            throw ShapeError.invalidInput(layer: "DilatedConv2D", input: s, reason: "is too small for a dilated \(k)x\(k) window")
        }
        return Conv2DGeometry(batch: s[0], inChannels: inChannels, inHeight: s[2], inWidth: s[3], outChannels: outChannels,
                              kernelHeight: k, kernelWidth: k, strideH: stride, strideW: stride,
                              padTop: p.top, padBottom: p.bottom, padLeft: p.left, padRight: p.right, groups: groups)
    }

    public func outputShape(for s: [Int]) throws -> [Int] { try geometry(s).outputShape }

    public func callAsFunction(_ x: Var) -> Var {
        let g = checked { try geometry(x.shape) }
        return conv2d(x, dilateKernel(Var(weight), dilation), bias.map { Var($0) }, g, activation: fusedActivation)
    }
}
