import CPNG
import Foundation

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
                              options: ImageDecodeOptions = ImageDecodeOptions()) throws -> Image {
        try decode(file: file, as: format, options: options, scratch: ImageDecodeScratch())
    }

    /// `decode(file:)` with caller-owned buffers (the loader keeps one per worker thread).
    static func decode(file: URL, as format: PixelFormat, options: ImageDecodeOptions,
                       scratch: ImageDecodeScratch) throws -> Image {
        let bytes = try scratch.read(file)
        return try decode(bytes: bytes, name: file.path, as: format, options: options, scratch: scratch)
    }

    /// Decodes PNG bytes held in memory; `name` is used in error messages.
    public static func decode(data: [UInt8], name: String, as format: PixelFormat = .rgb,
                              options: ImageDecodeOptions = ImageDecodeOptions()) throws -> Image {
        try data.withUnsafeBytes { bytes in
            try decode(bytes: bytes, name: name, as: format, options: options, scratch: ImageDecodeScratch())
        }
    }

    /// libpng decodes (never a hand-written parser). When its output already is `format` (8-bit
    /// gray/RGB/RGBA) it writes straight into the image's pixels; otherwise into scratch memory
    /// that `PixelConversion` brings to `format`.
    static func decode(bytes: UnsafeRawBufferPointer, name: String, as format: PixelFormat,
                       options: ImageDecodeOptions, scratch: ImageDecodeScratch) throws -> Image {
        try withHeader(bytes: bytes, name: name, colorKeyToAlpha: options.honourColorKey, options: options) { d in
            let width = Int(d.width), height = Int(d.height), channels = Int(d.channels), depth = Int(d.bit_depth)
            if depth == 8 && channels == format.channels {
                let pixels = try [UInt8](unsafeUninitializedCapacity: d.pixel_bytes) { buffer, count in
                    count = 0
                    try finish(&d, into: buffer.baseAddress, name: name)
                    count = d.pixel_bytes
                }
                return Image(width: width, height: height, channels: channels, pixels: pixels)
            }
            let samples = scratch.samples(d.pixel_bytes)
            try finish(&d, into: samples, name: name)
            return PixelConversion.image(samples: UnsafePointer(samples), width: width, height: height,
                                         channels: channels, bitDepth: depth, as: format, background: options.background)
        }
    }

    /// Raw samples of a PNG file (see `PNGSamples`). A tRNS colour key becomes alpha only when
    /// `colorKeyToAlpha` is set; palette tRNS always does.
    public static func decodeSamples(file: URL, colorKeyToAlpha: Bool = false,
                                     options: ImageDecodeOptions = ImageDecodeOptions()) throws -> PNGSamples {
        let scratch = ImageDecodeScratch()
        let bytes = try scratch.read(file)
        return try decodeSamples(bytes: bytes, name: file.path, colorKeyToAlpha: colorKeyToAlpha, options: options)
    }

    public static func decodeSamples(data: [UInt8], name: String, colorKeyToAlpha: Bool = false,
                                     options: ImageDecodeOptions = ImageDecodeOptions()) throws -> PNGSamples {
        try data.withUnsafeBytes { bytes in
            try decodeSamples(bytes: bytes, name: name, colorKeyToAlpha: colorKeyToAlpha, options: options)
        }
    }

    static func decodeSamples(bytes: UnsafeRawBufferPointer, name: String, colorKeyToAlpha: Bool,
                              options: ImageDecodeOptions) throws -> PNGSamples {
        try withHeader(bytes: bytes, name: name, colorKeyToAlpha: colorKeyToAlpha, options: options) { d in
            let pixels = try [UInt8](unsafeUninitializedCapacity: d.pixel_bytes) { buffer, count in
                count = 0
                try finish(&d, into: buffer.baseAddress, name: name)
                count = d.pixel_bytes
            }
            return PNGSamples(width: Int(d.width), height: Int(d.height), channels: Int(d.channels),
                              bitDepth: Int(d.bit_depth), bytes: pixels,
                              sourceColorType: Int(d.source_color_type), sourceBitDepth: Int(d.source_bit_depth),
                              interlaced: d.interlaced != 0)
        }
    }

    /// Width and height from the header only (no pixels decoded).
    static func storedSize(bytes: UnsafeRawBufferPointer, name: String) throws -> (width: Int, height: Int) {
        try withHeader(bytes: bytes, name: name, colorKeyToAlpha: false, options: ImageDecodeOptions()) { d in
            (Int(d.width), Int(d.height))
        }
    }

    /// Reads the header (phase 1), then runs `body`, which must call `finish` (phase 2); libpng's
    /// structs are freed on every path.
    private static func withHeader<T>(bytes: UnsafeRawBufferPointer, name: String, colorKeyToAlpha: Bool,
                                      options: ImageDecodeOptions,
                                      _ body: (inout cpng_decoded) throws -> T) throws -> T {
        var d = cpng_decoded()
        d.size = bytes.count
        d.max_width = UInt32(clamping: options.maxWidth)
        d.max_height = UInt32(clamping: options.maxHeight)
        d.max_decoded_bytes = max(0, options.maxDecodedBytes)
        d.color_key_to_alpha = colorKeyToAlpha ? 1 : 0
        // An empty buffer may have a nil base address; the C side checks `size` before reading.
        var empty: UInt8 = 0
        return try withUnsafePointer(to: &empty) { fallback in
            d.data = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? fallback
            guard cpng_begin(&d) == 1 else { throw error(&d, name: name) }
            defer { cpng_abort(&d) }
            return try body(&d)
        }
    }

    /// Phase 2: libpng decodes every row into `pixels` (`d.pixel_bytes` bytes).
    private static func finish(_ d: inout cpng_decoded, into pixels: UnsafeMutablePointer<UInt8>?, name: String) throws {
        var one: UInt8 = 0   // a 0-byte image may come with a nil buffer
        let ok = withUnsafeMutablePointer(to: &one) { cpng_finish(&d, pixels ?? $0) }
        guard ok == 1 else { throw error(&d, name: name) }
    }

    private static func error(_ d: inout cpng_decoded, name: String) -> ImageIOError {
        let message = withUnsafeBytes(of: &d.message) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        return ImageIOError.invalidPNG(path: name, reason: message.isEmpty ? "libpng error" : message)
    }
}
