import Foundation

/// The image formats ImageIO decodes, told apart by their first bytes (never by the file name).
public enum ImageFormat: String, Sendable, CaseIterable {
    case png, jpeg

    /// The format whose signature `bytes` start with, or nil.
    public static func sniff(_ bytes: UnsafeRawBufferPointer) -> ImageFormat? {
        if bytes.count >= 8, bytes.prefix(8).elementsEqual([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if bytes.count >= 3, bytes[0] == 0xFF, bytes[1] == 0xD8, bytes[2] == 0xFF { return .jpeg }
        return nil
    }

    /// File-name extensions counted as images when a folder is scanned (the bytes decide the format).
    public static let fileExtensions: Set<String> = ["png", "jpg", "jpeg", "jpe", "jfif"]
}

/// What was decoded besides the pixels.
public struct DecodedImageInfo: Sendable, Equatable {
    public var format: ImageFormat
    /// Set for JPEG files.
    public var jpeg: JPEGInfo?
}

/// Decodes a PNG or JPEG file by its signature: PNG through libpng, JPEG through libjpeg-turbo.
public enum ImageDecoder {
    public static func decode(file: URL, as format: PixelFormat = .rgb,
                              options: ImageDecodeOptions = ImageDecodeOptions()) throws -> Image {
        try decodeWithInfo(file: file, as: format, options: options, scratch: ImageDecodeScratch()).image
    }

    /// `decode(file:)` with caller-owned buffers (the loader keeps one per worker thread).
    static func decode(file: URL, as format: PixelFormat, options: ImageDecodeOptions,
                       scratch: ImageDecodeScratch) throws -> Image {
        try decodeWithInfo(file: file, as: format, options: options, scratch: scratch).image
    }

    public static func decodeWithInfo(file: URL, as format: PixelFormat = .rgb,
                                      options: ImageDecodeOptions = ImageDecodeOptions()) throws -> (image: Image, info: DecodedImageInfo) {
        try decodeWithInfo(file: file, as: format, options: options, scratch: ImageDecodeScratch())
    }

    static func decodeWithInfo(file: URL, as format: PixelFormat, options: ImageDecodeOptions,
                               scratch: ImageDecodeScratch) throws -> (image: Image, info: DecodedImageInfo) {
        let bytes = try scratch.read(file)
        switch ImageFormat.sniff(bytes) {
        case .png:
            let image = try PNGDecoder.decode(bytes: bytes, name: file.path, as: format, options: options, scratch: scratch)
            return (image, DecodedImageInfo(format: .png))
        case .jpeg:
            let (image, info) = try JPEGDecoder.decode(bytes: bytes, name: file.path, as: format, options: options, scratch: scratch)
            return (image, DecodedImageInfo(format: .jpeg, jpeg: info))
        case nil:
            throw ImageIOError.unsupportedImage(path: file.path, reason: bytes.isEmpty ? "empty file" : "not a PNG or JPEG file")
        }
    }

    /// Width and height from the file's header, without decoding pixels.
    public static func storedSize(file: URL) throws -> (width: Int, height: Int) {
        let scratch = ImageDecodeScratch()
        let bytes = try scratch.read(file)
        switch ImageFormat.sniff(bytes) {
        case .png: return try PNGDecoder.storedSize(bytes: bytes, name: file.path)
        case .jpeg: return try JPEGDecoder.storedSize(bytes: bytes, name: file.path)
        case nil: throw ImageIOError.unsupportedImage(path: file.path, reason: bytes.isEmpty ? "empty file" : "not a PNG or JPEG file")
        }
    }
}
