import CJPEG
import Foundation

/// JPEG writing through libjpeg-turbo: 8-bit gray or RGB (alpha is dropped), or CMYK samples
/// (`channels` 4 of `encodeCMYK`). Tests and the benchmark scripts make their JPEGs with it.
public enum JPEGEncoder {
    /// Options of one encoding.
    public struct Options: Sendable, Equatable {
        public var quality: Int
        public var progressive: Bool
        /// EXIF orientation written as an APP1 block made by libexif (nil: no EXIF).
        public var orientation: Int?
        /// Bytes stored as an APP2 ICC_PROFILE marker (the decoder only notes that one is there).
        public var iccProfile: [UInt8]?

        public init(quality: Int = 90, progressive: Bool = false, orientation: Int? = nil, iccProfile: [UInt8]? = nil) {
            self.quality = quality; self.progressive = progressive; self.orientation = orientation; self.iccProfile = iccProfile
        }
    }

    /// Encodes a gray or RGB image (RGBA and gray + alpha lose their alpha).
    public static func encode(_ image: Image, options: Options = Options(), name: String = "<memory>") throws -> [UInt8] {
        let keep = image.channels >= 3 ? 3 : 1
        var pixels = image.pixels
        if image.channels != keep {
            pixels = (0..<(image.width * image.height)).flatMap { i in (0..<keep).map { image.pixels[i * image.channels + $0] } }
        }
        return try encode(samples: pixels, width: image.width, height: image.height, channels: keep, options: options, name: name)
    }

    /// Encodes CMYK samples (4 per pixel; libjpeg writes an Adobe marker and stores them as given).
    public static func encodeCMYK(_ samples: [UInt8], width: Int, height: Int, options: Options = Options(),
                                  name: String = "<memory>") throws -> [UInt8] {
        try encode(samples: samples, width: width, height: height, channels: 4, options: options, name: name)
    }

    static func encode(samples: [UInt8], width: Int, height: Int, channels: Int, options: Options, name: String) throws -> [UInt8] {
        guard width > 0, height > 0, samples.count == width * height * channels else {
            throw ImageIOError.writeFailed(path: name, reason: "\(samples.count) samples for a \(width)x\(height)x\(channels) JPEG")
        }
        var e = cjpeg_encoding()
        e.width = UInt32(width); e.height = UInt32(height); e.channels = Int32(channels)
        e.quality = Int32(min(max(options.quality, 1), 100))
        e.progressive = options.progressive ? 1 : 0
        e.orientation = Int32(options.orientation ?? 0)
        let icc = options.iccProfile ?? []
        let ok = samples.withUnsafeBufferPointer { p in
            icc.withUnsafeBufferPointer { profile in
                e.pixels = p.baseAddress
                e.icc = profile.baseAddress
                e.icc_size = profile.count
                return cjpeg_encode(&e)
            }
        }
        guard ok == 1, let output = e.output else {
            let text = withUnsafeBytes(of: &e.error.message) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            throw ImageIOError.writeFailed(path: name, reason: text.isEmpty ? "libjpeg write error" : text)
        }
        defer { cjpeg_free(output) }
        return Array(UnsafeBufferPointer(start: output, count: Int(e.output_size)))
    }
}
