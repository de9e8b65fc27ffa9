import TensorCore

/// How an image is brought to the network's input size when there is no augmentation (evaluation).
public enum ResizeMode: String, Codable, Sendable, CaseIterable {
    /// Scale so the shorter side is `resizeShorterSide` (default: just covers the output), then crop
    /// the centre (torchvision `Resize(256)` + `CenterCrop(224)`). Keeps the aspect ratio.
    case centerCrop
    /// Scale both sides to the output size, ignoring the aspect ratio.
    case stretch
}

/// The deterministic part of the input pipeline: size, resize policy, pixel format, normalisation.
/// Output is one NCHW float image per sample; `Augmenter` adds the random part on top.
public struct ImagePreprocessing: Codable, Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var resize: ResizeMode
    /// For `.centerCrop`: the shorter side after scaling (e.g. 256 for a 224 crop). Never smaller than
    /// what covers the output. nil: scale just enough to cover the output.
    public var resizeShorterSide: Int?
    /// `.rgb` or `.gray` (the number of input channels of the model).
    public var pixelFormat: PixelFormat
    public var normalization: Preprocessing
    /// What transparent pixels are composited onto.
    public var background: RGBColor
    /// Average all covered source pixels when shrinking (Pillow-style); off = plain bilinear taps.
    public var antialias: Bool

    public init(width: Int, height: Int, resize: ResizeMode = .centerCrop, resizeShorterSide: Int? = nil,
                pixelFormat: PixelFormat = .rgb, normalization: Preprocessing = .scale,
                background: RGBColor = .white, antialias: Bool = true) {
        self.width = width; self.height = height; self.resize = resize; self.resizeShorterSide = resizeShorterSide
        self.pixelFormat = pixelFormat; self.normalization = normalization
        self.background = background; self.antialias = antialias
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case width, height, resize, resizeShorterSide, pixelFormat, normalization, background, antialias
    }

    /// `width` and `height` are required; every other key falls back to the `init` default.
    public init(from decoder: Decoder) throws {
        try StrictKeys.check(decoder, known: CodingKeys.allCases.map(\.stringValue), what: "preprocessing")
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ImagePreprocessing(width: 1, height: 1)
        self.init(width: try c.decode(Int.self, forKey: .width), height: try c.decode(Int.self, forKey: .height),
                  resize: try c.decodeIfPresent(ResizeMode.self, forKey: .resize) ?? d.resize,
                  resizeShorterSide: try c.decodeIfPresent(Int.self, forKey: .resizeShorterSide),
                  pixelFormat: try c.decodeIfPresent(PixelFormat.self, forKey: .pixelFormat) ?? d.pixelFormat,
                  normalization: try c.decodeIfPresent(Preprocessing.self, forKey: .normalization) ?? d.normalization,
                  background: try c.decodeIfPresent(RGBColor.self, forKey: .background) ?? d.background,
                  antialias: try c.decodeIfPresent(Bool.self, forKey: .antialias) ?? d.antialias)
    }

    public var channels: Int { pixelFormat.channels }
    /// Floats per output image (C * H * W).
    public var sampleSize: Int { channels * width * height }

    /// Throws for settings that cannot produce an image.
    public func validate() throws {
        guard width > 0, height > 0 else {
            throw ImageIOError.invalidConfiguration("output size \(width)x\(height) must be positive")
        }
        guard pixelFormat != .rgba else {
            throw ImageIOError.invalidConfiguration("pixelFormat must be rgb or gray (models take no alpha)")
        }
        if let s = resizeShorterSide, s <= 0 {
            throw ImageIOError.invalidConfiguration("resizeShorterSide \(s) must be positive")
        }
    }

    /// The source rectangle that the deterministic resize maps onto the output.
    public func cropBox(sourceWidth: Int, sourceHeight: Int) -> CropBox {
        let sw = Double(sourceWidth), sh = Double(sourceHeight)
        switch resize {
        case .stretch:
            return CropBox(x: 0, y: 0, width: sw, height: sh)
        case .centerCrop:
            // Scale factor: the requested shorter side, but at least enough to cover the output.
            let cover = max(Double(width) / sw, Double(height) / sh)
            let requested = resizeShorterSide.map { Double($0) / min(sw, sh) } ?? cover
            let s = max(requested, cover)
            let w = Double(width) / s, h = Double(height) / s
            return CropBox(x: (sw - w) / 2, y: (sh - h) / 2, width: w, height: h)
        }
    }

    /// The image in this pipeline's pixel format (converting gray <-> RGB, compositing alpha).
    func conformed(_ image: Image) -> Image {
        image.channels == channels ? image : image.converted(to: pixelFormat, background: background)
    }

    /// Writes the preprocessed image (C * H * W floats) to `out`.
    public func apply(_ image: Image, into out: UnsafeMutablePointer<Float>) {
        let source = conformed(image)
        let planar = UnsafeMutablePointer<Float>.allocate(capacity: sampleSize)
        defer { planar.deallocate() }
        Resampler.resamplePlanar(source, box: cropBox(sourceWidth: source.width, sourceHeight: source.height),
                                 width: width, height: height, antialias: antialias, into: planar)
        normalization.apply(planar, channels: channels, plane: width * height, into: out)
    }

    /// The preprocessed images as one [N, C, H, W] batch.
    public func batch(_ images: [Image]) -> Tensor {
        var t = Tensor(uninitializedShape: [images.count, channels, height, width])
        let dst = t.mutablePointer()
        for (i, image) in images.enumerated() { apply(image, into: dst + i * sampleSize) }
        return t
    }

    /// The preprocessed image as a [1, C, H, W] tensor.
    public func apply(_ image: Image) -> Tensor {
        var t = Tensor(uninitializedShape: [1, channels, height, width])
        apply(image, into: t.mutablePointer())
        return t
    }
}

extension Image {
    /// The same picture in another pixel format: gray <-> RGB, alpha composited onto `background`
    /// for gray/RGB targets (same rules as PNG decoding).
    public func converted(to format: PixelFormat, background: RGBColor = .white) -> Image {
        if format.channels == channels { return self }
        let samples = PNGSamples(width: width, height: height, channels: channels, bitDepth: 8, bytes: pixels,
                                 sourceColorType: [0, 0, 4, 2, 6][channels], sourceBitDepth: 8, interlaced: false)
        return PixelConversion.image(from: samples, as: format, background: background)
    }
}
