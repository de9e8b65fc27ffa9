import Foundation
import TensorCore

/// A rectangle in source pixel coordinates (continuous: pixel (i, j) covers [i, i+1) x [j, j+1)).
public struct CropBox: Sendable, Equatable, Codable {
    public var x: Double, y: Double, width: Double, height: Double
    public init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x; self.y = y; self.width = width; self.height = height
    }
    public static func whole(_ image: Image) -> CropBox {
        CropBox(x: 0, y: 0, width: Double(image.width), height: Double(image.height))
    }
}

/// Separable bilinear (triangle-filter) resampling in the style of Pillow's `resize(BILINEAR, box=)`:
/// when shrinking, the filter widens by the scale factor, so it averages every source pixel it
/// covers (antialiasing) instead of skipping some; when enlarging it is plain bilinear with
/// half-pixel centres. Taps falling outside the image are dropped and the rest renormalised.
enum Resampler {
    /// Filter taps of one axis: output i reads `counts[i]` source pixels from `starts[i]`.
    struct Axis {
        var starts: [Int]
        var counts: [Int]
        var weights: [Float]   // outSize x taps, row i holds output i's weights
        var taps: Int

        init(inSize: Int, outSize: Int, start: Double, length: Double, antialias: Bool) {
            let scale = length / Double(outSize)
            let filterScale = antialias ? max(scale, 1) : 1
            let support = filterScale   // the triangle filter has support 1
            taps = Int(ceil(support)) * 2 + 1
            starts = [Int](repeating: 0, count: outSize)
            counts = [Int](repeating: 0, count: outSize)
            weights = [Float](repeating: 0, count: outSize * taps)
            var w = [Double](repeating: 0, count: taps)   // one output's raw weights, reused
            for i in 0..<outSize {
                let center = start + (Double(i) + 0.5) * scale
                var lo = Int((center - support + 0.5).rounded(.down))
                var hi = Int((center + support + 0.5).rounded(.down))
                lo = max(lo, 0); hi = min(hi, inSize)
                if hi <= lo {   // box entirely outside the image: use the nearest edge pixel
                    lo = min(max(Int(center.rounded(.down)), 0), inSize - 1); hi = lo + 1
                }
                hi = min(hi, lo + taps)
                var total = 0.0
                for k in lo..<hi {
                    let t = abs((Double(k) + 0.5 - center) / filterScale)
                    w[k - lo] = max(0, 1 - t)
                    total += w[k - lo]
                }
                if total <= 0 {   // only possible at a box edge: nearest pixel
                    let nearest = min(max(Int(center.rounded(.down)), lo), hi - 1)
                    for k in lo..<hi { w[k - lo] = k == nearest ? 1 : 0 }
                    total = 1
                }
                starts[i] = lo
                counts[i] = hi - lo
                for k in 0..<(hi - lo) { weights[i * taps + k] = Float(w[k] / total) }
            }
        }
    }

    /// Resamples `box` of `image` (HWC, UInt8) to `width` x `height`, written planar (CHW) as Float in
    /// 0...255 into `out` (image.channels * height * width floats).
    static func resamplePlanar(_ image: Image, box: CropBox, width: Int, height: Int, antialias: Bool,
                               into out: UnsafeMutablePointer<Float>) {
        let c = image.channels
        guard width > 0, height > 0 else { return }
        guard image.width > 0, image.height > 0 else {   // nothing to sample: black
            out.initialize(repeating: 0, count: c * width * height); return
        }
        let xs = Axis(inSize: image.width, outSize: width, start: box.x, length: box.width, antialias: antialias)
        let ys = Axis(inSize: image.height, outSize: height, start: box.y, length: box.height, antialias: antialias)
        // Only the source rows some output row reads get the horizontal pass.
        let rowLo = ys.starts.min() ?? 0
        let rowHi = zip(ys.starts, ys.counts).map { $0 + $1 }.max() ?? 0
        let rows = max(0, rowHi - rowLo)
        // Horizontal pass: rows x width x c, kept interleaved so the inner loop reads contiguously.
        let tmp = UnsafeMutablePointer<Float>.allocate(capacity: max(1, rows * width * c))
        defer { tmp.deallocate() }
        image.pixels.withUnsafeBufferPointer { pixelBuffer in
            guard let src = pixelBuffer.baseAddress else { return }
            xs.weights.withUnsafeBufferPointer { wx in
                for r in 0..<rows {
                    horizontalPass(src + (rowLo + r) * image.width * c, channels: c, axis: xs,
                                   weights: wx.baseAddress!, outWidth: width, into: tmp + r * width * c)
                }
            }
        }
        // Vertical pass: each output row is a weighted sum of whole (contiguous) tmp rows, then it is
        // de-interleaved into the planes.
        let plane = width * height, rowLength = width * c
        let rowAcc = UnsafeMutablePointer<Float>.allocate(capacity: max(1, rowLength))
        defer { rowAcc.deallocate() }
        ys.weights.withUnsafeBufferPointer { wy in
            for y in 0..<height {
                let s = ys.starts[y] - rowLo, n = ys.counts[y]
                let w = wy.baseAddress! + y * ys.taps
                rowAcc.initialize(repeating: 0, count: rowLength)
                for k in 0..<n {
                    let line = tmp + (s + k) * rowLength, wk = w[k]
                    for i in 0..<rowLength { rowAcc[i] += wk * line[i] }
                }
                let dst = out + y * width
                if c == 1 {
                    dst.update(from: rowAcc, count: width)
                } else {
                    for x in 0..<width {
                        for ch in 0..<c { dst[ch * plane + x] = rowAcc[x * c + ch] }
                    }
                }
            }
        }
    }

    /// One source row (interleaved UInt8) filtered horizontally to `outWidth` interleaved floats.
    @inline(__always)
    static func horizontalPass(_ line: UnsafePointer<UInt8>, channels c: Int, axis: Axis,
                                       weights: UnsafePointer<Float>, outWidth: Int, into dst: UnsafeMutablePointer<Float>) {
        for x in 0..<outWidth {
            let n = axis.counts[x]
            let w = weights + x * axis.taps
            var p = line + axis.starts[x] * c
            if c == 3 {
                // RGB: the three channels share each tap's weight; one pass over the taps.
                var r: Float = 0, g: Float = 0, b: Float = 0
                for k in 0..<n {
                    r += w[k] * Float(p[0]); g += w[k] * Float(p[1]); b += w[k] * Float(p[2]); p += 3
                }
                dst[x * 3] = r; dst[x * 3 + 1] = g; dst[x * 3 + 2] = b
            } else {
                for ch in 0..<c {
                    var acc: Float = 0
                    for k in 0..<n { acc += w[k] * Float(p[k * c + ch]) }
                    dst[x * c + ch] = acc
                }
            }
        }
    }

    /// Resampled 8-bit image (HWC), values rounded and clamped.
    static func resampled(_ image: Image, box: CropBox, width: Int, height: Int, antialias: Bool) -> Image {
        let c = image.channels, plane = width * height
        let planar = UnsafeMutablePointer<Float>.allocate(capacity: max(1, plane * c))
        defer { planar.deallocate() }
        resamplePlanar(image, box: box, width: width, height: height, antialias: antialias, into: planar)
        return Image.fromPlanar(planar, width: width, height: height, channels: c)
    }
}

extension Image {
    /// Bilinear resize (antialiased when shrinking) of the whole image or of `box`.
    public func resized(width: Int, height: Int, box: CropBox? = nil, antialias: Bool = true) -> Image {
        check(width >= 0 && height >= 0, "resized(width: \(width), height: \(height)): negative size")
        return Resampler.resampled(self, box: box ?? .whole(self), width: width, height: height, antialias: antialias)
    }

    /// Crops integer pixels (no resampling); the rectangle must lie inside the image.
    public func cropped(x: Int, y: Int, width: Int, height: Int) -> Image {
        check(x >= 0 && y >= 0 && width >= 0 && height >= 0 && x + width <= self.width && y + height <= self.height,
              "crop (\(x), \(y), \(width)x\(height)) outside \(self.width)x\(self.height) image")
        var out = [UInt8](repeating: 0, count: width * height * channels)
        let rowBytes = width * channels
        for r in 0..<height {
            let from = ((y + r) * self.width + x) * channels
            out.replaceSubrange(r * rowBytes..<(r + 1) * rowBytes, with: pixels[from..<(from + rowBytes)])
        }
        return Image(width: width, height: height, channels: channels, pixels: out)
    }

    /// Builds an 8-bit HWC image from planar CHW floats in 0...255 (rounded, clamped).
    static func fromPlanar(_ planar: UnsafePointer<Float>, width: Int, height: Int, channels c: Int) -> Image {
        let plane = width * height
        var pixels = [UInt8](repeating: 0, count: plane * c)
        pixels.withUnsafeMutableBufferPointer { dst in
            for ch in 0..<c {
                let src = planar + ch * plane
                for i in 0..<plane {
                    dst[i * c + ch] = UInt8(min(max(src[i] + 0.5, 0), 255))
                }
            }
        }
        return Image(width: width, height: height, channels: c, pixels: pixels)
    }
}
