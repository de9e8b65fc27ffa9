import Foundation

/// Small, fast, seedable generator (SplitMix64) so initialisation, shuffling and augmentation are
/// reproducible across runs and platforms.
public struct SeededRandom: RandomNumberGenerator, Sendable, Codable, Hashable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func nextFloat() -> Float { Float(next() >> 40) * (1.0 / Float(1 << 24)) }

    /// Standard normal (Box-Muller).
    public mutating func nextGaussian() -> Float {
        let u1 = max(Double(next() >> 11) * (1.0 / Double(1 << 53)), 1e-300)
        let u2 = Double(next() >> 11) * (1.0 / Double(1 << 53))
        return Float((-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2))
    }

    /// An independent stream derived from this seed and a key (e.g. epoch, sample index).
    public func derived(_ key: UInt64) -> SeededRandom {
        var r = SeededRandom(seed: state ^ (key &* 0xD6E8_FEB8_6659_FD93))
        _ = r.next()
        return r
    }
}

extension Tensor {
    public static func uniform(_ shape: [Int], limit: Float, rng: inout SeededRandom) -> Tensor {
        var t = Tensor(uninitializedShape: shape)
        let p = t.mutablePointer()
        for i in 0..<t.count { p[i] = (rng.nextFloat() * 2 - 1) * limit }
        return t
    }

    public static func normal(_ shape: [Int], std: Float, rng: inout SeededRandom) -> Tensor {
        var t = Tensor(uninitializedShape: shape)
        let p = t.mutablePointer()
        for i in 0..<t.count { p[i] = rng.nextGaussian() * std }
        return t
    }
}
