import CJPEG
import Foundation

/// What a JPEG file was, besides its pixels: stored size, colour space, DCT reduction, orientation.
public struct JPEGInfo: Sendable, Equatable {
    /// Size as stored in the file (before DCT scaling and orientation).
    public var storedWidth: Int, storedHeight: Int
    /// libjpeg's colour space of the file: `gray`, `rgb`, `ycbcr`, `cmyk` or `ycck`.
    public var colorSpace: String
    public var progressive: Bool
    /// DCT-domain reduction libjpeg applied (1, 2, 4 or 8).
    public var scaleDenominator: Int
    /// EXIF orientation (1...8; 1 when there is none), already applied to the pixels.
    public var orientation: Int
    /// The file carries an ICC profile (ignored: pixels are taken as sRGB).
    public var hasICCProfile: Bool
}

/// JPEG decoding through the system libjpeg-turbo (wrapped in C by `CJPEG/shim.h`), EXIF orientation
/// read by libexif and applied. Thread-safe: every call uses its own libjpeg structs.
///
/// A file libjpeg can only decode around damage (a premature end padded with gray, corrupt entropy
/// data) is refused with libjpeg's warning as the reason, unless `acceptDamagedJPEG` is set: a
/// damaged image is never accepted silently.
public enum JPEGDecoder {
    /// Decodes a JPEG file to 8-bit `format` (CMYK and YCCK become RGB; gray comes from RGB with
    /// the BT.601 weights, as Pillow's `convert("L")`, unless the file itself is gray).
    public static func decode(file: URL, as format: PixelFormat = .rgb,
                              options: ImageDecodeOptions = ImageDecodeOptions()) throws -> Image {
        let scratch = ImageDecodeScratch()
        return try decode(bytes: try scratch.read(file), name: file.path, as: format, options: options, scratch: scratch).image
    }

    /// Decodes JPEG bytes held in memory; `name` is used in error messages.
    public static func decode(data: [UInt8], name: String, as format: PixelFormat = .rgb,
                              options: ImageDecodeOptions = ImageDecodeOptions()) throws -> (image: Image, info: JPEGInfo) {
        try data.withUnsafeBytes { try decode(bytes: $0, name: name, as: format, options: options, scratch: ImageDecodeScratch()) }
    }

    static func decode(bytes: UnsafeRawBufferPointer, name: String, as format: PixelFormat,
                       options: ImageDecodeOptions, scratch: ImageDecodeScratch) throws -> (image: Image, info: JPEGInfo) {
        var d = cjpeg_decoded()
        d.size = bytes.count
        d.want_gray = format == .gray ? 1 : 0
        d.max_width = UInt32(clamping: options.maxWidth)
        d.max_height = UInt32(clamping: options.maxHeight)
        d.max_decoded_bytes = max(0, options.maxDecodedBytes)
        if let side = options.minimumShorterSide, side > 0 {
            // Both sides at least `side` keeps the shorter one at least `side`.
            d.min_width = UInt32(clamping: side); d.min_height = UInt32(clamping: side)
        }
        var empty: UInt8 = 0
        let (samples, width, height, channels) = try withUnsafePointer(to: &empty) { fallback -> (UnsafeMutablePointer<UInt8>, Int, Int, Int) in
            d.data = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? fallback
            guard cjpeg_begin(&d) == 1 else { throw failure(&d, name: name) }
            let buffer = scratch.samples(d.pixel_bytes)
            guard cjpeg_finish(&d, buffer) == 1 else { throw failure(&d, name: name) }
            return (buffer, Int(d.width), Int(d.height), Int(d.channels))
        }
        if d.error.warnings > 0 && !options.acceptDamagedJPEG {
            let warning = message(&d.error.first_warning)
            let reason = cjpeg_warning_is_truncation(&d) != 0 ? "truncated (\(warning))" : "damaged data (\(warning))"
            throw ImageIOError.invalidJPEG(path: name, reason: reason)
        }
        if channels == 4 { convertCMYKToRGB(samples, count: width * height, inverted: d.adobe_inverted_cmyk != 0) }
        let decodedChannels = channels == 4 ? 3 : channels
        var image = PixelConversion.image(samples: UnsafePointer(samples), width: width, height: height,
                                          channels: decodedChannels, bitDepth: 8, as: format, background: options.background)
        let orientation = options.applyOrientation ? Int(d.orientation) : 1
        image = ImageOrientation.apply(orientation, to: image)
        let info = JPEGInfo(storedWidth: Int(d.image_width), storedHeight: Int(d.image_height),
                            colorSpace: colorSpaceName(d.source_color_space), progressive: d.progressive != 0,
                            scaleDenominator: Int(d.scale_denom), orientation: Int(d.orientation), hasICCProfile: d.has_icc != 0)
        return (image, info)
    }

    /// Width and height as stored, from the header only (orientation not applied).
    static func storedSize(bytes: UnsafeRawBufferPointer, name: String) throws -> (width: Int, height: Int) {
        var d = cjpeg_decoded()
        d.size = bytes.count
        d.max_width = UInt32.max; d.max_height = UInt32.max; d.max_decoded_bytes = Int.max
        var empty: UInt8 = 0
        return try withUnsafePointer(to: &empty) { fallback in
            d.data = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? fallback
            guard cjpeg_begin(&d) == 1 else { throw failure(&d, name: name) }
            cjpeg_abort(&d)
            return (Int(d.image_width), Int(d.image_height))
        }
    }

    /// CMYK -> RGB in place, packed to 3 bytes per pixel: r = (255 - c)(255 - k) / 255. Adobe files
    /// store the inks inverted (255 = no ink), so there r = c·k / 255.
    static func convertCMYKToRGB(_ p: UnsafeMutablePointer<UInt8>, count: Int, inverted: Bool) {
        for i in 0..<count {
            var c = UInt32(p[4 * i]), m = UInt32(p[4 * i + 1]), y = UInt32(p[4 * i + 2]), k = UInt32(p[4 * i + 3])
            if !inverted { c = 255 - c; m = 255 - m; y = 255 - y; k = 255 - k }
            // (a·b + 127) / 255, exact rounding of a·b/255 for 8-bit a, b.
            p[3 * i] = UInt8((c * k + 127) / 255)
            p[3 * i + 1] = UInt8((m * k + 127) / 255)
            p[3 * i + 2] = UInt8((y * k + 127) / 255)
        }
    }

    private static func colorSpaceName(_ space: Int32) -> String {
        switch J_COLOR_SPACE(rawValue: UInt32(space)) {
        case JCS_GRAYSCALE: "gray"
        case JCS_RGB: "rgb"
        case JCS_YCbCr: "ycbcr"
        case JCS_CMYK: "cmyk"
        case JCS_YCCK: "ycck"
        default: "other"
        }
    }

    private static func message<T>(_ tuple: inout T) -> String {
        withUnsafeBytes(of: &tuple) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
    }

    private static func failure(_ d: inout cjpeg_decoded, name: String) -> ImageIOError {
        let text = message(&d.error.message)
        return ImageIOError.invalidJPEG(path: name, reason: text.isEmpty ? "libjpeg error" : text)
    }
}
