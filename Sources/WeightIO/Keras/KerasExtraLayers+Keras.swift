import NN
import Zoo

// The Keras side of the merges, resampling and per-channel kinds.

extension SubtractKind: KerasLayer {
    public static var kerasClassNames: [String] { ["Subtract"] }
    public static func fromKeras(_ l: KerasLayerConfig) -> SubtractKind? { SubtractKind() }
}

extension AverageKind: KerasLayer {
    public static var kerasClassNames: [String] { ["Average"] }
    public static func fromKeras(_ l: KerasLayerConfig) -> AverageKind? { AverageKind() }
}

extension MaximumKind: KerasLayer {
    public static var kerasClassNames: [String] { ["Maximum"] }
    public static func fromKeras(_ l: KerasLayerConfig) -> MaximumKind? { MaximumKind() }
}

extension Cropping2DKind: KerasLayer {
    public static var kerasClassNames: [String] { ["Cropping2D"] }
    public func kerasDisagreement(_ l: KerasLayerConfig, module: Module?) -> KerasDisagreement? {
        let own = [top, bottom, left, right]
        if let c = l.cropping, c != own { return .init("cropping", file: c, model: own) }
        return nil
    }
    public static func fromKeras(_ l: KerasLayerConfig) -> Cropping2DKind? {
        guard let c = l.cropping, c.count == 4 else { return nil }
        return Cropping2DKind(top: c[0], bottom: c[1], left: c[2], right: c[3])
    }
}

extension UpSampling2DKind: KerasLayer {
    public static var kerasClassNames: [String] { ["UpSampling2D"] }
    public func kerasDisagreement(_ l: KerasLayerConfig, module: Module?) -> KerasDisagreement? {
        if let s = l.upSize, s != [height, width] { return .init("size", file: s, model: [height, width]) }
        return nil
    }
    /// Nearest interpolation only (bilinear resizes differ between Keras versions).
    public static func fromKeras(_ l: KerasLayerConfig) -> UpSampling2DKind? {
        guard (l.interpolation ?? "nearest") == "nearest" else { return nil }
        let s = l.upSize ?? [2, 2]
        guard s.count == 2 else { return nil }
        return UpSampling2DKind(height: s[0], width: s[1])
    }
}

extension RescalingKind: KerasLayer {
    public static var kerasClassNames: [String] { ["Rescaling"] }
    public static func fromKeras(_ l: KerasLayerConfig) -> RescalingKind? {
        guard let s = l.scaleValues, !s.isEmpty else { return nil }
        return RescalingKind(scale: s.map { Float($0) }, offset: (l.offsetValues ?? [0]).map { Float($0) })
    }
}

extension NormalizationKind: KerasLayer {
    public static var kerasClassNames: [String] { ["Normalization"] }
    /// Channel statistics (axis -1), from the config or adapted (then the file's `mean`/`variance`).
    public static func fromKeras(_ l: KerasLayerConfig) -> NormalizationKind? {
        guard l.axis == nil || l.axis == -1 || l.axis == 3 else { return nil }
        if let m = l.mean {
            guard let v = l.variance, v.count == m.count else { return nil }
            return NormalizationKind(mean: m.map { Float($0) }, variance: v.map { Float($0) }, invert: l.invert ?? false)
        }
        return NormalizationKind(mean: nil, variance: nil, invert: l.invert ?? false)
    }
}

extension PReLUKind: KerasLayer {
    public static var kerasClassNames: [String] { ["PReLU"] }
    /// `shared_axes` among 1, 2 (H, W) and 3 (the channels) of channels-last data.
    public static func fromKeras(_ l: KerasLayerConfig) -> PReLUKind? {
        let axes = Set(l.sharedAxes ?? [])
        guard axes.isSubset(of: [1, 2, 3]) else { return nil }
        return PReLUKind(sharedHeight: axes.contains(1), sharedWidth: axes.contains(2), sharedChannels: axes.contains(3))
    }
}
