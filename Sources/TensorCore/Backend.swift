/// Geometry of a 2-D convolution over NCHW input and OIHW (grouped: [O, C/groups, KH, KW]) weights.
/// Padding may be asymmetric (Keras 'same' with stride > 1 pads one more pixel bottom/right).
public struct Conv2DGeometry: Hashable, Sendable {
    public var batch: Int, inChannels: Int, inHeight: Int, inWidth: Int
    public var outChannels: Int, kernelHeight: Int, kernelWidth: Int
    public var strideH: Int, strideW: Int
    public var padTop: Int, padBottom: Int, padLeft: Int, padRight: Int
    public var groups: Int

    public init(batch: Int, inChannels: Int, inHeight: Int, inWidth: Int,
                outChannels: Int, kernelHeight: Int, kernelWidth: Int,
                strideH: Int = 1, strideW: Int = 1,
                padTop: Int = 0, padBottom: Int = 0, padLeft: Int = 0, padRight: Int = 0, groups: Int = 1) {
        self.batch = batch; self.inChannels = inChannels; self.inHeight = inHeight; self.inWidth = inWidth
        self.outChannels = outChannels; self.kernelHeight = kernelHeight; self.kernelWidth = kernelWidth
        self.strideH = strideH; self.strideW = strideW
        self.padTop = padTop; self.padBottom = padBottom; self.padLeft = padLeft; self.padRight = padRight
        self.groups = groups
    }

    /// floor((W + P_total - F) / S) + 1
    public var outHeight: Int { (inHeight + padTop + padBottom - kernelHeight) / strideH + 1 }
    public var outWidth: Int { (inWidth + padLeft + padRight - kernelWidth) / strideW + 1 }
    public var inputShape: [Int] { [batch, inChannels, inHeight, inWidth] }
    public var outputShape: [Int] { [batch, outChannels, outHeight, outWidth] }
    public var weightShape: [Int] { [outChannels, inChannels / groups, kernelHeight, kernelWidth] }
    /// Multiply-adds x 2 for one forward pass.
    public var flops: Double {
        2.0 * Double(batch * outChannels * outHeight * outWidth) * Double(inChannels / groups * kernelHeight * kernelWidth)
    }
}

/// Geometry of 2-D pooling over NCHW (symmetric or asymmetric padding; padded cells are ignored).
public struct Pool2DGeometry: Hashable, Sendable {
    public var batch: Int, channels: Int, inHeight: Int, inWidth: Int
    public var kernelHeight: Int, kernelWidth: Int, strideH: Int, strideW: Int
    public var padTop: Int, padBottom: Int, padLeft: Int, padRight: Int

    public init(batch: Int, channels: Int, inHeight: Int, inWidth: Int, kernelHeight: Int, kernelWidth: Int,
                strideH: Int, strideW: Int, padTop: Int = 0, padBottom: Int = 0, padLeft: Int = 0, padRight: Int = 0) {
        self.batch = batch; self.channels = channels; self.inHeight = inHeight; self.inWidth = inWidth
        self.kernelHeight = kernelHeight; self.kernelWidth = kernelWidth; self.strideH = strideH; self.strideW = strideW
        self.padTop = padTop; self.padBottom = padBottom; self.padLeft = padLeft; self.padRight = padRight
    }

    public var outHeight: Int { (inHeight + padTop + padBottom - kernelHeight) / strideH + 1 }
    public var outWidth: Int { (inWidth + padLeft + padRight - kernelWidth) / strideW + 1 }
    public var outputShape: [Int] { [batch, channels, outHeight, outWidth] }
}

/// Kernel-level interface: raw buffers and sizes, no shape logic (shapes are checked above, in the ops).
/// Each pass of each op can pick a different implementation (im2col+sgemm, oneDNN, SIMD Swift)
/// without the layers noticing.
public protocol Backend: Sendable {
    /// Row-major C = alpha * op(A) * op(B) + beta * C; op(A) is m x k, op(B) is k x n.
    func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
              a: UnsafePointer<Float>, b: UnsafePointer<Float>, beta: Float, c: UnsafeMutablePointer<Float>)

    func conv2dForward(_ g: Conv2DGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                       bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>)
    /// dInput = conv_transpose(dOutput, weight); overwrites dInput.
    func conv2dBackwardData(_ g: Conv2DGeometry, dOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                            dInput: UnsafeMutablePointer<Float>)
    /// dWeight (and dBias when non-nil) from input and dOutput; overwrites both.
    func conv2dBackwardWeights(_ g: Conv2DGeometry, input: UnsafePointer<Float>, dOutput: UnsafePointer<Float>,
                               dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>?)
}
