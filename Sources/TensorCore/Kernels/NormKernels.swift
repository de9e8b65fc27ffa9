import Foundation

/// Batch normalisation over an [N, C, spatial] layout (spatial = H*W, or 1 for [N, C]), parallel over channels.
public enum BatchNormKernels {
    static func overChannels(_ batch: Int, _ channels: Int, _ spatial: Int, _ body: (Int) -> Void) {
        parallelChunks(channels, minChunk: max(1, 32768 / max(1, batch * spatial))) { r in for c in r { body(c) } }
    }

    /// Per-channel mean and biased variance (two passes, per-plane SIMD sums accumulated in Double).
    public static func meanVariance(_ x: UnsafePointer<Float>, batch: Int, channels: Int, spatial: Int,
                                    mean: UnsafeMutablePointer<Float>, variance: UnsafeMutablePointer<Float>) {
        let m = Double(batch * spatial)
        overChannels(batch, channels, spatial) { c in
            var s: Double = 0
            for n in 0..<batch { s += Double(Reductions.sum(x + (n * channels + c) * spatial, spatial)) }
            let mu = Float(s / m)
            var v: Double = 0
            for n in 0..<batch {
                v += Double(Reductions.sumSquaredDeviations(x + (n * channels + c) * spatial, spatial, mean: mu))
            }
            mean[c] = mu
            variance[c] = Float(v / m)
        }
    }

    /// y = x * scale[c] + shift[c]; `y` may alias `x`.
    public static func scaleShift(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, batch: Int, channels: Int,
                                  spatial: Int, scale: UnsafePointer<Float>, shift: UnsafePointer<Float>?) {
        let planes = batch * channels
        parallelChunks(planes, minChunk: max(1, 32768 / max(1, spatial))) { r in
            for p in r {
                let c = p % channels, a = scale[c], b = shift?[c] ?? 0
                let src = x + p * spatial, dst = y + p * spatial
                for i in 0..<spatial { dst[i] = src[i] * a + b }
            }
        }
    }

    /// Per-channel Σ dy and Σ dy * (x - mean) * invStd (the gradients of beta and gamma). With `mask`
    /// (a fused ReLU's output), dy counts only where mask > 0.
    public static func gradientSums(x: UnsafePointer<Float>, dy: UnsafePointer<Float>, mask: UnsafePointer<Float>? = nil,
                                    batch: Int, channels: Int,
                                    spatial: Int, mean: UnsafePointer<Float>, invStd: UnsafePointer<Float>,
                                    sumDy: UnsafeMutablePointer<Float>, sumDyXhat: UnsafeMutablePointer<Float>) {
        overChannels(batch, channels, spatial) { c in
            var s: Double = 0, d: Double = 0
            for n in 0..<batch {
                let off = (n * channels + c) * spatial
                let (a, b) = mask.map { Reductions.sumAndCenteredDot(dy: dy + off, x: x + off, mask: $0 + off, spatial, mean: mean[c]) }
                    ?? Reductions.sumAndCenteredDot(dy: dy + off, x: x + off, spatial, mean: mean[c])
                s += Double(a); d += Double(b)
            }
            sumDy[c] = Float(s)
            sumDyXhat[c] = Float(d) * invStd[c]
        }
    }

    /// Training-mode input gradient: dx = gamma * invStd * (dy - Σdy/M - xhat * Σ(dy*xhat)/M), with dy
    /// taken as 0 where `mask` (a fused ReLU's output) is not positive.
    public static func trainingInputGradient(x: UnsafePointer<Float>, dy: UnsafePointer<Float>, mask: UnsafePointer<Float>? = nil,
                                             dx: UnsafeMutablePointer<Float>,
                                             batch: Int, channels: Int, spatial: Int,
                                             mean: UnsafePointer<Float>, invStd: UnsafePointer<Float>, gamma: UnsafePointer<Float>,
                                             sumDy: UnsafePointer<Float>, sumDyXhat: UnsafePointer<Float>) {
        let planes = batch * channels
        let invM = 1 / Float(batch * spatial)
        parallelChunks(planes, minChunk: max(1, 32768 / max(1, spatial))) { r in
            for p in r {
                let c = p % channels
                let k = gamma[c] * invStd[c], mu = mean[c], inv = invStd[c]
                let a = sumDy[c] * invM, b = sumDyXhat[c] * invM
                let xs = x + p * spatial, gs = dy + p * spatial, out = dx + p * spatial
                if let mask {
                    let ms = mask + p * spatial
                    for i in 0..<spatial { out[i] = k * ((ms[i] > 0 ? gs[i] : 0) - a - (xs[i] - mu) * inv * b) }
                } else {
                    for i in 0..<spatial { out[i] = k * (gs[i] - a - (xs[i] - mu) * inv * b) }
                }
            }
        }
    }
}

/// Local response normalisation across channels (AlexNet/Caffe ACROSS_CHANNELS):
/// y_c = x_c / (k + alpha/size * Σ_{j in window(c)} x_j²)^beta, window(c) = [c - (size-1)/2, c + size/2].
public enum LRNKernels {
    @inline(__always)
    static func power(_ s: Float, _ beta: Float) -> Float {  // s^-beta, with Caffe's 0.75 fast path
        if beta == 0.75 { let r = s.squareRoot(); return 1 / (r * r.squareRoot()) }
        return exp(-beta * log(s))
    }

    /// Fills `scale` ([C, spatial]) for one image.
    static func scales(_ x: UnsafePointer<Float>, channels: Int, spatial: Int, size: Int, alpha: Float, k: Float,
                       scale: UnsafeMutablePointer<Float>) {
        let pre = (size - 1) / 2, post = size - 1 - pre
        let a = alpha / Float(size)
        for c in 0..<channels {
            let dst = scale + c * spatial
            dst.initialize(repeating: 0, count: spatial)
            for j in max(0, c - pre)...min(channels - 1, c + post) {
                let src = x + j * spatial
                for i in 0..<spatial { dst[i] += src[i] * src[i] }
            }
            for i in 0..<spatial { dst[i] = k + a * dst[i] }
        }
    }

    public static func forward(x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, batch: Int, channels: Int, spatial: Int,
                               size: Int, alpha: Float, beta: Float, k: Float) {
        let per = channels * spatial
        parallelFor(batch) { n in
            let scale = UnsafeMutablePointer<Float>.allocate(capacity: per)
            defer { scale.deallocate() }
            let xs = x + n * per, ys = y + n * per
            scales(xs, channels: channels, spatial: spatial, size: size, alpha: alpha, k: k, scale: scale)
            for i in 0..<per { ys[i] = xs[i] * power(scale[i], beta) }
        }
    }

    /// dx_i = dy_i * s_i^-beta - (2 alpha beta / size) * x_i * Σ_{c : i in window(c)} dy_c * y_c / s_c.
    public static func backward(x: UnsafePointer<Float>, dy: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                                batch: Int, channels: Int, spatial: Int, size: Int, alpha: Float, beta: Float, k: Float) {
        let per = channels * spatial
        let pre = (size - 1) / 2, post = size - 1 - pre
        let coef = 2 * alpha * beta / Float(size)
        parallelFor(batch) { n in
            let scale = UnsafeMutablePointer<Float>.allocate(capacity: 2 * per)
            defer { scale.deallocate() }
            let t = scale + per
            let xs = x + n * per, gs = dy + n * per, out = dx + n * per
            scales(xs, channels: channels, spatial: spatial, size: size, alpha: alpha, k: k, scale: scale)
            for i in 0..<per {
                let p = power(scale[i], beta)
                out[i] = gs[i] * p
                t[i] = gs[i] * xs[i] * p / scale[i]   // dy * y / s
            }
            for i in 0..<channels {
                let dst = out + i * spatial, xi = xs + i * spatial
                // c with c - pre <= i <= c + post
                for c in max(0, i - post)...min(channels - 1, i + pre) {
                    let tc = t + c * spatial
                    for s in 0..<spatial { dst[s] -= coef * xi[s] * tc[s] }
                }
            }
        }
    }
}
