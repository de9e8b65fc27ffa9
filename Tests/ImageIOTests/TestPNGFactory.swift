import CPNG
import Foundation
@testable import ImageIO

// PNG test files made at test time, so the repository ships no image data it did not make.
//
// Valid files are written with libpng's classic write API (every colour type and bit depth,
// palette with and without tRNS, a tRNS colour key, Adam7, ancillary chunks and split IDATs)
// from synthetic pixel patterns: a gradient, a checkerboard and seeded noise, side by side. The
// samples the decoder must return are known because the test chose them. Broken files are a
// valid file damaged byte by byte (cut, CRC flipped, IHDR rewritten with its CRC recomputed...).

/// SplitMix64: a tiny seeded generator for the noise patterns (independent of the library's RNG).
struct PatternRNG {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// One valid PNG to make: what goes into IHDR and the optional chunks.
struct PNGSpec: Sendable, CustomStringConvertible {
    enum Transparency: Sendable, Equatable {
        case none
        /// Palette images: a tRNS alpha table with this many entries (entry 0 fully transparent).
        case paletteAlpha(count: Int)
        /// Gray/RGB images: a tRNS colour key (gray uses the first value).
        case colorKey([UInt16])
    }

    let name: String
    var width = 61
    var height = 41
    let colorType: Int   // 0 gray, 2 RGB, 3 palette, 4 gray + alpha, 6 RGBA
    let bitDepth: Int
    var interlaced = false
    var transparency = Transparency.none
    /// gAMA, pHYs, tEXt and an unknown ancillary chunk `teSt`; IDAT split into 97-byte chunks.
    var ancillaryAndSplitIDAT = false

    var description: String { name }

    /// Channels as stored in the file (palette: 1 index).
    var storedChannels: Int { [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][colorType]! }

    /// The samples the decoder is expected to give (`PNGDecoder.decodeSamples`).
    var decodedChannels: Int {
        if colorType == 3 { if case .paletteAlpha = transparency { return 4 }; return 3 }
        return storedChannels
    }
    var decodedSampleBits: Int { bitDepth == 16 ? 16 : 8 }

    /// The 28 files of the made suite: every colour type / bit depth pair PNG allows, Adam7 for
    /// each colour type, palette tRNS (full and partial table), a colour key and ancillary chunks.
    static let all: [PNGSpec] = [
        PNGSpec(name: "gray1", colorType: 0, bitDepth: 1),
        PNGSpec(name: "gray1_adam7", colorType: 0, bitDepth: 1, interlaced: true),
        PNGSpec(name: "gray2", colorType: 0, bitDepth: 2),
        PNGSpec(name: "gray4", colorType: 0, bitDepth: 4),
        PNGSpec(name: "gray8", colorType: 0, bitDepth: 8),
        PNGSpec(name: "gray8_adam7", colorType: 0, bitDepth: 8, interlaced: true),
        PNGSpec(name: "gray16", colorType: 0, bitDepth: 16),
        PNGSpec(name: "gray16_adam7", colorType: 0, bitDepth: 16, interlaced: true),
        PNGSpec(name: "gray_alpha8", colorType: 4, bitDepth: 8),
        PNGSpec(name: "gray_alpha8_adam7", colorType: 4, bitDepth: 8, interlaced: true),
        PNGSpec(name: "gray_alpha16", colorType: 4, bitDepth: 16),
        PNGSpec(name: "palette1", colorType: 3, bitDepth: 1),
        PNGSpec(name: "palette2", colorType: 3, bitDepth: 2),
        PNGSpec(name: "palette4", colorType: 3, bitDepth: 4),
        PNGSpec(name: "palette4_trns", colorType: 3, bitDepth: 4, transparency: .paletteAlpha(count: 5)),
        PNGSpec(name: "palette8", colorType: 3, bitDepth: 8),
        PNGSpec(name: "palette8_adam7", colorType: 3, bitDepth: 8, interlaced: true),
        PNGSpec(name: "palette8_trns", colorType: 3, bitDepth: 8, transparency: .paletteAlpha(count: 200)),
        PNGSpec(name: "rgb8", colorType: 2, bitDepth: 8),
        PNGSpec(name: "rgb8_adam7", colorType: 2, bitDepth: 8, interlaced: true),
        PNGSpec(name: "rgb8_ancillary_multi_idat", colorType: 2, bitDepth: 8, ancillaryAndSplitIDAT: true),
        PNGSpec(name: "rgb8_trns_key", colorType: 2, bitDepth: 8, transparency: .colorKey(PNGSpec.rgbKey.map(UInt16.init))),
        PNGSpec(name: "rgb16", colorType: 2, bitDepth: 16),
        PNGSpec(name: "rgb16_adam7", colorType: 2, bitDepth: 16, interlaced: true),
        PNGSpec(name: "rgba8", colorType: 6, bitDepth: 8),
        PNGSpec(name: "rgba8_adam7", colorType: 6, bitDepth: 8, interlaced: true),
        PNGSpec(name: "rgba16", colorType: 6, bitDepth: 16),
        PNGSpec(name: "rgba16_adam7", colorType: 6, bitDepth: 16, interlaced: true),
    ]

    /// The colour key of `rgb8_trns_key`; some of its pixels are exactly this colour.
    static let rgbKey: [UInt8] = [148, 125, 111]

    static func named(_ name: String) -> PNGSpec { all.first { $0.name == name }! }

    /// Stored sample values, row-major, `storedChannels` per pixel, each in 0..<2^bitDepth
    /// (palette: indices). Left third a gradient, middle third a checkerboard, right third seeded
    /// noise, so every test sees smooth areas, hard edges and full-range values.
    func storedSamples() -> [Int] {
        let maxValue = (1 << bitDepth) - 1   // palette: the largest index
        // Same seed with and without Adam7, so an interlaced file holds the pixels of its plain twin.
        var rng = PatternRNG(seed: UInt64(bitDepth * 131 + colorType * 17))
        var out = [Int](repeating: 0, count: width * height * storedChannels)
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<storedChannels {
                    let v: Int
                    switch x * 3 / width {
                    case 0: v = (x + 2 * y + 9 * c) * maxValue / (width / 3 + 2 * height + 9 * storedChannels)
                    case 1: v = ((x / 3 + y / 3 + c) % 2 == 0) ? maxValue : 0
                    default: v = Int(rng.next() & UInt64(maxValue))
                    }
                    out[(y * width + x) * storedChannels + c] = v
                }
            }
        }
        if case .colorKey(let key) = transparency, colorType == 2 {
            // Plant the key colour on a diagonal lattice.
            for y in 0..<height { for x in 0..<width where (x + y) % 9 == 0 {
                for c in 0..<3 { out[(y * width + x) * 3 + c] = Int(key[c]) }
            } }
        }
        return out
    }

    var paletteEntries: Int { 1 << bitDepth }
    func paletteColor(_ i: Int) -> [UInt8] {
        [UInt8(truncatingIfNeeded: i * 37 + 11), UInt8(truncatingIfNeeded: i * 91 + 5), UInt8(truncatingIfNeeded: 250 - i * 53)]
    }
    func paletteAlpha(_ i: Int) -> UInt8 {
        guard case .paletteAlpha(let count) = transparency, i < count else { return 255 }
        return i == 0 ? 0 : UInt8(truncatingIfNeeded: i * 29 + 3)
    }

    /// The bytes `PNGDecoder.decodeSamples` must return: palette expanded (RGBA with tRNS),
    /// 1/2/4-bit gray scaled to 8 bits, 16-bit samples big-endian, Adam7 undone. With
    /// `colorKeyToAlpha`, a colour key becomes an alpha channel (0 on key pixels, else full).
    func expectedSamples(colorKeyToAlpha: Bool = false) -> [UInt8] {
        let stored = storedSamples()
        var out: [UInt8] = []
        out.reserveCapacity(width * height * decodedChannels * decodedSampleBits / 8)
        let keyed: [UInt16]? = { if colorKeyToAlpha, case .colorKey(let key) = transparency { return key }; return nil }()
        for p in 0..<(width * height) {
            let px = Array(stored[(p * storedChannels)..<((p + 1) * storedChannels)])
            if colorType == 3 {
                out += paletteColor(px[0])
                if decodedChannels == 4 { out.append(paletteAlpha(px[0])) }
                continue
            }
            for v in px {
                switch bitDepth {
                case 16: out += [UInt8(v >> 8), UInt8(v & 0xFF)]
                case 8: out.append(UInt8(v))
                default: out.append(UInt8(v * (255 / ((1 << bitDepth) - 1))))
                }
            }
            if let key = keyed {
                let isKey = px.enumerated().allSatisfy { UInt16($0.element) == key[$0.offset] }
                out += bitDepth == 16 ? (isKey ? [0, 0] : [255, 255]) : [isKey ? 0 : 255]
            }
        }
        return out
    }
}

/// Writes PNGs with libpng's low-level (png_write_*) API.
enum TestPNGWriter {
    private final class Sink { var bytes: [UInt8] = [] }

    /// Encodes `spec` with the stored samples `spec.storedSamples()`.
    static func encode(_ spec: PNGSpec) -> [UInt8] {
        let sink = Sink()
        let onError: png_error_ptr = { _, message in
            // Only a bug in this helper gets here (the data is valid); libpng needs a non-returning handler.
            fatalError("libpng write error: \(message.map { String(cString: $0) } ?? "?")")
        }
        let onWarning: png_error_ptr = { _, _ in }
        var png: png_structp? = png_create_write_struct(PNG_LIBPNG_VER_STRING, nil, onError, onWarning)
        var info: png_infop? = png_create_info_struct(png)
        precondition(png != nil && info != nil, "libpng: cannot create write structs")
        defer { png_destroy_write_struct(&png, &info) }

        let write: png_rw_ptr = { png, data, length in
            let sink = Unmanaged<Sink>.fromOpaque(png_get_io_ptr(png)!).takeUnretainedValue()
            sink.bytes.append(contentsOf: UnsafeBufferPointer(start: data, count: length))
        }
        let flush: png_flush_ptr = { _ in }
        png_set_write_fn(png, Unmanaged.passUnretained(sink).toOpaque(), write, flush)
        // One IDAT for the ordinary files (the broken-file recipes cut "in the middle of IDAT"), many small ones when asked.
        png_set_compression_buffer_size(png, spec.ancillaryAndSplitIDAT ? 97 : 1 << 20)
        png_set_IHDR(png, info, UInt32(spec.width), UInt32(spec.height), Int32(spec.bitDepth), Int32(spec.colorType),
                     spec.interlaced ? 1 : 0, 0, 0)

        if spec.colorType == 3 {
            var palette = (0..<spec.paletteEntries).map { i -> png_color in
                let c = spec.paletteColor(i)
                return png_color(red: c[0], green: c[1], blue: c[2])
            }
            png_set_PLTE(png, info, &palette, Int32(palette.count))
            if case .paletteAlpha(let count) = spec.transparency {
                var alpha = (0..<count).map(spec.paletteAlpha)
                png_set_tRNS(png, info, &alpha, Int32(count), nil)
            }
        }
        if case .colorKey(let key) = spec.transparency {
            var color = png_color_16(index: 0, red: key[0], green: key.count > 1 ? key[1] : 0,
                                     blue: key.count > 2 ? key[2] : 0, gray: key[0])
            png_set_tRNS(png, info, nil, 0, &color)
        }
        var textStrings: [UnsafeMutablePointer<CChar>?] = []
        defer { textStrings.forEach { free($0) } }
        if spec.ancillaryAndSplitIDAT {
            png_set_gAMA_fixed(png, info, 45455)
            png_set_pHYs(png, info, 2835, 2835, 1)
            textStrings = [strdup("Comment"), strdup("made by TestPNGFactory")]
            var text = png_text()
            text.compression = -1   // PNG_TEXT_COMPRESSION_NONE: tEXt
            text.key = textStrings[0]
            text.text = textStrings[1]
            text.text_length = strlen(textStrings[1]!)
            png_set_text(png, info, &text, 1)
        }
        png_write_info(png, info)
        if spec.ancillaryAndSplitIDAT {
            let name: [UInt8] = Array("teSt".utf8) + [0]
            let payload: [UInt8] = Array("unknown ancillary chunk".utf8)
            png_write_chunk(png, name, payload, payload.count)
        }
        if spec.bitDepth < 8 { png_set_packing(png) }   // rows below hold one sample per byte

        // Rows: 16-bit samples big-endian (PNG order), else one byte per sample.
        let stored = spec.storedSamples()
        let bytesPerSample = spec.bitDepth == 16 ? 2 : 1
        let rowBytes = spec.width * spec.storedChannels * bytesPerSample
        var pixels = [UInt8](repeating: 0, count: rowBytes * spec.height)
        for (i, v) in stored.enumerated() {
            if bytesPerSample == 2 { pixels[2 * i] = UInt8(v >> 8); pixels[2 * i + 1] = UInt8(v & 0xFF) } else { pixels[i] = UInt8(v) }
        }
        pixels.withUnsafeMutableBufferPointer { buffer in
            var rows: [png_bytep?] = (0..<spec.height).map { buffer.baseAddress! + $0 * rowBytes }
            png_write_image(png, &rows)   // handles the Adam7 passes itself
        }
        png_write_end(png, info)
        return sink.bytes
    }
}

/// CRC-32 (ISO 3309, as in PNG chunks and zlib's crc32).
func pngCRC32<S: Sequence>(_ bytes: S) -> UInt32 where S.Element == UInt8 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = (crc >> 1) ^ (0xEDB8_8320 & (0 &- (crc & 1))) }
    }
    return ~crc
}

/// Byte-level surgery on a PNG file.
struct PNGBytes {
    var bytes: [UInt8]

    struct Chunk { let offset: Int; let type: String; let length: Int
        var dataOffset: Int { offset + 8 }
        var crcOffset: Int { offset + 8 + length }
        var end: Int { offset + 12 + length }
    }

    var chunks: [Chunk] {
        var out: [Chunk] = [], pos = 8
        while pos + 8 <= bytes.count {
            let length = Int(bytes[pos]) << 24 | Int(bytes[pos + 1]) << 16 | Int(bytes[pos + 2]) << 8 | Int(bytes[pos + 3])
            out.append(Chunk(offset: pos, type: String(decoding: bytes[(pos + 4)..<(pos + 8)], as: UTF8.self), length: length))
            pos += 12 + length
        }
        return out
    }
    func chunk(_ type: String) -> Chunk { chunks.first { $0.type == type }! }

    static func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

    /// A complete chunk (length, type, data, CRC over type + data).
    static func makeChunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let typeAndData = Array(type.utf8) + data
        return be32(UInt32(data.count)) + typeAndData + be32(pngCRC32(typeAndData))
    }

    /// The file with its IHDR replaced (CRC recomputed, so only the values are wrong).
    func withIHDR(width: UInt32, height: UInt32, bitDepth: UInt8, colorType: UInt8, interlace: UInt8 = 0) -> [UInt8] {
        let ihdr = chunk("IHDR")
        let data = PNGBytes.be32(width) + PNGBytes.be32(height) + [bitDepth, colorType, 0, 0, interlace]
        return Array(bytes[..<ihdr.offset]) + PNGBytes.makeChunk("IHDR", data) + Array(bytes[ihdr.end...])
    }
}

/// The broken-file recipes, applied to a valid 61x41 RGB 8-bit file (one IDAT).
enum BrokenPNG: String, CaseIterable, Sendable, CustomStringConvertible {
    case zeroByte = "zero_byte"
    case textFile = "text_file"
    case jpegNamedPNG = "jpeg_named_png"
    case badSignature = "bad_signature"
    case truncatedInSignature = "truncated_in_signature"
    case truncatedInIHDR = "truncated_in_ihdr"
    case truncatedInIDAT = "truncated_in_idat"
    case missingIEND = "missing_iend"
    case badCRCIHDR = "bad_crc_ihdr"
    case badCRCIDAT = "bad_crc_idat"
    case badZlibData = "bad_zlib_data"
    case ihdrZeroWidth = "ihdr_zero_width"
    case ihdrBadDepth = "ihdr_bad_depth"
    case ihdrBadColorType = "ihdr_bad_colortype"
    case ihdrBadInterlace = "ihdr_bad_interlace"
    case tooLittleData = "too_little_data"
    case hugeWidth = "huge_width"
    case hugeHeight = "huge_height"
    case hugeArea = "huge_area"

    var description: String { rawValue }
    var fileName: String { rawValue + ".png" }

    /// As in the shared manifest: "error", or "ok_or_error" for complete image data without IEND
    /// (the strict low-level reader may fail in png_read_end).
    var expect: String { self == .missingIEND ? "ok_or_error" : "error" }

    /// A JPEG's first bytes (SOI, APP0 "JFIF") and a little filler; only the magic matters here.
    static let jpegMagic: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10] + Array("JFIF".utf8)
        + [0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00] + [UInt8](repeating: 0x42, count: 64) + [0xFF, 0xD9]

    func damage(_ good: [UInt8]) -> [UInt8] {
        let png = PNGBytes(bytes: good)
        let ihdr = png.chunk("IHDR"), idat = png.chunk("IDAT")
        var b = good
        switch self {
        case .zeroByte: return []
        case .textFile: return Array("this is not a PNG file\n".utf8)
        case .jpegNamedPNG: return BrokenPNG.jpegMagic
        case .badSignature: b[7] = 0x00
        case .truncatedInSignature: return Array(good.prefix(5))
        case .truncatedInIHDR: return Array(good.prefix(20))
        case .truncatedInIDAT: return Array(good.prefix(idat.dataOffset + idat.length / 2))
        case .missingIEND: return Array(good.dropLast(12))
        case .badCRCIHDR: b[ihdr.crcOffset] ^= 0xFF
        case .badCRCIDAT: b[idat.crcOffset] ^= 0xFF
        case .badZlibData:
            var z = Array(good[idat.dataOffset..<idat.crcOffset])
            for i in stride(from: 2, to: z.count, by: 7) { z[i] ^= 0x5A }
            return Array(good[..<idat.offset]) + PNGBytes.makeChunk("IDAT", z) + Array(good[idat.end...])
        case .ihdrZeroWidth: return png.withIHDR(width: 0, height: 41, bitDepth: 8, colorType: 2)
        case .ihdrBadDepth: return png.withIHDR(width: 61, height: 41, bitDepth: 4, colorType: 2)
        case .ihdrBadColorType: return png.withIHDR(width: 61, height: 41, bitDepth: 8, colorType: 5)
        case .ihdrBadInterlace: return png.withIHDR(width: 61, height: 41, bitDepth: 8, colorType: 2, interlace: 2)
        case .tooLittleData: return png.withIHDR(width: 61, height: 82, bitDepth: 8, colorType: 2)
        case .hugeWidth: return png.withIHDR(width: 1_000_001, height: 1, bitDepth: 8, colorType: 2)
        case .hugeHeight: return png.withIHDR(width: 1, height: 1_000_001, bitDepth: 8, colorType: 2)
        case .hugeArea: return png.withIHDR(width: 999_999, height: 999_999, bitDepth: 8, colorType: 2)   // within the size limits, not the memory limit
        }
        return b
    }
}

/// The made suite, written once per test process into a temporary folder (removed at exit):
/// `valid/<name>.png` for every `PNGSpec.all`, `broken/<name>.png` for every `BrokenPNG`.
enum MadeSuite {
    struct BuildError: Error, Sendable, CustomStringConvertible { let description: String }

    static let root = FileManager.default.temporaryDirectory
        .appendingPathComponent("graft-imageio-made-\(getpid())-\(UUID().uuidString)")

    private static let built: Result<URL, BuildError> = {
        do {
            let fm = FileManager.default
            for sub in ["valid", "broken"] {
                try fm.createDirectory(at: root.appendingPathComponent(sub), withIntermediateDirectories: true)
            }
            atexit { try? FileManager.default.removeItem(at: MadeSuite.root) }
            for spec in PNGSpec.all {
                try Data(TestPNGWriter.encode(spec)).write(to: validURL(spec.name))
            }
            let good = TestPNGWriter.encode(PNGSpec.named("rgb8"))
            for broken in BrokenPNG.allCases {
                try Data(broken.damage(good)).write(to: brokenURL(broken))
            }
            return .success(root)
        } catch {
            return .failure(BuildError(description: "cannot write the made PNG suite under \(root.path): \(error)"))
        }
    }()

    private static func validURL(_ name: String) -> URL { root.appendingPathComponent("valid/\(name).png") }
    private static func brokenURL(_ broken: BrokenPNG) -> URL { root.appendingPathComponent("broken/\(broken.fileName)") }

    /// The file of `PNGSpec.named(name)` (the suite is written on first use).
    static func valid(_ name: String) throws -> URL { _ = try built.get(); return validURL(name) }
    static func broken(_ broken: BrokenPNG) throws -> URL { _ = try built.get(); return brokenURL(broken) }
    /// A folder that exists (for the "is a directory" error).
    static func folder() throws -> URL { try built.get() }
}
