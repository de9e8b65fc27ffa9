import CPNG
import Foundation

/// PNG writing (8-bit gray, gray + alpha, RGB, RGBA) through libpng's simplified write API.
/// That API is only a problem for 16-bit data (it assumes linear light); 8-bit samples are
/// written unchanged.
public enum PNGEncoder {
    /// Encodes `image` to PNG bytes; `name` only appears in error messages.
    public static func encode(_ image: Image, name: String = "<memory>") throws -> [UInt8] {
        guard image.width > 0, image.height > 0 else {
            throw ImageIOError.writeFailed(path: name, reason: "image is \(image.width)x\(image.height); PNG needs at least 1x1")
        }
        var png = png_image()
        png.version = UInt32(PNG_IMAGE_VERSION)
        png.width = UInt32(image.width)
        png.height = UInt32(image.height)
        // The composite PNG_FORMAT_* macros don't import into Swift; the flag bits do.
        let alpha = image.channels == 2 || image.channels == 4 ? UInt32(PNG_FORMAT_FLAG_ALPHA) : 0
        let color = image.channels >= 3 ? UInt32(PNG_FORMAT_FLAG_COLOR) : 0
        png.format = alpha | color
        let stride = Int32(image.width * image.channels)
        return try image.pixels.withUnsafeBytes { pixels -> [UInt8] in
            // First call measures, second call writes.
            var size: png_alloc_size_t = 0
            guard png_image_write_to_memory(&png, nil, &size, 0, pixels.baseAddress, stride, nil) != 0 else {
                throw ImageIOError.writeFailed(path: name, reason: message(of: &png))
            }
            var out = [UInt8](repeating: 0, count: Int(size))
            let ok = out.withUnsafeMutableBytes { buffer in
                png_image_write_to_memory(&png, buffer.baseAddress, &size, 0, pixels.baseAddress, stride, nil)
            }
            guard ok != 0 else { throw ImageIOError.writeFailed(path: name, reason: message(of: &png)) }
            return Array(out.prefix(Int(size)))
        }
    }

    /// Writes `image` as a PNG file atomically: the bytes go to a temporary file in the same
    /// folder, which is then renamed over `file`, so readers never see a half-written PNG.
    public static func write(_ image: Image, to file: URL) throws {
        let bytes = try encode(image, name: file.path)
        let folder = file.deletingLastPathComponent()
        let temporary = folder.appendingPathComponent(".\(file.lastPathComponent).\(UUID().uuidString).tmp")
        do {
            try Data(bytes).write(to: temporary)
        } catch {
            try? FileManager.default.removeItem(at: temporary)   // a full disk leaves a partial file
            throw ImageIOError.writeFailed(path: file.path, reason: (error as NSError).localizedDescription)
        }
        guard rename(temporary.path, file.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw ImageIOError.writeFailed(path: file.path, reason: reason)
        }
    }

    private static func message(of png: inout png_image) -> String {
        let text = withUnsafeBytes(of: &png.message) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        png_image_free(&png)
        return text.isEmpty ? "libpng write error" : text
    }
}
