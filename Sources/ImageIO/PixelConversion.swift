/// Turns libpng's samples (1-4 channels, 8 or 16 bit) into the 8-bit layout a model wants.
///
/// Rules (documented so that dataset statistics are reproducible):
/// - 16 -> 8 bit: exact rounding, (v * 255 + 32767) / 65535 (libpng's `png_set_scale_16`), not `v >> 8`.
/// - alpha over background: (c * a + bg * (max - a) + max / 2) / max, done at the source bit depth.
/// - RGB -> gray: ITU-R BT.601 luma with Pillow's integer weights (what `convert("L")` gives).
/// - gray -> RGB: the value is copied to the three channels.
enum PixelConversion {
    static func image(from s: PNGSamples, as format: PixelFormat, background: RGBColor) -> Image {
        s.bytes.withUnsafeBufferPointer { src in
            var zero: UInt8 = 0   // an empty image may come with a nil base address
            return withUnsafePointer(to: &zero) { fallback in
                image(samples: src.baseAddress ?? fallback, width: s.width, height: s.height, channels: s.channels,
                      bitDepth: s.bitDepth, as: format, background: background)
            }
        }
    }

    /// `samples`: packed rows of `channels` samples of `bitDepth` (8, or 16 big-endian) bits each.
    static func image(samples: UnsafePointer<UInt8>, width: Int, height: Int, channels: Int, bitDepth: Int,
                      as format: PixelFormat, background: RGBColor) -> Image {
        let count = width * height
        let out = [UInt8](unsafeUninitializedCapacity: count * format.channels) { dst, initialized in
            if let dstBase = dst.baseAddress, count > 0 {
                if bitDepth == 16 {
                    convert(Sixteen(base: samples), channels: channels, count: count,
                            format: format, background: background, into: dstBase)
                } else {
                    convert(Eight(base: samples), channels: channels, count: count,
                            format: format, background: background, into: dstBase)
                }
            }
            initialized = count * format.channels
        }
        return Image(width: width, height: height, channels: format.channels, pixels: out)
    }

    /// Reads sample `i` (in samples, not bytes) at the source depth and reduces values to 8 bits.
    protocol SampleReader {
        static var maxValue: UInt32 { get }
        func callAsFunction(_ i: Int) -> UInt32
        func to8(_ v: UInt32) -> UInt32
    }

    struct Eight: SampleReader {
        let base: UnsafePointer<UInt8>
        static var maxValue: UInt32 { 255 }
        @inline(__always) func callAsFunction(_ i: Int) -> UInt32 { UInt32(base[i]) }
        @inline(__always) func to8(_ v: UInt32) -> UInt32 { v }
    }

    struct Sixteen: SampleReader {
        let base: UnsafePointer<UInt8>
        static var maxValue: UInt32 { 65535 }
        @inline(__always) func callAsFunction(_ i: Int) -> UInt32 { UInt32(base[2 * i]) << 8 | UInt32(base[2 * i + 1]) }
        @inline(__always) func to8(_ v: UInt32) -> UInt32 { (v &* 255 &+ 32767) / 65535 }
    }

    /// One generic loop, specialised per reader, with the layout switch hoisted out of the pixel loop.
    @inline(__always)
    static func convert<R: SampleReader>(_ read: R, channels: Int, count: Int, format: PixelFormat,
                                         background: RGBColor, into out: UnsafeMutablePointer<UInt8>) {
        let maxV = R.maxValue
        // Background at the source depth (8-bit value scaled by 257 for 16-bit: 255 -> 65535).
        let scale: UInt32 = maxV == 255 ? 1 : 257
        let bgR = UInt32(background.red) * scale, bgG = UInt32(background.green) * scale
        let bgB = UInt32(background.blue) * scale, bgY = UInt32(background.luma) * scale
        @inline(__always) func over(_ c: UInt32, _ a: UInt32, _ bg: UInt32) -> UInt32 {
            a == maxV ? c : (c &* a &+ bg &* (maxV &- a) &+ maxV / 2) / maxV
        }
        let hasAlpha = channels == 2 || channels == 4
        let isGray = channels <= 2
        switch format {
        case .gray:
            for p in 0..<count {
                let i = p * channels
                var y: UInt32
                if isGray {
                    y = read(i)
                    if hasAlpha { y = over(y, read(i + 1), bgY) }
                    y = read.to8(y)
                } else if hasAlpha {
                    let a = read(i + 3)
                    y = Luma.bt601(read.to8(over(read(i), a, bgR)), read.to8(over(read(i + 1), a, bgG)),
                                   read.to8(over(read(i + 2), a, bgB)))
                } else {
                    y = Luma.bt601(read.to8(read(i)), read.to8(read(i + 1)), read.to8(read(i + 2)))
                }
                out[p] = UInt8(truncatingIfNeeded: y)
            }
        case .rgb:
            for p in 0..<count {
                let i = p * channels, o = p * 3
                let r: UInt32, g: UInt32, b: UInt32
                if isGray { r = read(i); g = r; b = r } else { r = read(i); g = read(i + 1); b = read(i + 2) }
                if hasAlpha {
                    let a = read(i + channels - 1)
                    out[o] = UInt8(truncatingIfNeeded: read.to8(over(r, a, bgR)))
                    out[o + 1] = UInt8(truncatingIfNeeded: read.to8(over(g, a, bgG)))
                    out[o + 2] = UInt8(truncatingIfNeeded: read.to8(over(b, a, bgB)))
                } else {
                    out[o] = UInt8(truncatingIfNeeded: read.to8(r))
                    out[o + 1] = UInt8(truncatingIfNeeded: read.to8(g))
                    out[o + 2] = UInt8(truncatingIfNeeded: read.to8(b))
                }
            }
        case .rgba:
            for p in 0..<count {
                let i = p * channels, o = p * 4
                let r: UInt32, g: UInt32, b: UInt32
                if isGray { r = read(i); g = r; b = r } else { r = read(i); g = read(i + 1); b = read(i + 2) }
                out[o] = UInt8(truncatingIfNeeded: read.to8(r))
                out[o + 1] = UInt8(truncatingIfNeeded: read.to8(g))
                out[o + 2] = UInt8(truncatingIfNeeded: read.to8(b))
                out[o + 3] = UInt8(truncatingIfNeeded: hasAlpha ? read.to8(read(i + channels - 1)) : 255)
            }
        }
    }
}

extension PNGSamples {
    /// The 8-bit image these samples give in `format` (see `PixelConversion` for the rules).
    public func image(as format: PixelFormat = .rgb, background: RGBColor = .white) -> Image {
        PixelConversion.image(from: self, as: format, background: background)
    }
}
