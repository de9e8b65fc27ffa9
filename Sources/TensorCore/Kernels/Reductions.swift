/// SIMD reductions used by the normalisation and pooling kernels. Swift does not reassociate
/// floating-point sums, so a plain `s += p[i]` loop stays scalar; eight lanes make it vectorise.
@inline(__always)
func load8(_ p: UnsafePointer<Float>, _ i: Int) -> SIMD8<Float> {
    UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self)
}

public enum Reductions {
    /// Σ p[i]
    @inline(__always)
    public static func sum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>(), i = 0
        while i + 8 <= n { acc += load8(p, i); i += 8 }
        var s = acc.sum()
        while i < n { s += p[i]; i += 1 }
        return s
    }

    /// Σ (p[i] - m)²
    @inline(__always)
    public static func sumSquaredDeviations(_ p: UnsafePointer<Float>, _ n: Int, mean m: Float) -> Float {
        var acc = SIMD8<Float>(), i = 0
        let mv = SIMD8<Float>(repeating: m)
        while i + 8 <= n { let d = load8(p, i) - mv; acc.addProduct(d, d); i += 8 }
        var s = acc.sum()
        while i < n { let d = p[i] - m; s += d * d; i += 1 }
        return s
    }

    /// Σ a[i] * b[i]
    @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>(), i = 0
        while i + 8 <= n { acc.addProduct(load8(a, i), load8(b, i)); i += 8 }
        var s = acc.sum()
        while i < n { s += a[i] * b[i]; i += 1 }
        return s
    }

    /// Σ dy[i] and Σ dy[i] * (x[i] - m) in one pass.
    @inline(__always)
    public static func sumAndCenteredDot(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, _ n: Int,
                                         mean m: Float) -> (Float, Float) {
        var s = SIMD8<Float>(), d = SIMD8<Float>(), i = 0
        let mv = SIMD8<Float>(repeating: m)
        while i + 8 <= n {
            let g = load8(dy, i)
            s += g
            d.addProduct(g, load8(x, i) - mv)
            i += 8
        }
        var ss = s.sum(), dd = d.sum()
        while i < n { ss += dy[i]; dd += dy[i] * (x[i] - m); i += 1 }
        return (ss, dd)
    }

    /// Σ dy[i] and Σ dy[i] * (x[i] - m) over the i where mask[i] > 0.
    @inline(__always)
    public static func sumAndCenteredDot(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, mask: UnsafePointer<Float>,
                                         _ n: Int, mean m: Float) -> (Float, Float) {
        var s = SIMD8<Float>(), d = SIMD8<Float>(), i = 0
        let mv = SIMD8<Float>(repeating: m), zero = SIMD8<Float>()
        while i + 8 <= n {
            let g = load8(dy, i).replacing(with: 0, where: load8(mask, i) .<= zero)
            s += g
            d.addProduct(g, load8(x, i) - mv)
            i += 8
        }
        var ss = s.sum(), dd = d.sum()
        while i < n { if mask[i] > 0 { ss += dy[i]; dd += dy[i] * (x[i] - m) }; i += 1 }
        return (ss, dd)
    }

    /// Per-channel sums of an [N, C, spatial] tensor (e.g. a bias gradient).
    public static func channelSums(_ x: UnsafePointer<Float>, batch: Int, channels: Int, spatial: Int,
                                   into out: UnsafeMutablePointer<Float>) {
        parallelChunks(channels, minChunk: max(1, 65536 / max(1, batch * spatial))) { r in
            for c in r {
                var s: Double = 0
                for n in 0..<batch { s += Double(sum(x + (n * channels + c) * spatial, spatial)) }
                out[c] = Float(s)
            }
        }
    }
}
