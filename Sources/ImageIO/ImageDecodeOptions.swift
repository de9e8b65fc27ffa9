/// Limits and conversion options for decoding PNG and JPEG files.
public struct ImageDecodeOptions: Sendable, Equatable {
    /// libpng's own defaults (1,000,000 x 1,000,000); a header above these is refused.
    public var maxWidth: Int = 1_000_000
    public var maxHeight: Int = 1_000_000
    /// Upper bound on the decoded sample buffer, checked before it is allocated, so that a
    /// small file claiming a huge image fails cleanly instead of exhausting memory.
    public var maxDecodedBytes: Int = 1 << 30
    /// Colour that alpha is composited onto when decoding to `.rgb` or `.gray`.
    public var background: RGBColor = .white
    /// Treat a tRNS colour key of a gray/RGB PNG as transparency (then composited onto
    /// `background`). Palette transparency is always honoured.
    public var honourColorKey: Bool = true
    /// JPEG: let libjpeg reduce in the DCT domain (1/2, 1/4, 1/8) while both sides stay at least
    /// this many pixels, as Pillow's `draft()` does (nil: full size). PNG ignores it.
    public var minimumShorterSide: Int?
    /// JPEG: rotate/flip the pixels as the EXIF orientation tag says (what a photo viewer shows).
    public var applyOrientation: Bool = true
    /// JPEG: accept a file that libjpeg decodes only around damage (it warns); refused by default.
    public var acceptDamagedJPEG: Bool = false

    public init(maxWidth: Int = 1_000_000, maxHeight: Int = 1_000_000, maxDecodedBytes: Int = 1 << 30,
                background: RGBColor = .white, honourColorKey: Bool = true, minimumShorterSide: Int? = nil,
                applyOrientation: Bool = true, acceptDamagedJPEG: Bool = false) {
        self.maxWidth = maxWidth; self.maxHeight = maxHeight; self.maxDecodedBytes = maxDecodedBytes
        self.background = background; self.honourColorKey = honourColorKey
        self.minimumShorterSide = minimumShorterSide; self.applyOrientation = applyOrientation
        self.acceptDamagedJPEG = acceptDamagedJPEG
    }
}
