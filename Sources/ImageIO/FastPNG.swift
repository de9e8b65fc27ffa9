import Foundation

/// The fast path of `PNGDecoder.decode` for the PNGs datasets are made of: 8-bit gray, gray + alpha,
/// RGB or RGBA, not interlaced, no tRNS. The zlib stream is inflated in one call by libdeflate
/// (loaded at run time with dlopen; 2-3x faster than zlib's inflate) and the rows are unfiltered
/// here. Every CRC and the Adler-32 are checked, as libpng does.
///
/// Anything else - another colour type or depth, interlacing, a tRNS chunk, an unknown critical
/// chunk, any structural oddity or checksum error, a limit in `PNGDecodeOptions` - returns nil, and
/// the caller decodes with libpng, which then produces exactly the image or the error it always did.
/// So this path never decides what a file means; it only handles the plain cases faster.
/// `GRAFT_PNG_FAST=0` turns it off (for comparisons).
enum FastPNG {
    /// libdeflate entry points, resolved once. nil when the library is not installed.
    final class LibDeflate: @unchecked Sendable {
        typealias Alloc = @convention(c) () -> OpaquePointer?
        typealias Free = @convention(c) (OpaquePointer?) -> Void
        typealias ZlibDecompress = @convention(c) (OpaquePointer?, UnsafeRawPointer?, Int, UnsafeMutableRawPointer?,
                                                   Int, UnsafeMutablePointer<Int>?) -> Int32
        typealias CRC32 = @convention(c) (UInt32, UnsafeRawPointer?, Int) -> UInt32
        let alloc: Alloc, free: Free, zlibDecompress: ZlibDecompress, crc32: CRC32

        init?() {
            guard let handle = dlopen("libdeflate.so.0", RTLD_NOW | RTLD_LOCAL) ?? dlopen("libdeflate.so", RTLD_NOW | RTLD_LOCAL)
            else { return nil }
            guard let a = dlsym(handle, "libdeflate_alloc_decompressor"),
                  let f = dlsym(handle, "libdeflate_free_decompressor"),
                  let z = dlsym(handle, "libdeflate_zlib_decompress"),
                  let c = dlsym(handle, "libdeflate_crc32") else { return nil }
            alloc = unsafeBitCast(a, to: Alloc.self)
            free = unsafeBitCast(f, to: Free.self)
            zlibDecompress = unsafeBitCast(z, to: ZlibDecompress.self)
            crc32 = unsafeBitCast(c, to: CRC32.self)
        }
    }

    static let libdeflate: LibDeflate? = {
        if ProcessInfo.processInfo.environment["GRAFT_PNG_FAST"] == "0" { return nil }
        return LibDeflate()
    }()

    /// Whether the fast path is available in this process.
    static var isAvailable: Bool { libdeflate != nil }

    @inline(__always)
    static func be32(_ p: UnsafePointer<UInt8>) -> UInt32 {
        UInt32(p[0]) << 24 | UInt32(p[1]) << 16 | UInt32(p[2]) << 8 | UInt32(p[3])
    }

    /// The 8-bit samples (1-4 channels, rows packed) of a plain PNG, or nil (use libpng).
    static func decode(_ bytes: UnsafeRawBufferPointer, options: PNGDecodeOptions)
        -> (width: Int, height: Int, channels: Int, pixels: [UInt8])? {
        guard let lib = libdeflate, let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return nil }
        let n = bytes.count
        let signature: [UInt8] = [137, 80, 78, 71, 13, 10, 26, 10]
        guard n >= 8 + 25 + 12, (0..<8).allSatisfy({ base[$0] == signature[$0] }) else { return nil }

        // Chunk walk: IHDR first, IDATs consecutive, IEND last; every CRC checked.
        var offset = 8
        var width = 0, height = 0, channels = 0
        var idat: [(Int, Int)] = []   // (payload offset, length)
        var idatTotal = 0
        var sawIDAT = false, idatEnded = false, sawIEND = false
        var first = true
        while offset + 12 <= n {
            let length = Int(be32(base + offset))
            let type = be32(base + offset + 4)
            guard length <= 0x7FFF_FFFF, offset + 12 + length <= n else { return nil }
            let crc = be32(base + offset + 8 + length)
            guard lib.crc32(0, base + offset + 4, length + 4) == crc else { return nil }
            let data = base + offset + 8
            let isCritical = (type >> 24) & 0x20 == 0
            switch type {
            case 0x4948_4452:   // IHDR
                guard first, length == 13 else { return nil }
                width = Int(be32(data)); height = Int(be32(data + 4))
                let depth = data[8], colorType = data[9]
                guard depth == 8, data[10] == 0, data[11] == 0, data[12] == 0 else { return nil }  // no interlace
                switch colorType {
                case 0: channels = 1
                case 2: channels = 3
                case 4: channels = 2
                case 6: channels = 4
                default: return nil
                }
            case 0x4944_4154:   // IDAT
                guard !first, !idatEnded else { return nil }
                sawIDAT = true
                idat.append((offset + 8, length)); idatTotal += length
            case 0x4945_4E44:   // IEND
                guard !first, length == 0 else { return nil }
                sawIEND = true
            case 0x7452_4E53:   // tRNS: colour-key rules live in the libpng path
                return nil
            default:
                // Unknown critical chunks and PLTE (whose rules differ per colour type) go to libpng.
                guard !first, !isCritical else { return nil }
            }
            if type != 0x4944_4154 && sawIDAT { idatEnded = true }
            first = false
            offset += 12 + length
            if sawIEND { break }
        }
        guard sawIEND, sawIDAT, width > 0, height > 0,
              width <= options.maxWidth, height <= options.maxHeight, width <= 0x7FFF_FFFF, height <= 0x7FFF_FFFF
        else { return nil }
        let rowBytes = width * channels
        let (total, overflow) = rowBytes.multipliedReportingOverflow(by: height)
        guard !overflow, total <= options.maxDecodedBytes else { return nil }
        let filtered = (rowBytes + 1) * height

        // One contiguous zlib stream (copy only when it is split over several IDATs).
        let raw = UnsafeMutablePointer<UInt8>.allocate(capacity: filtered)
        defer { raw.deallocate() }
        guard let decompressor = lib.alloc() else { return nil }
        defer { lib.free(decompressor) }
        var produced = 0
        let status: Int32
        if idat.count == 1 {
            status = lib.zlibDecompress(decompressor, base + idat[0].0, idat[0].1, raw, filtered, &produced)
        } else {
            let stream = UnsafeMutablePointer<UInt8>.allocate(capacity: max(idatTotal, 1))
            defer { stream.deallocate() }
            var at = 0
            for (o, l) in idat { (stream + at).update(from: base + o, count: l); at += l }
            status = lib.zlibDecompress(decompressor, stream, idatTotal, raw, filtered, &produced)
        }
        guard status == 0, produced == filtered else { return nil }

        var pixels = [UInt8](repeating: 0, count: total)
        let ok = pixels.withUnsafeMutableBufferPointer { out -> Bool in
            unfilter(raw, rowBytes: rowBytes, height: height, bpp: channels, into: out.baseAddress!)
        }
        return ok ? (width, height, channels, pixels) : nil
    }

    /// Reverses the per-row filters (None, Sub, Up, Average, Paeth); false for an unknown filter type.
    static func unfilter(_ raw: UnsafePointer<UInt8>, rowBytes: Int, height: Int, bpp: Int,
                         into out: UnsafeMutablePointer<UInt8>) -> Bool {
        // A zero "previous row" for the first row.
        let zero = UnsafeMutablePointer<UInt8>.allocate(capacity: rowBytes)
        zero.initialize(repeating: 0, count: rowBytes)
        defer { zero.deallocate() }
        for y in 0..<height {
            let filter = raw[y * (rowBytes + 1)]
            let src = raw + y * (rowBytes + 1) + 1
            let dst = out + y * rowBytes
            let prev = y == 0 ? UnsafePointer(zero) : UnsafePointer(out + (y - 1) * rowBytes)
            switch filter {
            case 0:
                dst.update(from: src, count: rowBytes)
            case 1:
                for i in 0..<min(bpp, rowBytes) { dst[i] = src[i] }
                var i = bpp
                while i < rowBytes { dst[i] = src[i] &+ dst[i - bpp]; i += 1 }
            case 2:
                for i in 0..<rowBytes { dst[i] = src[i] &+ prev[i] }
            case 3:
                for i in 0..<min(bpp, rowBytes) { dst[i] = src[i] &+ prev[i] >> 1 }
                var i = bpp
                while i < rowBytes {
                    dst[i] = src[i] &+ UInt8(truncatingIfNeeded: (UInt16(dst[i - bpp]) + UInt16(prev[i])) >> 1)
                    i += 1
                }
            case 4:
                paeth(src, prev: prev, rowBytes: rowBytes, bpp: bpp, into: dst)
            default:
                return false
            }
        }
        return true
    }

    @inline(__always)
    static func paeth(_ src: UnsafePointer<UInt8>, prev: UnsafePointer<UInt8>, rowBytes: Int, bpp: Int,
                      into dst: UnsafeMutablePointer<UInt8>) {
        // First pixel: a = c = 0, so the predictor is b.
        for i in 0..<min(bpp, rowBytes) { dst[i] = src[i] &+ prev[i] }
        if bpp == 3 || bpp == 4 {
            // One pixel per step, its channels side by side in a vector.
            typealias V = SIMD4<Int16>
            @inline(__always) func load(_ p: UnsafePointer<UInt8>) -> V {
                V(Int16(p[0]), Int16(p[1]), Int16(p[2]), bpp == 4 ? Int16(p[3]) : 0)
            }
            var a = load(UnsafePointer(dst)), c = load(prev)
            var i = bpp
            while i < rowBytes {
                let b = load(prev + i)
                let p = a &+ b &- c
                let pa = abs(b &- c), pb = abs(a &- c), pc = abs(p &- c)   // |p-a|, |p-b|, |p-c|
                var pred = c
                pred.replace(with: b, where: pb .<= pc)
                pred.replace(with: a, where: (pa .<= pb) .& (pa .<= pc))
                let s = load(src + i)
                let r = (s &+ pred) & V(repeating: 0xFF)
                dst[i] = UInt8(truncatingIfNeeded: r[0]); dst[i + 1] = UInt8(truncatingIfNeeded: r[1])
                dst[i + 2] = UInt8(truncatingIfNeeded: r[2])
                if bpp == 4 { dst[i + 3] = UInt8(truncatingIfNeeded: r[3]) }
                a = r; c = b
                i += bpp
            }
        } else {
            var i = bpp
            while i < rowBytes {
                let a = Int(dst[i - bpp]), b = Int(prev[i]), c = Int(prev[i - bpp])
                let pa = abs(b - c), pb = abs(a - c), pc = abs(a + b - 2 * c)
                let pred = (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c)
                dst[i] = src[i] &+ UInt8(pred)
                i += 1
            }
        }
    }
}

/// `abs` for SIMD lanes.
@inline(__always)
private func abs(_ v: SIMD4<Int16>) -> SIMD4<Int16> {
    v.replacing(with: 0 &- v, where: v .< 0)
}
