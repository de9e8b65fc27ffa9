import TensorCore
import NN

/// Keras `Rescaling`: x·scale + offset (one value, or one per channel). No parameters.
public struct RescalingKind: LayerKind, ModuleBuildable, Hashable {
    public var scale: [Float], offset: [Float]
    public init(scale: [Float], offset: [Float]) { self.scale = scale; self.offset = offset }

    public func outputShape(_ inputs: [[Int]]) throws -> [Int] {
        let s = try single(inputs, what: "rescaling")
        guard let c = s.first, [1, c].contains(scale.count), [1, c].contains(offset.count) else {
            throw shapeFailure(inputs, "\(scale.count) scales / \(offset.count) offsets do not fit \(s)")
        }
        return s
    }
    public func makeModule(_ inputs: [[Int]], rng: inout SeededRandom) -> Module { Rescaling(scale: scale, offset: offset) }
    public static func describing(_ m: Module) -> RescalingKind? { (m as? Rescaling).map { RescalingKind(scale: $0.scale, offset: $0.offset) } }
}

/// Keras `Normalization` over the channels: (x − mean) / max(√variance, 1e-7) (or the inverse). The
/// config's mean and variance, or, when the layer was adapted, buffers `mean` / `variance` [C] that the
/// file fills.
public struct NormalizationKind: LayerKind, ModuleBuildable, Hashable {
    /// Values from the config (nil: adapted, read from the file's weights).
    public var mean: [Float]?, variance: [Float]?
    /// Adapted statistics per channel (true) or one for all (false).
    public var perChannel: Bool = true
    public var invert: Bool = false
    public init(mean: [Float]?, variance: [Float]?, perChannel: Bool = true, invert: Bool = false) {
        self.mean = mean; self.variance = variance; self.perChannel = perChannel; self.invert = invert
    }

    public func outputShape(_ inputs: [[Int]]) throws -> [Int] {
        let s = try single(inputs, what: "normalization")
        if let m = mean, let c = s.first, ![1, c].contains(m.count) || m.count != variance?.count {
            throw shapeFailure(inputs, "\(m.count) means / \(variance?.count ?? 0) variances do not fit \(s)")
        }
        return s
    }

    public func parameters(_ inputs: [[Int]]) -> [(name: String, shape: [Int])] {
        guard mean == nil else { return [] }
        let c = perChannel ? inputs[0][0] : 1
        return [("mean", [c]), ("variance", [c])]
    }

    public func makeModule(_ inputs: [[Int]], rng: inout SeededRandom) -> Module {
        let c = perChannel ? inputs[0][0] : 1
        return Normalization(mean: mean ?? Array(repeating: 0, count: c), variance: variance ?? Array(repeating: 1, count: c), invert: invert,
                             adapted: mean == nil)
    }

    public static func describing(_ m: Module) -> NormalizationKind? {
        guard let n = m as? Normalization else { return nil }
        let (mean, variance) = n.statistics
        return n.mean == nil ? NormalizationKind(mean: mean, variance: variance, perChannel: mean.count > 1, invert: n.invert)
                             : NormalizationKind(mean: nil, variance: nil, perChannel: mean.count > 1, invert: n.invert)
    }
}

/// Keras `PReLU`: alpha [C, H, W] with Keras's `shared_axes` (H, W) of size 1.
public struct PReLUKind: LayerKind, ModuleBuildable, Hashable {
    public var sharedHeight: Bool, sharedWidth: Bool, sharedChannels: Bool
    public init(sharedHeight: Bool = false, sharedWidth: Bool = false, sharedChannels: Bool = false) {
        self.sharedHeight = sharedHeight; self.sharedWidth = sharedWidth; self.sharedChannels = sharedChannels
    }

    public func outputShape(_ inputs: [[Int]]) throws -> [Int] { try single(inputs, what: "PReLU") }

    func alphaShape(_ s: [Int]) -> [Int] {
        guard s.count == 3 else { return [sharedChannels ? 1 : s[0]] }
        return [sharedChannels ? 1 : s[0], sharedHeight ? 1 : s[1], sharedWidth ? 1 : s[2]]
    }

    public func parameters(_ inputs: [[Int]]) -> [(name: String, shape: [Int])] { [("alpha", alphaShape(inputs[0]))] }
    public func makeModule(_ inputs: [[Int]], rng: inout SeededRandom) -> Module { PReLU(alphaShape: alphaShape(inputs[0])) }
    public static func describing(_ m: Module) -> PReLUKind? {
        guard let p = m as? PReLU else { return nil }
        let a = p.alpha.shape
        return PReLUKind(sharedHeight: a.count == 3 && a[1] == 1, sharedWidth: a.count == 3 && a[2] == 1, sharedChannels: a[0] == 1)
    }
}
