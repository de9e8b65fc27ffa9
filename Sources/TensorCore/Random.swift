import Foundation

/// Graft's one seeded random generator: own implementations (not `SystemRandomNumberGenerator`, not
/// `Int.random(in:using:)`), so a seed gives the same weights, dropout masks, batch orders, splits and
/// augmentations on every platform and Swift version. A value type: each owner (a trainer, a layer,
/// a sample) holds its own, and no locking is needed.
///
/// It runs one of two streams, fixed at creation, so that every seeded result stays what it was
/// before the two generators Graft had were merged into this type:
/// - `init(seed:)`: SplitMix64 (weight initialisation, dropout, the trainer's batch order; saved in
///   checkpoints);
/// - `init(dataSeed:stream:)`: xoshiro256** seeded through SplitMix64 (the image pipeline: shuffles,
///   splits, augmentation), with independent streams per (seed, keys...).
public struct SeededRandom: RandomNumberGenerator, Sendable, Hashable {
    public enum Algorithm: Sendable, Hashable { case splitMix64, xoshiro256StarStar }
    public let algorithm: Algorithm
    /// SplitMix64 uses s0 only.
    private var s0: UInt64, s1: UInt64 = 0, s2: UInt64 = 0, s3: UInt64 = 0

    /// The SplitMix64 stream of `seed`.
    public init(seed: UInt64) {
        algorithm = .splitMix64
        s0 = seed
    }

    /// The xoshiro256** stream for (seed, keys...), e.g. (seed, epoch, sampleIndex). The result depends
    /// only on the numbers, never on thread scheduling or on the order streams are created in.
    public init(dataSeed seed: UInt64, stream keys: UInt64...) {
        var h = seed
        for key in keys {
            var mix = h ^ (key &* 0x9E37_79B9_7F4A_7C15)
            h = SeededRandom.splitMix(&mix)
        }
        algorithm = .xoshiro256StarStar
        var sm = h
        s0 = SeededRandom.splitMix(&sm); s1 = SeededRandom.splitMix(&sm)
        s2 = SeededRandom.splitMix(&sm); s3 = SeededRandom.splitMix(&sm)
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
        switch algorithm {
        case .splitMix64:
            return SeededRandom.splitMix(&s0)
        case .xoshiro256StarStar:
            let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
            let t = s1 << 17
            s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
            s2 ^= t
            s3 = s3 << 45 | s3 >> 19
            return result
        }
    }

    /// An independent stream of the same algorithm derived from this state and a key (e.g. epoch).
    public func derived(_ key: UInt64) -> SeededRandom {
        switch algorithm {
        case .splitMix64:
            var r = SeededRandom(seed: s0 ^ (key &* 0xD6E8_FEB8_6659_FD93))
            _ = r.next()
            return r
        case .xoshiro256StarStar:
            return SeededRandom(dataSeed: s0 ^ s1 ^ s2 ^ s3, stream: key)
        }
    }

    // MARK: Floats (weights, dropout)

    /// Uniform in [0, 1) with 24 random bits.
    public mutating func nextFloat() -> Float { Float(next() >> 40) * (1.0 / Float(1 << 24)) }

    /// Standard normal (Box-Muller).
    public mutating func nextGaussian() -> Float {
        let u1 = max(Double(next() >> 11) * (1.0 / Double(1 << 53)), 1e-300)
        let u2 = Double(next() >> 11) * (1.0 / Double(1 << 53))
        return Float((-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2))
    }

    // MARK: Doubles and integers (data pipeline)

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

/// Checkpoints keep the SplitMix64 form they always had (`{"state": n}`); a data-pipeline stream is
/// written as its four words.
extension SeededRandom: Codable {
    enum CodingKeys: String, CodingKey { case state, xoshiro }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let words = try c.decodeIfPresent([UInt64].self, forKey: .xoshiro) {
            guard words.count == 4 else {
                throw DecodingError.dataCorruptedError(forKey: .xoshiro, in: c, debugDescription: "expected 4 words")
            }
            self.init(dataSeed: 0)
            (s0, s1, s2, s3) = (words[0], words[1], words[2], words[3])
        } else {
            self.init(seed: try c.decode(UInt64.self, forKey: .state))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch algorithm {
        case .splitMix64: try c.encode(s0, forKey: .state)
        case .xoshiro256StarStar: try c.encode([s0, s1, s2, s3], forKey: .xoshiro)
        }
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
