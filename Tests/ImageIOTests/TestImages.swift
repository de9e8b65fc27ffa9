@testable import ImageIO

enum TestImages {
    /// Gray image whose pixel (x, y) is 10 * y + x (distinct values, easy to follow).
    static func numbered(width: Int, height: Int) -> Image {
        var pixels = [UInt8](repeating: 0, count: width * height)
        for y in 0..<height { for x in 0..<width { pixels[y * width + x] = UInt8(10 * y + x) } }
        return Image(width: width, height: height, channels: 1, pixels: pixels)
    }

    /// RGB image with channel c of (x, y) = 40 * c + 7 * y + x.
    static func numberedRGB(width: Int, height: Int) -> Image {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height { for x in 0..<width { for c in 0..<3 {
            pixels[(y * width + x) * 3 + c] = UInt8(40 * c + 7 * y + x)
        } } }
        return Image(width: width, height: height, channels: 3, pixels: pixels)
    }

    /// Planar 0...255 values of a [1, C, H, W] tensor produced with normalization `.none`, as a gray grid.
    static func plane(_ values: [Float], width: Int, height: Int, channel: Int = 0) -> [[Float]] {
        (0..<height).map { y in (0..<width).map { x in values[channel * width * height + y * width + x] } }
    }
}
