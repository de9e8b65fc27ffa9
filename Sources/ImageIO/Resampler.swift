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
        resample(image, box: box, width: width, height: height, antialias: antialias,
                 planeOf: Array(0..<image.channels), scratch: AugmentScratch(), into: out)
    }

    /// Per-pixel steps applied after resampling, in this order, each exactly as the step-by-step
    /// path does it (`PhotometricOps`, `Preprocessing.apply`).
    struct Finish {
        /// v * f, clamped to 0...255.
        var brightness: Float?
        /// Blend with the image's mean gray (`PhotometricOps.contrast`), clamped to 0...255.
        var contrast: Float?
        /// v * scale[ch] + offset[ch] for source channel ch (the normalisation); nil: none.
        var scale: [Float]?
        var offset: [Float]?
        init(brightness: Float? = nil, contrast: Float? = nil, scale: [Float]? = nil, offset: [Float]? = nil) {
            self.brightness = brightness; self.contrast = contrast; self.scale = scale; self.offset = offset
        }
    }

    /// The one resampling kernel (plain resizing and the fused augmentation share it, so both give
    /// the same bits): a horizontal pass over the source rows some output row reads, into planar
    /// float rows, then a vertical pass per output row and channel, mirrored as asked, finished
    /// (`finish`) and written to plane `planeOf[channel]` of `out`.
    /// With contrast, the rows are computed twice: once for the mean gray, once to finish and store.
    /// Recomputing from the small horizontal-pass buffer is cheaper than reading the 600 KB output
    /// back, and each output value is written once.
    static func resample(_ image: Image, box: CropBox, width: Int, height: Int, antialias: Bool,
                         hflip: Bool = false, vflip: Bool = false, finish: Finish = Finish(),
                         planeOf: [Int], scratch: AugmentScratch, into out: UnsafeMutablePointer<Float>) {
        let c = image.channels
        guard width > 0, height > 0 else { return }
        let plane = width * height
        guard image.width > 0, image.height > 0 else {   // nothing to sample: black, then finished
            let rows = scratch.floats(c * width)
            rows.initialize(repeating: 0, count: c * width)
            finishRow(rows, channels: c, width: width, finish: finish, shift: finish.contrast.map { _ in 0 },
                      planeOf: planeOf, plane: plane, rows: 0..<height, into: out)
            return
        }
        let xs = Axis(inSize: image.width, outSize: width, start: box.x, length: box.width, antialias: antialias)
        let ys = Axis(inSize: image.height, outSize: height, start: box.y, length: box.height, antialias: antialias)
        // Only the source rows some output row reads get the horizontal pass.
        let rowLo = ys.starts.min() ?? 0
        let rowHi = zip(ys.starts, ys.counts).map { $0 + $1 }.max() ?? 0
        let rows = max(0, rowHi - rowLo)
        let tmpPlane = rows * width   // tmp: c planes of rows x width floats, then one output row per channel
        let tmp = scratch.floats(max(1, c * tmpPlane) + c * width)
        let rowBuffer = tmp + max(1, c * tmpPlane)
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
        ys.weights.withUnsafeBufferPointer { wy in
            ys.starts.withUnsafeBufferPointer { starts in
                ys.counts.withUnsafeBufferPointer { counts in
                    // Output row `row` (after the flips) into rowBuffer, brightness applied.
                    func compute(_ row: Int) {
                        let y = vflip ? height - 1 - row : row
                        let first = (starts[y] - rowLo) * width, n = counts[y]
                        let w = wy.baseAddress! + y * ys.taps
                        for ch in 0..<c {
                            verticalRow(tmp + ch * tmpPlane + first, stride: width, weights: w, taps: n, width: width,
                                        brightness: finish.brightness, hflip: hflip, into: rowBuffer + ch * width)
                        }
                    }
                    var shift: Float?
                    if let f = finish.contrast {
                        // Rows in the order of the flipped image, as PhotometricOps.contrast sums them.
                        var gray = PhotometricOps.GraySum()
                        for row in 0..<height {
                            compute(row)
                            if c == 3 {
                                gray.add(red: rowBuffer, green: rowBuffer + width, blue: rowBuffer + 2 * width, count: width)
                            } else {
                                gray.add(rowBuffer, count: width)
                            }
                        }
                        let mean = Float(gray.total / Double(max(plane, 1)))
                        shift = mean * (1 - f)
                    }
                    for row in 0..<height {
                        compute(row)
                        finishRow(rowBuffer, channels: c, width: width, finish: finish, shift: shift, planeOf: planeOf,
                                  plane: plane, rows: row..<(row + 1), into: out)
                    }
                }
            }
        }
    }

    /// Contrast (with `shift` = mean * (1 - f)) and normalisation of one computed row per channel,
    /// stored into output rows `rows` of each plane.
    @inline(__always)
    static func finishRow(_ buffer: UnsafeMutablePointer<Float>, channels c: Int, width: Int, finish: Finish,
                          shift: Float?, planeOf: [Int], plane: Int, rows: Range<Int>,
                          into out: UnsafeMutablePointer<Float>) {
        for ch in 0..<c {
            let b = buffer + ch * width
            let scale = finish.scale?[ch] ?? 1, offset = finish.offset?[ch] ?? 0
            let normalise = finish.scale != nil
            for row in rows {
                let d = out + planeOf[ch] * plane + row * width
                if let f = finish.contrast, let shift {
                    if normalise {
                        for i in 0..<width { d[i] = min(max(b[i] * f + shift, 0), 255) * scale + offset }
                    } else {
                        for i in 0..<width { d[i] = min(max(b[i] * f + shift, 0), 255) }
                    }
                } else if normalise {
                    for i in 0..<width { d[i] = b[i] * scale + offset }
                } else {
                    d.update(from: b, count: width)
                }
            }
        }
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
        // Weights past an output's count are 0, and acc + 0 * v == acc, so with 3 taps (enlarging)
        // all of them run unrolled with the same result.
        @inline(__always) func pixel(_ p: UnsafePointer<UInt8>) -> SIMD4<Float> {
            SIMD4<Float>(UnsafeRawPointer(p).loadUnaligned(as: SIMD4<UInt8>.self))
        }
        let d1 = dst + planeStride, d2 = d1 + planeStride, d3 = d2 + planeStride
        for x in 0..<outWidth {
            let n = counts[x], w = weights + x &* taps, p = line + starts[x] &* c
            var acc = SIMD4<Float>(repeating: 0)
            if n == 2 && p + (c &+ 4) <= end {   // enlarging: two taps for most outputs
                let t0: SIMD4<Float> = w[0] * pixel(p)
                let t1: SIMD4<Float> = w[1] * pixel(p + c)
                acc = t0 + t1
            } else if taps == 3 && p + (2 &* c &+ 4) <= end {
                let t0: SIMD4<Float> = w[0] * pixel(p)
                let t1: SIMD4<Float> = w[1] * pixel(p + c)
                let t2: SIMD4<Float> = w[2] * pixel(p + 2 &* c)
                acc = t0 + t1 + t2
            } else if p + ((n - 1) &* c &+ 4) <= end {
                for k in 0..<n { acc += w[k] * pixel(p + k &* c) }
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
    /// floats apart, mirrored if asked, then the brightness clamp.
    @inline(__always)
    static func verticalRow(_ l0: UnsafePointer<Float>, stride: Int, weights w: UnsafePointer<Float>, taps n: Int,
                            width: Int, brightness: Float?, hflip: Bool, into dst: UnsafeMutablePointer<Float>) {
        typealias V = SIMD8<Float>
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        @inline(__always) func store(_ v: V, _ x: Int) { UnsafeMutableRawPointer(dst + x).storeBytes(of: v, as: V.self) }
        var x = 0
        // 0 + a == a for the non-negative terms here, so starting from the first product is exact.
        if n == 2 {
            let w0 = w[0], w1 = w[1], l1 = l0 + stride
            while x &+ 8 <= width {
                store(w0 * load(l0 + x) + w1 * load(l1 + x), x)
                x &+= 8
            }
        } else if n == 3 {
            let w0 = w[0], w1 = w[1], w2 = w[2], l1 = l0 + stride, l2 = l1 + stride
            while x &+ 8 <= width {
                store(w0 * load(l0 + x) + w1 * load(l1 + x) + w2 * load(l2 + x), x)
                x &+= 8
            }
        }
        while x &+ 8 <= width {
            var v = V(repeating: 0)
            for k in 0..<n { v += w[k] * load(l0 + k * stride + x) }
            store(v, x)
            x &+= 8
        }
        while x < width {
            var v: Float = 0
            for k in 0..<n { v += w[k] * l0[k * stride + x] }
            dst[x] = v
            x += 1
        }
        // Separate passes over the row (in L1) keep the loops above branch-free; the scalar
        // min/max vectorises, where SIMD clamped(...) compiled to calls.
        if hflip { reverse(dst, count: width) }
        if let f = brightness {
            for i in 0..<width { dst[i] = min(max(dst[i] * f, 0), 255) }
        }
    }

    /// Reverses `count` floats in place, eight at a time from both ends.
    @inline(__always)
    static func reverse(_ p: UnsafeMutablePointer<Float>, count: Int) {
        typealias V = SIMD8<Float>
        @inline(__always) func load(_ q: UnsafeMutablePointer<Float>) -> V { UnsafeRawPointer(q).loadUnaligned(as: V.self) }
        @inline(__always) func reversed(_ v: V) -> V { V(v[7], v[6], v[5], v[4], v[3], v[2], v[1], v[0]) }
        var lo = 0, hi = count   // [lo, hi) is still to be reversed
        while hi &- lo >= 16 {
            let a = load(p + lo), b = load(p + (hi &- 8))
            UnsafeMutableRawPointer(p + lo).storeBytes(of: reversed(b), as: V.self)
            UnsafeMutableRawPointer(p + (hi &- 8)).storeBytes(of: reversed(a), as: V.self)
            lo &+= 8
            hi &-= 8
        }
        hi -= 1
        while lo < hi {
            let t = p[lo]
            p[lo] = p[hi]; p[hi] = t
            lo += 1; hi -= 1
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
