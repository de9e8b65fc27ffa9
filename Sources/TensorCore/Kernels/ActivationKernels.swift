import Foundation

/// Point-wise activations understood by the kernels. `x` and `y` may alias (in-place forward).
public enum PointwiseActivation: Hashable, Sendable {
    /// relu6 = min(max(x, 0), 6) (Keras `ReLU(6.0)`, MobileNet).
    case relu, relu6, leakyReLU(alpha: Float), elu(alpha: Float), tanh, absTanh, sigmoid

    /// True when dy/dx can be computed from the output alone, so the op may overwrite its input
    /// (fused conv+bias+activation) and the backward pass needs only the output.
    public var derivativeFromOutput: Bool {
        switch self {
        case .relu, .relu6, .tanh, .sigmoid: true
        case let .leakyReLU(a), let .elu(a): a > 0
        case .absTanh: false
        }
    }
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
