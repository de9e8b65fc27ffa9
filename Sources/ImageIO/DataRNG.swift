import Foundation

/// Seeded, deterministic generator for the data pipeline: xoshiro256** seeded through SplitMix64.
///
/// Own implementation (not `SystemRandomNumberGenerator`, not `Int.random(in:using:)`) so that a
/// seed gives the same shuffles, splits and augmentations on every platform and Swift version.
/// A value type, so each sample/worker owns its generator and no locking is needed.
public struct DataRNG: RandomNumberGenerator, Sendable, Hashable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    public init(seed: UInt64) {
        var sm = seed
        s0 = DataRNG.splitMix(&sm); s1 = DataRNG.splitMix(&sm)
        s2 = DataRNG.splitMix(&sm); s3 = DataRNG.splitMix(&sm)
    }

    /// An independent stream for (seed, keys...), e.g. (seed, epoch, sampleIndex). The result depends
    /// only on the numbers, never on thread scheduling or on the order streams are created in.
    public init(seed: UInt64, stream keys: UInt64...) {
        var h = seed
        for key in keys {
            var mix = h ^ (key &* 0x9E37_79B9_7F4A_7C15)
            h = DataRNG.splitMix(&mix)
        }
        self.init(seed: h)
    }

    @inline(__always)
    static func splitMix(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func uniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Uniform in [lower, upper) (returns `lower` when the range is empty).
    public mutating func uniform(_ lower: Double, _ upper: Double) -> Double {
        upper > lower ? lower + (upper - lower) * uniform() : lower
    }

    /// Uniform integer in 0..<n (n > 0), without modulo bias (Lemire's multiply-and-reject).
    public mutating func int(below n: Int) -> Int {
        if n <= 1 { return 0 }
        let bound = UInt64(n)
        var product = next().multipliedFullWidth(by: bound)
        if product.low < bound {
            let threshold = (0 &- bound) % bound
            while product.low < threshold { product = next().multipliedFullWidth(by: bound) }
        }
        return Int(product.high)
    }

    /// True with probability p.
    public mutating func chance(_ p: Double) -> Bool { p > 0 && uniform() < p }

    /// Standard normal (Box-Muller; one of the pair is discarded to keep the generator stateless).
    public mutating func gaussian() -> Double {
        let u1 = max(uniform(), 0x1.0p-60)
        let u2 = uniform()
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
    }

    /// Fisher-Yates shuffle.
    public mutating func shuffle<T>(_ array: inout [T]) {
        if array.count < 2 { return }
        for i in stride(from: array.count - 1, to: 0, by: -1) {
            array.swapAt(i, int(below: i + 1))
        }
    }

    /// A permutation of 0..<n.
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        shuffle(&p)
        return p
    }
}
