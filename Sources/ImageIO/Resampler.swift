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
        _ = resample(image, box: box, width: width, height: height, antialias: antialias,
                     planeOf: Array(0..<image.channels), scratch: AugmentScratch(), into: out)
    }

    /// The one resampling kernel (plain resizing and the fused augmentation share it, so both give
    /// the same bits): a horizontal pass over the source rows some output row reads, into planar
    /// float rows, then a vertical pass per output row and channel, written to plane
    /// `planeOf[channel]` of `out`, mirrored as asked, with `brightness` (v * f clamped to 0...255)
    /// applied. Returns the sum of the gray values contrast uses (`PhotometricOps.GraySum` order)
    /// when `sumGray`, else 0.
    static func resample(_ image: Image, box: CropBox, width: Int, height: Int, antialias: Bool,
                         hflip: Bool = false, vflip: Bool = false, brightness: Float? = nil, sumGray: Bool = false,
                         planeOf: [Int], scratch: AugmentScratch, into out: UnsafeMutablePointer<Float>) -> Double {
        let c = image.channels
        guard width > 0, height > 0 else { return 0 }
        let plane = width * height
        guard image.width > 0, image.height > 0 else {   // nothing to sample: black
            out.initialize(repeating: 0, count: c * plane)
            return 0
        }
        let xs = Axis(inSize: image.width, outSize: width, start: box.x, length: box.width, antialias: antialias)
        let ys = Axis(inSize: image.height, outSize: height, start: box.y, length: box.height, antialias: antialias)
        // Only the source rows some output row reads get the horizontal pass.
        let rowLo = ys.starts.min() ?? 0
        let rowHi = zip(ys.starts, ys.counts).map { $0 + $1 }.max() ?? 0
        let rows = max(0, rowHi - rowLo)
        let tmpPlane = rows * width   // tmp: c planes of rows x width floats
        let tmp = scratch.floats(max(1, c * tmpPlane))
        image.pixels.withUnsafeBufferPointer { pixelBuffer in
            guard let src = pixelBuffer.baseAddress else { return }
            let end = src + pixelBuffer.count
            xs.weights.withUnsafeBufferPointer { wx in
                xs.starts.withUnsafeBufferPointer { starts in
                    xs.counts.withUnsafeBufferPointer { counts in
                        for r in 0..<rows {
                            horizontalRow(src + (rowLo + r) * image.width * c, end: end, channels: c,
                                          starts: starts.baseAddress!, counts: counts.baseAddress!,
                                          weights: wx.baseAddress!, taps: xs.taps, outWidth: width,
                                          into: tmp + r * width, planeStride: tmpPlane)
                        }
                    }
                }
            }
        }
        var gray = PhotometricOps.GraySum()
        ys.weights.withUnsafeBufferPointer { wy in
            ys.starts.withUnsafeBufferPointer { starts in
                ys.counts.withUnsafeBufferPointer { counts in
                    // Output rows in the order the flipped image is laid out, so the gray sum runs in
                    // the same order as PhotometricOps.contrast does on the flipped planes.
                    for row in 0..<height {
                        let y = vflip ? height - 1 - row : row
                        let first = (starts[y] - rowLo) * width, n = counts[y]
                        let w = wy.baseAddress! + y * ys.taps
                        for ch in 0..<c {
                            verticalRow(tmp + ch * tmpPlane + first, stride: width, weights: w, taps: n, width: width,
                                        brightness: brightness, hflip: hflip, into: out + planeOf[ch] * plane + row * width)
                        }
                        guard sumGray else { continue }
                        let base = row * width
                        if c == 3 {   // source channels r, g, b (planeOf may swap the planes)
                            gray.add(red: out + planeOf[0] * plane + base, green: out + planeOf[1] * plane + base,
                                     blue: out + planeOf[2] * plane + base, count: width)
                        } else {
                            gray.add(out + planeOf[0] * plane + base, count: width)
                        }
                    }
                }
            }
        }
        return sumGray ? gray.total : 0
    }

    /// One source row (interleaved UInt8) filtered horizontally to `outWidth` floats per channel,
    /// channel ch at `dst + ch * planeStride`. Each output sums w[k] * pixel[k] from 0 upwards.
    @inline(__always)
    static func horizontalRow(_ line: UnsafePointer<UInt8>, end: UnsafePointer<UInt8>, channels c: Int,
                              starts: UnsafePointer<Int>, counts: UnsafePointer<Int>, weights: UnsafePointer<Float>,
                              taps: Int, outWidth: Int, into dst: UnsafeMutablePointer<Float>, planeStride: Int) {
        if c == 1 {
            for x in 0..<outWidth {
                let n = counts[x], w = weights + x * taps, p = line + starts[x]
                var acc: Float = 0
                for k in 0..<n { acc += w[k] * Float(p[k]) }
                dst[x] = acc
            }
            return
        }
        // 2-4 channels: one 4-lane vector per tap (lanes past `c` hold a neighbour's bytes, unused).
        let d1 = dst + planeStride, d2 = d1 + planeStride, d3 = d2 + planeStride
        for x in 0..<outWidth {
            let n = counts[x], w = weights + x * taps, p = line + starts[x] * c
            var acc = SIMD4<Float>(repeating: 0)
            if p + (n - 1) * c + 4 <= end {
                for k in 0..<n {
                    let v = UnsafeRawPointer(p + k * c).loadUnaligned(as: SIMD4<UInt8>.self)
                    acc += w[k] * SIMD4<Float>(v)
                }
            } else {   // the image's last pixel: no 4-byte load past the end
                for k in 0..<n {
                    var v = SIMD4<Float>(repeating: 0)
                    for ch in 0..<c { v[ch] = Float(p[k * c + ch]) }
                    acc += w[k] * v
                }
            }
            dst[x] = acc[0]; d1[x] = acc[1]
            if c > 2 { d2[x] = acc[2] }
            if c > 3 { d3[x] = acc[3] }
        }
    }

    /// One output row of one channel: sum over taps k of w[k] * (source row k), the rows `stride`
    /// floats apart, then the brightness clamp, stored left to right or mirrored.
    @inline(__always)
    static func verticalRow(_ l0: UnsafePointer<Float>, stride: Int, weights w: UnsafePointer<Float>, taps n: Int,
                            width: Int, brightness: Float?, hflip: Bool, into dst: UnsafeMutablePointer<Float>) {
        typealias V = SIMD8<Float>
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        var x = 0
        while x + 8 <= width {
            var v = V(repeating: 0)
            for k in 0..<n { v += w[k] * load(l0 + k * stride + x) }
            if let f = brightness { v = (v * f).clamped(lowerBound: V(repeating: 0), upperBound: V(repeating: 255)) }
            if hflip {
                let r = V(v[7], v[6], v[5], v[4], v[3], v[2], v[1], v[0])
                UnsafeMutableRawPointer(dst + (width - 8 - x)).storeBytes(of: r, as: V.self)
            } else {
                UnsafeMutableRawPointer(dst + x).storeBytes(of: v, as: V.self)
            }
            x += 8
        }
        while x < width {
            var v: Float = 0
            for k in 0..<n { v += w[k] * l0[k * stride + x] }
            if let f = brightness { v = min(max(v * f, 0), 255) }
            dst[hflip ? width - 1 - x : x] = v
            x += 1
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
