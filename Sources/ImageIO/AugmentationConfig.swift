/// A closed range of Doubles, written `[lower, upper]` in recipes (a single number means [x, x]).
public struct Interval: Codable, Sendable, Equatable, Hashable {
    public var lower: Double
    public var upper: Double
    public init(_ lower: Double, _ upper: Double) { self.lower = lower; self.upper = upper }

    public init(from decoder: Decoder) throws {
        if let single = try? decoder.singleValueContainer().decode(Double.self) {
            self.init(single, single); return
        }
        var list = try decoder.unkeyedContainer()
        let lower = try list.decode(Double.self), upper = try list.decode(Double.self)
        guard list.isAtEnd else {
            throw DecodingError.dataCorruptedError(in: list, debugDescription: "an interval is [lower, upper]")
        }
        self.init(lower, upper)
    }

    public func encode(to encoder: Encoder) throws {
        var list = encoder.unkeyedContainer()
        try list.encode(lower); try list.encode(upper)
    }
}

/// What geometric transforms put where the source image does not reach.
public enum FillMode: String, Codable, Sendable, CaseIterable {
    /// `fillValue` (0...255) in every channel (torchvision's default, with 0).
    case constant
    /// The nearest edge pixel (Keras's default).
    case nearest
    /// Mirror the image at its edges.
    case reflect
}

/// Random training-time augmentation. Every field defaults to "off", so a recipe only names what it
/// turns on; unknown keys are rejected when decoding (a typo must fail, not silently do nothing).
/// Probabilities are 0...1, angles in degrees, pixel values on the 0...255 scale.
public struct AugmentationConfig: Codable, Sendable, Equatable, Hashable {
    /// Random resized crop (torchvision RandomResizedCrop): area fraction `cropScale`, aspect ratio
    /// `cropRatio` (sampled log-uniformly), then resized to the output. Replaces the eval resize.
    public var randomResizedCrop = false
    public var cropScale = Interval(0.08, 1)
    public var cropRatio = Interval(3.0 / 4.0, 4.0 / 3.0)
    /// Probability of a left-right / top-bottom mirror.
    public var horizontalFlip = 0.0
    public var verticalFlip = 0.0
    /// Rotation angle, uniform in [-rotation, rotation] degrees (counter-clockwise positive).
    public var rotation = 0.0
    /// Shift, uniform in [-translate, translate] times the width (x) and height (y), independently.
    public var translate = 0.0
    /// Scale factor, uniform in zoom (e.g. [0.9, 1.1]); > 1 zooms in.
    public var zoom = Interval(1, 1)
    /// Horizontal shear angle, uniform in [-shear, shear] degrees.
    public var shear = 0.0
    public var fillMode = FillMode.constant
    public var fillValue = 0.0
    /// Colour jitter (torchvision ColorJitter): factors uniform in [max(0, 1 - x), 1 + x], applied in
    /// the fixed order brightness, contrast, saturation.
    public var brightness = 0.0
    public var contrast = 0.0
    public var saturation = 0.0
    /// Standard deviation of additive Gaussian noise, as a fraction of the full range (0.02 = 5.1/255).
    public var gaussianNoise = 0.0
    /// Random erasing (torchvision RandomErasing), applied after normalisation: probability, area
    /// fraction, aspect ratio, and whether the patch is filled with N(0, 1) noise instead of 0.
    public var erasing = 0.0
    public var erasingScale = Interval(0.02, 0.33)
    public var erasingRatio = Interval(0.3, 3.3)
    public var erasingRandomFill = false

    public init() {}

    /// True when nothing random would happen.
    public var isIdentity: Bool { !(randomResizedCrop || hasGeometry || hasPhotometric || erasing > 0) }
    var hasAffine: Bool { rotation != 0 || translate != 0 || shear != 0 || zoom != Interval(1, 1) }
    var hasGeometry: Bool { hasAffine || horizontalFlip > 0 || verticalFlip > 0 }
    var hasPhotometric: Bool { brightness > 0 || contrast > 0 || saturation > 0 || gaussianNoise > 0 }

    /// Throws for values that cannot work (a negative probability, an empty crop range, ...).
    public func validate() throws {
        func fail(_ why: String) -> ImageIOError { .invalidConfiguration("augmentation: \(why)") }
        for (name, p) in [("horizontalFlip", horizontalFlip), ("verticalFlip", verticalFlip), ("erasing", erasing)]
        where !(0...1).contains(p) { throw fail("\(name) \(p) must be a probability in 0...1") }
        for (name, v) in [("rotation", rotation), ("translate", translate), ("shear", shear), ("brightness", brightness),
                          ("contrast", contrast), ("saturation", saturation), ("gaussianNoise", gaussianNoise)]
        where !(v >= 0 && v.isFinite) { throw fail("\(name) \(v) must be >= 0") }
        if !(0...255).contains(fillValue) { throw fail("fillValue \(fillValue) must be in 0...255") }
        if shear >= 90 { throw fail("shear \(shear) must be below 90 degrees") }
        for (name, r, limit) in [("cropScale", cropScale, 1.0), ("erasingScale", erasingScale, 1.0)]
        where !(r.lower > 0 && r.lower <= r.upper && r.upper <= limit) {
            throw fail("\(name) [\(r.lower), \(r.upper)] must satisfy 0 < lower <= upper <= \(limit)")
        }
        for (name, r) in [("cropRatio", cropRatio), ("erasingRatio", erasingRatio), ("zoom", zoom)]
        where !(r.lower > 0 && r.lower <= r.upper && r.upper.isFinite) {
            throw fail("\(name) [\(r.lower), \(r.upper)] must satisfy 0 < lower <= upper")
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case randomResizedCrop, cropScale, cropRatio, horizontalFlip, verticalFlip, rotation, translate, zoom, shear
        case fillMode, fillValue, brightness, contrast, saturation, gaussianNoise
        case erasing, erasingScale, erasingRatio, erasingRandomFill
    }

    public init(from decoder: Decoder) throws {
        try StrictKeys.check(decoder, known: CodingKeys.allCases.map(\.stringValue), what: "augmentation")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T {
            try c.decodeIfPresent(T.self, forKey: key) ?? fallback
        }
        let d = AugmentationConfig()
        randomResizedCrop = try value(.randomResizedCrop, d.randomResizedCrop)
        cropScale = try value(.cropScale, d.cropScale)
        cropRatio = try value(.cropRatio, d.cropRatio)
        horizontalFlip = try value(.horizontalFlip, d.horizontalFlip)
        verticalFlip = try value(.verticalFlip, d.verticalFlip)
        rotation = try value(.rotation, d.rotation)
        translate = try value(.translate, d.translate)
        zoom = try value(.zoom, d.zoom)
        shear = try value(.shear, d.shear)
        fillMode = try value(.fillMode, d.fillMode)
        fillValue = try value(.fillValue, d.fillValue)
        brightness = try value(.brightness, d.brightness)
        contrast = try value(.contrast, d.contrast)
        saturation = try value(.saturation, d.saturation)
        gaussianNoise = try value(.gaussianNoise, d.gaussianNoise)
        erasing = try value(.erasing, d.erasing)
        erasingScale = try value(.erasingScale, d.erasingScale)
        erasingRatio = try value(.erasingRatio, d.erasingRatio)
        erasingRandomFill = try value(.erasingRandomFill, d.erasingRandomFill)
    }
}

/// Recipes are hand-written, so a misspelt key must fail loudly instead of silently meaning "default".
enum StrictKeys {
    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    static func check(_ decoder: Decoder, known: [String], what: String) throws {
        let all = try decoder.container(keyedBy: AnyKey.self)
        let knownSet = Set(known)
        if let unknown = all.allKeys.first(where: { !knownSet.contains($0.stringValue) }) {
            throw DecodingError.dataCorruptedError(
                forKey: unknown, in: all,
                debugDescription: "unknown \(what) key '\(unknown.stringValue)' (known: \(known.joined(separator: ", ")))")
        }
    }
}
