import TensorCore

/// The pixel layouts ImageIO hands out. Models want `.rgb` or `.gray`; `.rgba` keeps alpha
/// (for previews and round trips).
public enum PixelFormat: String, Codable, Sendable, CaseIterable {
    case gray, rgb, rgba

    public var channels: Int {
        switch self {
        case .gray: return 1
        case .rgb: return 3
        case .rgba: return 4
        }
    }
}

/// An 8-bit colour, used as the background that alpha is composited onto.
public struct RGBColor: Codable, Sendable, Equatable, Hashable {
    public var red: UInt8, green: UInt8, blue: UInt8
    public init(red: UInt8, green: UInt8, blue: UInt8) { self.red = red; self.green = green; self.blue = blue }
    public static let white = RGBColor(red: 255, green: 255, blue: 255)
    public static let black = RGBColor(red: 0, green: 0, blue: 0)
    /// ITU-R BT.601 luma with Pillow's integer weights (the value `convert("L")` gives).
    public var luma: UInt8 { UInt8(Luma.bt601(UInt32(red), UInt32(green), UInt32(blue))) }
}

/// An 8-bit image: interleaved channels (HWC), rows top to bottom, no padding.
/// `channels` is 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA).
public struct Image: Sendable, Equatable, Hashable {
    public let width: Int
    public let height: Int
    public let channels: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        check(width >= 0 && height >= 0 && (1...4).contains(channels),
              "Image(width: \(width), height: \(height), channels: \(channels)): bad geometry")
        check(pixels.count == width * height * channels,
              "Image \(width)x\(height)x\(channels): expected \(width * height * channels) bytes, got \(pixels.count)")
        self.width = width; self.height = height; self.channels = channels; self.pixels = pixels
    }

    /// A blank image filled with `value` in every channel.
    public init(width: Int, height: Int, channels: Int, repeating value: UInt8 = 0) {
        self.init(width: width, height: height, channels: channels,
                  pixels: [UInt8](repeating: value, count: width * height * channels))
    }

    public subscript(x: Int, y: Int, channel: Int) -> UInt8 {
        get { pixels[(y * width + x) * channels + channel] }
        set { pixels[(y * width + x) * channels + channel] = newValue }
    }
}

enum Luma {
    /// (19595 R + 38470 G + 7471 B + 0x8000) >> 16, i.e. 0.299 R + 0.587 G + 0.114 B, rounded.
    @inline(__always) static func bt601(_ r: UInt32, _ g: UInt32, _ b: UInt32) -> UInt32 {
        (r &* 19595 &+ g &* 38470 &+ b &* 7471 &+ 0x8000) >> 16
    }
}
