import Foundation

/// Point-wise activations understood by the kernels. `x` and `y` may alias (in-place forward).
public enum PointwiseActivation: Hashable, Sendable {
    /// relu6 = min(max(x, 0), 6) (Keras `ReLU(6.0)`, MobileNet).
    case relu, relu6, leakyReLU(alpha: Float), elu(alpha: Float), tanh, absTanh, sigmoid
    /// Keras `selu`: scale·elu(x, alpha) with the self-normalising constants.
    case selu
    /// clip(slope·x + 0.5, 0, 1): Keras 2's `hard_sigmoid` has slope 0.2, Keras 3's 1/6.
    case hardSigmoid(slope: Float)
    /// x·sigmoid(x) (Keras `swish` / `silu`).
    case swish
    /// x·Φ(x) with the exact normal CDF (Keras `gelu`, approximate=False).
    case gelu
    /// log(1 + eˣ), x / (1 + |x|), eˣ.
    case softplus, softsign, exponential
    /// Keras's `ReLU(max_value, negative_slope, threshold)`: t = x if x > threshold else 0, clipped to
    /// [0, max] when there is a max, minus slope·max(threshold − x, 0).
    case thresholdedReLU(maxValue: Float?, slope: Float, threshold: Float)

    /// True when dy/dx can be computed from the output alone, so the op may overwrite its input
    /// (fused conv+bias+activation) and the backward pass needs only the output.
    public var derivativeFromOutput: Bool {
        switch self {
        case .relu, .relu6, .tanh, .sigmoid, .selu, .softplus, .softsign, .exponential: true
        case let .leakyReLU(a), let .elu(a): a > 0
        case let .hardSigmoid(a): a > 0
        case .absTanh, .swish, .gelu, .thresholdedReLU: false
        }
    }

    static let seluScale: Float = 1.050_700_987_355_480_5, seluAlpha: Float = 1.673_263_242_354_377_2
}

public enum ActivationKernels {
    static let grain = 1 << 15

    public static func forward(_ f: PointwiseActivation, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                               count n: Int) {
        switch f {
        case .relu:
            parallelChunks(n, minChunk: grain) { r in for i in r { let v = x[i]; y[i] = v > 0 ? v : 0 } }
        case .relu6:
            parallelChunks(n, minChunk: grain) { r in for i in r { y[i] = min(max(x[i], 0), 6) } }
        case let .leakyReLU(a):
            parallelChunks(n, minChunk: grain) { r in for i in r { let v = x[i]; y[i] = v > 0 ? v : a * v } }
        case let .elu(a):
            parallelChunks(n, minChunk: grain / 4) { r in
                VectorMath.map(x, y, r) { v in v.replacing(with: a * (VectorMath.exp(v) - 1), where: v .<= 0) }
            }
        case .tanh:
            parallelChunks(n, minChunk: grain / 4) { r in VectorMath.map(x, y, r) { VectorMath.tanh($0) } }
        case .absTanh:
            parallelChunks(n, minChunk: grain / 4) { r in VectorMath.map(x, y, r) { VectorMath.magnitude(VectorMath.tanh($0)) } }
        case .sigmoid:
            parallelChunks(n, minChunk: grain / 4) { r in VectorMath.map(x, y, r) { VectorMath.sigmoid($0) } }
        case .selu:
            let (s, a) = (PointwiseActivation.seluScale, PointwiseActivation.seluAlpha)
            parallelChunks(n, minChunk: grain / 4) { r in
                VectorMath.map(x, y, r) { v in (s * v).replacing(with: s * a * (VectorMath.exp(v) - 1), where: v .<= 0) }
            }
        case let .hardSigmoid(a):
            parallelChunks(n, minChunk: grain) { r in for i in r { y[i] = min(max(a * x[i] + 0.5, 0), 1) } }
        case .swish:
            parallelChunks(n, minChunk: grain / 4) { r in VectorMath.map(x, y, r) { $0 * VectorMath.sigmoid($0) } }
        case .gelu:
            parallelChunks(n, minChunk: grain / 8) { r in for i in r { let v = x[i]; y[i] = 0.5 * v * (1 + erf(v * 0.707_106_77)) } }
        case .softplus:   // max(x, 0) + log1p(e^-|x|): no overflow for large |x|
            parallelChunks(n, minChunk: grain / 8) { r in for i in r { let v = x[i]; y[i] = max(v, 0) + log1p(exp(-abs(v))) } }
        case .softsign:
            parallelChunks(n, minChunk: grain) { r in for i in r { let v = x[i]; y[i] = v / (1 + abs(v)) } }
        case .exponential:
            parallelChunks(n, minChunk: grain / 4) { r in VectorMath.map(x, y, r) { VectorMath.exp($0) } }
        case let .thresholdedReLU(m, slope, t):
            parallelChunks(n, minChunk: grain) { r in
                for i in r {
                    let v = x[i]
                    var p = v > t ? v : 0
                    if let m { p = min(max(p, 0), m) }
                    y[i] = p - slope * max(t - v, 0)
                }
            }
        }
    }

    /// dx = dy * f'(x). `x` may be nil when `f.derivativeFromOutput`; `dx` may alias `dy`.
    public static func backward(_ f: PointwiseActivation, x: UnsafePointer<Float>?, y: UnsafePointer<Float>,
                                dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, count n: Int) {
        check(x != nil || f.derivativeFromOutput, "ActivationKernels.backward(\(f)) needs the input")
        switch f {
        case .relu:
            parallelChunks(n, minChunk: grain) { r in for i in r { dx[i] = y[i] > 0 ? dy[i] : 0 } }
        case .relu6:  // flat (zero slope) below 0 and above 6, as TensorFlow's Relu6Grad
            parallelChunks(n, minChunk: grain) { r in for i in r { dx[i] = y[i] > 0 && y[i] < 6 ? dy[i] : 0 } }
        case let .leakyReLU(a):
            if let x {
                parallelChunks(n, minChunk: grain) { r in for i in r { dx[i] = x[i] > 0 ? dy[i] : a * dy[i] } }
            } else {
                parallelChunks(n, minChunk: grain) { r in for i in r { dx[i] = y[i] > 0 ? dy[i] : a * dy[i] } }
            }
        case let .elu(a):
            if a > 0 {  // y <= 0  =>  f'(x) = a * e^x = y + a
                parallelChunks(n, minChunk: grain) { r in for i in r { dx[i] = y[i] > 0 ? dy[i] : dy[i] * (y[i] + a) } }
            } else {
                let x = x!
                parallelChunks(n, minChunk: grain / 8) { r in for i in r { dx[i] = x[i] > 0 ? dy[i] : dy[i] * a * exp(x[i]) } }
            }
        case .tanh:
            parallelChunks(n, minChunk: grain) { r in for i in r { dx[i] = dy[i] * (1 - y[i] * y[i]) } }
        case .absTanh:
            let x = x!
            parallelChunks(n, minChunk: grain) { r in
                for i in r {
                    let d = dy[i] * (1 - y[i] * y[i])
                    dx[i] = x[i] > 0 ? d : (x[i] < 0 ? -d : 0)
                }
            }
        case .sigmoid:
            parallelChunks(n, minChunk: grain) { r in for i in r { dx[i] = dy[i] * y[i] * (1 - y[i]) } }
        case .selu:   // y <= 0  =>  f'(x) = s·a·e^x = y + s·a
            let sa = PointwiseActivation.seluScale * PointwiseActivation.seluAlpha, s = PointwiseActivation.seluScale
            parallelChunks(n, minChunk: grain) { r in for i in r { dx[i] = y[i] > 0 ? dy[i] * s : dy[i] * (y[i] + sa) } }
        case let .hardSigmoid(a):
            parallelChunks(n, minChunk: grain) { r in for i in r { dx[i] = y[i] > 0 && y[i] < 1 ? dy[i] * a : 0 } }
        case .swish:
            let x = x!
            parallelChunks(n, minChunk: grain / 8) { r in
                for i in r { let s = 1 / (1 + exp(-x[i])); dx[i] = dy[i] * (s + x[i] * s * (1 - s)) }
            }
        case .gelu:   // Φ(x) + x·φ(x)
            let x = x!
            parallelChunks(n, minChunk: grain / 8) { r in
                for i in r {
                    let v = x[i]
                    dx[i] = dy[i] * (0.5 * (1 + erf(v * 0.707_106_77)) + v * 0.398_942_28 * exp(-0.5 * v * v))
                }
            }
        case .softplus:   // sigmoid(x) = 1 - e^-y
            parallelChunks(n, minChunk: grain / 8) { r in for i in r { dx[i] = dy[i] * (1 - exp(-y[i])) } }
        case .softsign:   // 1 / (1 + |x|)² = (1 - |y|)²
            parallelChunks(n, minChunk: grain) { r in for i in r { let d = 1 - abs(y[i]); dx[i] = dy[i] * d * d } }
        case .exponential:
            parallelChunks(n, minChunk: grain) { r in for i in r { dx[i] = dy[i] * y[i] } }
        case let .thresholdedReLU(m, slope, t):
            let x = x!
            parallelChunks(n, minChunk: grain) { r in
                for i in r {
                    let v = x[i]
                    var d: Float = v > t ? 1 : 0
                    if let m, !(v > 0 && v < m) { d = 0 }
                    if v < t { d += slope }
                    dx[i] = dy[i] * d
                }
            }
        }
    }

    /// Softmax over the middle axis of an [outer, channels, inner] layout (NCHW channels, or the
    /// last axis of [N, C] with inner = 1). Max-subtracted, so large logits do not overflow.
    public static func softmaxForward(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                                      outer: Int, channels: Int, inner: Int) {
        parallelChunks(outer, minChunk: max(1, 16384 / max(1, channels * inner))) { r in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 2 * inner)
            defer { scratch.deallocate() }
            let m = scratch, s = scratch + inner
            if inner == 1 {
                for o in r {
                    let xr = x + o * channels, yr = y + o * channels
                    var mx = -Float.infinity
                    for c in 0..<channels { mx = max(mx, xr[c]) }
                    let mv = VectorMath.V(repeating: mx)
                    VectorMath.map(xr, yr, 0..<channels) { VectorMath.exp($0 - mv) }
                    let inv = 1 / Reductions.sum(yr, channels)
                    for c in 0..<channels { yr[c] *= inv }
                }
                return
            }
            for o in r {
                let xb = x + o * channels * inner, yb = y + o * channels * inner
                m.initialize(repeating: -.infinity, count: inner)
                s.initialize(repeating: 0, count: inner)
                for c in 0..<channels {
                    let row = xb + c * inner
                    for i in 0..<inner { m[i] = max(m[i], row[i]) }
                }
                for c in 0..<channels {
                    let row = xb + c * inner, out = yb + c * inner
                    for i in 0..<inner { let e = exp(row[i] - m[i]); out[i] = e; s[i] += e }
                }
                for i in 0..<inner { s[i] = 1 / s[i] }
                for c in 0..<channels {
                    let out = yb + c * inner
                    for i in 0..<inner { out[i] *= s[i] }
                }
            }
        }
    }

    /// dx = y * (dy - Σ_c dy*y) over the channel axis.
    public static func softmaxBackward(y: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                                       outer: Int, channels: Int, inner: Int) {
        parallelChunks(outer, minChunk: max(1, 16384 / max(1, channels * inner))) { r in
            let dot = UnsafeMutablePointer<Float>.allocate(capacity: inner)
            defer { dot.deallocate() }
            for o in r {
                let base = o * channels * inner
                dot.initialize(repeating: 0, count: inner)
                for c in 0..<channels {
                    let yr = y + base + c * inner, gr = dy + base + c * inner
                    for i in 0..<inner { dot[i] += yr[i] * gr[i] }
                }
                for c in 0..<channels {
                    let yr = y + base + c * inner, gr = dy + base + c * inner, out = dx + base + c * inner
                    for i in 0..<inner { out[i] = yr[i] * (gr[i] - dot[i]) }
                }
            }
        }
    }
}
