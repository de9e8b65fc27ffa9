import CPNG
import Foundation

/// Limits and conversion options for decoding.
public struct PNGDecodeOptions: Sendable, Equatable {
    /// libpng's own defaults (1,000,000 x 1,000,000); the IHDR is rejected above these.
    public var maxWidth: Int = 1_000_000
    public var maxHeight: Int = 1_000_000
    /// Upper bound on the decoded sample buffer, checked before it is allocated, so that a
    /// small file claiming a huge image fails cleanly instead of exhausting memory.
    public var maxDecodedBytes: Int = 1 << 30
    /// Colour that alpha is composited onto when decoding to `.rgb` or `.gray`.
    public var background: RGBColor = .white
    /// Treat a tRNS colour key of a gray/RGB image as transparency (then composited onto
    /// `background`). Palette transparency is always honoured.
    public var honourColorKey: Bool = true

    public init(maxWidth: Int = 1_000_000, maxHeight: Int = 1_000_000, maxDecodedBytes: Int = 1 << 30,
                background: RGBColor = .white, honourColorKey: Bool = true) {
        self.maxWidth = maxWidth; self.maxHeight = maxHeight; self.maxDecodedBytes = maxDecodedBytes
        self.background = background; self.honourColorKey = honourColorKey
    }
}

/// The samples libpng produced, before any conversion: palette expanded to RGB (RGBA when it has
/// tRNS), 1/2/4-bit gray scaled to 8 bits, Adam7 de-interlaced. 16-bit samples stay 16-bit,
/// stored big-endian exactly as in the file (so `bytes` can be compared with PngSuite .raw data).
public struct PNGSamples: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA.
    public let channels: Int
    /// 8 or 16.
    public let bitDepth: Int
    public let bytes: [UInt8]
    /// IHDR colour type (0 gray, 2 RGB, 3 palette, 4 gray + alpha, 6 RGBA) and bit depth.
    public let sourceColorType: Int
    public let sourceBitDepth: Int
    public let interlaced: Bool

    public var hasAlpha: Bool { channels == 2 || channels == 4 }

    /// One sample (0...255 or 0...65535).
    public func sample(x: Int, y: Int, channel: Int) -> Int {
        let i = (y * width + x) * channels + channel
        return bitDepth == 8 ? Int(bytes[i]) : Int(bytes[2 * i]) << 8 | Int(bytes[2 * i + 1])
    }
}

/// PNG decoding through the system libpng (classic API, wrapped in C by `CPNG/shim.h`).
/// Thread-safe: every call uses its own libpng structs.
public enum PNGDecoder {
    /// Decodes a PNG file to 8-bit `format`. Alpha is composited onto `options.background` for
    /// `.rgb`/`.gray`; 16-bit samples are reduced with exact rounding, (v * 255 + 32767) / 65535.
    public static func decode(file: URL, as format: PixelFormat = .rgb,
                              options: PNGDecodeOptions = PNGDecodeOptions()) throws -> Image {
        try readFile(file).withUnsafeBytes { bytes in
            try decode(bytes: bytes, name: file.path, as: format, options: options)
        }
    }

    /// Decodes PNG bytes held in memory; `name` is used in error messages.
    public static func decode(data: [UInt8], name: String, as format: PixelFormat = .rgb,
                              options: PNGDecodeOptions = PNGDecodeOptions()) throws -> Image {
        try data.withUnsafeBytes { bytes in
            try decode(bytes: bytes, name: name, as: format, options: options)
        }
    }

    /// libpng decodes (never a hand-written parser); `PixelConversion` brings the samples to `format`.
    static func decode(bytes: UnsafeRawBufferPointer, name: String, as format: PixelFormat,
                       options: PNGDecodeOptions) throws -> Image {
        let samples = try decodeSamples(bytes: bytes, name: name, colorKeyToAlpha: options.honourColorKey,
                                        options: options)
        return PixelConversion.image(from: samples, as: format, background: options.background)
    }

    /// Raw samples of a PNG file (see `PNGSamples`). A tRNS colour key becomes alpha only when
    /// `colorKeyToAlpha` is set; palette tRNS always does.
    public static func decodeSamples(file: URL, colorKeyToAlpha: Bool = false,
                                     options: PNGDecodeOptions = PNGDecodeOptions()) throws -> PNGSamples {
        try readFile(file).withUnsafeBytes { bytes in
            try decodeSamples(bytes: bytes, name: file.path, colorKeyToAlpha: colorKeyToAlpha, options: options)
        }
    }

    public static func decodeSamples(data: [UInt8], name: String, colorKeyToAlpha: Bool = false,
                                     options: PNGDecodeOptions = PNGDecodeOptions()) throws -> PNGSamples {
        try data.withUnsafeBytes { bytes in
            try decodeSamples(bytes: bytes, name: name, colorKeyToAlpha: colorKeyToAlpha, options: options)
        }
    }

    static func decodeSamples(bytes: UnsafeRawBufferPointer, name: String, colorKeyToAlpha: Bool,
                              options: PNGDecodeOptions) throws -> PNGSamples {
        var d = cpng_decoded()
        d.size = bytes.count
        d.max_width = UInt32(clamping: options.maxWidth)
        d.max_height = UInt32(clamping: options.maxHeight)
        d.max_decoded_bytes = max(0, options.maxDecodedBytes)
        d.color_key_to_alpha = colorKeyToAlpha ? 1 : 0
        // An empty buffer may have a nil base address; the C side checks `size` before reading.
        var empty: UInt8 = 0
        let ok = withUnsafePointer(to: &empty) { fallback -> Int32 in
            d.data = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? fallback
            return cpng_decode_memory(&d)
        }
        guard ok == 1 else {
            let message = withUnsafeBytes(of: &d.message) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            throw ImageIOError.invalidPNG(path: name, reason: message.isEmpty ? "libpng error" : message)
        }
        defer { cpng_free_pixels(&d) }
        let pixels = [UInt8](UnsafeBufferPointer(start: d.pixels, count: d.pixel_bytes))
        return PNGSamples(width: Int(d.width), height: Int(d.height), channels: Int(d.channels),
                          bitDepth: Int(d.bit_depth), bytes: pixels,
                          sourceColorType: Int(d.source_color_type), sourceBitDepth: Int(d.source_bit_depth),
                          interlaced: d.interlaced != 0)
    }

    /// Reads a whole file, turning Foundation's errors into one-line `ImageIOError`s.
    static func readFile(_ file: URL) throws -> Data {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: file.path, isDirectory: &isDirectory) else {
            throw ImageIOError.unreadableFile(path: file.path, reason: "no such file")
        }
        if isDirectory.boolValue { throw ImageIOError.unreadableFile(path: file.path, reason: "is a directory") }
        do {
            return try Data(contentsOf: file)
        } catch {
            throw ImageIOError.unreadableFile(path: file.path, reason: "\((error as NSError).localizedDescription)")
        }
    }
}
