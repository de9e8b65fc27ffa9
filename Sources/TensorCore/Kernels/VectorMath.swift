import Foundation

/// Eight-lane exp/tanh/sigmoid (Cephes expf/tanhf polynomials, ~2 ulp over the useful range) so the
/// transcendental activations vectorise instead of calling libm per element.
public enum VectorMath {
    public typealias V = SIMD8<Float>

    @inline(__always)
    public static func exp(_ v: V) -> V {
        let hi = V(repeating: 88.37), lo = V(repeating: -87.33)
        var x = v.replacing(with: hi, where: v .> hi)
        x.replace(with: lo, where: x .< lo)
        // round(x·log2 e) by adding 1.5·2^23: the sum's low mantissa bits hold the integer
        let t = x * 1.442_695_04 + 12_582_912
        let fx = t - 12_582_912
        x = x - fx * 0.693_359_375 + fx * 2.121_944_4e-4
        var y = V(repeating: 1.987_569_15e-4)
        y = y * x + 1.398_199_950_7e-3
        y = y * x + 8.333_451_907_3e-3
        y = y * x + 4.166_579_589_4e-2
        y = y * x + 1.666_666_545_9e-1
        y = y * x + 5.000_000_120_1e-1
        y = y * (x * x) + x + 1
        // 2^fx via the exponent bits (fx in [-126, 127] after the clamp)
        let shifted = bits(t) &- 0x4B40_0000 &+ 127
        return y * float(shifted &<< 23)
    }

    @inline(__always)
    public static func tanh(_ x: V) -> V {
        let a = magnitude(x)
        // |x| >= 0.625: 1 - 2 / (e^{2|x|} + 1), sign restored
        let big = 1 - 2 / (exp(a + a) + 1)
        // |x| < 0.625: odd polynomial (no cancellation near 0)
        let z = x * x
        var p = V(repeating: -5.704_988_727_45e-3)
        p = p * z + 2.063_908_879_54e-2
        p = p * z - 5.373_971_555_31e-2
        p = p * z + 1.333_144_220_36e-1
        p = p * z - 3.333_328_194_22e-1
        let small = p * z * x + x
        var r = big.replacing(with: -big, where: x .< 0)
        r.replace(with: small, where: a .< 0.625)
        return r
    }

    @inline(__always)
    public static func magnitude(_ x: V) -> V { float(bits(x) & 0x7FFF_FFFF) }

    @inline(__always) static func bits(_ x: V) -> SIMD8<UInt32> { unsafeBitCast(x, to: SIMD8<UInt32>.self) }
    @inline(__always) static func float(_ b: SIMD8<UInt32>) -> V { unsafeBitCast(b, to: V.self) }

    @inline(__always)
    public static func sigmoid(_ x: V) -> V { 1 / (1 + exp(-x)) }

    /// y[i] = f(x[i]) for i in range, eight at a time; scalar tail through a one-lane vector.
    @inline(__always)
    static func map(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ r: Range<Int>, _ f: (V) -> V) {
        var i = r.lowerBound
        while i + 8 <= r.upperBound {
            UnsafeMutableRawPointer(y + i).storeBytes(of: f(load8(x, i)), as: V.self)
            i += 8
        }
        if i < r.upperBound {
            var v = V(), n = 0
            while i + n < r.upperBound { v[n] = x[i + n]; n += 1 }
            let out = f(v)
            for k in 0..<n { y[i + k] = out[k] }
        }
    }
}
