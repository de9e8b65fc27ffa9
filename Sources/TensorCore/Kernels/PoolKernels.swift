import Foundation

/// Pooling over NCHW planes. Padded cells are never selected (max) and never counted (average, L2),
/// which is Keras's rule for 'same' pooling. A window with no in-bounds cell outputs 0.
/// Backward passes overwrite `dInput`; max pooling re-finds the (first) maximum instead of storing indices.
public enum PoolKernels {
    @inline(__always)
    static func span(_ o: Int, stride: Int, pad: Int, kernel: Int, size: Int) -> (Int, Int) {
        let start = o * stride - pad
        return (max(start, 0), min(start + kernel, size))
    }

    /// Clamped window bounds for every output row and column, computed once per call.
    struct Windows {
        let y0: UnsafeMutablePointer<Int>, y1: UnsafeMutablePointer<Int>
        let x0: UnsafeMutablePointer<Int>, x1: UnsafeMutablePointer<Int>
        init(_ g: Pool2DGeometry) {
            let oh = g.outHeight, ow = g.outWidth
            let buf = UnsafeMutablePointer<Int>.allocate(capacity: 2 * (oh + ow))
            y0 = buf; y1 = buf + oh; x0 = buf + 2 * oh; x1 = buf + 2 * oh + ow
            for o in 0..<oh { (y0[o], y1[o]) = span(o, stride: g.strideH, pad: g.padTop, kernel: g.kernelHeight, size: g.inHeight) }
            for o in 0..<ow { (x0[o], x1[o]) = span(o, stride: g.strideW, pad: g.padLeft, kernel: g.kernelWidth, size: g.inWidth) }
        }
        func free() { y0.deallocate() }
        @inline(__always) func cells(_ oy: Int, _ ox: Int) -> Int { max(0, y1[oy] - y0[oy]) * max(0, x1[ox] - x0[ox]) }
    }

    static func forEachPlane(_ g: Pool2DGeometry, _ body: (Int) -> Void) {
        let planes = g.batch * g.channels
        let work = max(1, g.outHeight * g.outWidth * g.kernelHeight * g.kernelWidth + g.inHeight * g.inWidth)
        parallelChunks(planes, minChunk: max(1, 32768 / work)) { r in for p in r { body(p) } }
    }

    /// 2x2 windows, stride 2, no padding (VGG, LeNet): every window is full, no bounds checks.
    static func isPlain2x2(_ g: Pool2DGeometry) -> Bool {
        g.kernelHeight == 2 && g.kernelWidth == 2 && g.strideH == 2 && g.strideW == 2
            && g.padTop == 0 && g.padBottom == 0 && g.padLeft == 0 && g.padRight == 0
    }

    public static func maxForward(_ g: Pool2DGeometry, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
        let ih = g.inHeight, iw = g.inWidth, oh = g.outHeight, ow = g.outWidth
        if isPlain2x2(g) {
            forEachPlane(g) { p in
                let src = input + p * ih * iw, dst = output + p * oh * ow
                for oy in 0..<oh {
                    let r0 = src + 2 * oy * iw, r1 = r0 + iw, out = dst + oy * ow
                    for ox in 0..<ow { out[ox] = max(max(r0[2 * ox], r0[2 * ox + 1]), max(r1[2 * ox], r1[2 * ox + 1])) }
                }
            }
            return
        }
        let w = Windows(g)
        defer { w.free() }
        forEachPlane(g) { p in
            let src = input + p * ih * iw, dst = output + p * oh * ow
            for oy in 0..<oh {
                let y0 = w.y0[oy], y1 = w.y1[oy]
                for ox in 0..<ow {
                    let x0 = w.x0[ox], x1 = w.x1[ox]
                    var m = -Float.infinity
                    var y = y0
                    while y < y1 {
                        let row = src + y * iw
                        var x = x0
                        while x < x1 { m = max(m, row[x]); x += 1 }
                        y += 1
                    }
                    dst[oy * ow + ox] = (y0 < y1 && x0 < x1) ? m : 0
                }
            }
        }
    }

    public static func maxBackward(_ g: Pool2DGeometry, input: UnsafePointer<Float>, dOutput: UnsafePointer<Float>,
                                   dInput: UnsafeMutablePointer<Float>) {
        let ih = g.inHeight, iw = g.inWidth, oh = g.outHeight, ow = g.outWidth
        if isPlain2x2(g) {
            forEachPlane(g) { p in
                let src = input + p * ih * iw, dst = dInput + p * ih * iw, dy = dOutput + p * oh * ow
                dst.initialize(repeating: 0, count: ih * iw)
                for oy in 0..<oh {
                    let a = 2 * oy * iw, b = a + iw
                    for ox in 0..<ow {
                        // first maximum in row-major window order, as the generic path picks it
                        var best = a + 2 * ox, m = src[best]
                        if src[a + 2 * ox + 1] > m { best = a + 2 * ox + 1; m = src[best] }
                        if src[b + 2 * ox] > m { best = b + 2 * ox; m = src[best] }
                        if src[b + 2 * ox + 1] > m { best = b + 2 * ox + 1 }
                        dst[best] = dy[oy * ow + ox]
                    }
                }
            }
            return
        }
        let w = Windows(g)
        defer { w.free() }
        forEachPlane(g) { p in
            let src = input + p * ih * iw, dst = dInput + p * ih * iw, dy = dOutput + p * oh * ow
            dst.initialize(repeating: 0, count: ih * iw)
            for oy in 0..<oh {
                let y0 = w.y0[oy], y1 = w.y1[oy]
                for ox in 0..<ow {
                    let x0 = w.x0[ox], x1 = w.x1[ox]
                    guard y0 < y1 && x0 < x1 else { continue }
                    var best = y0 * iw + x0, m = src[best]
                    var y = y0
                    while y < y1 {
                        var i = y * iw + x0
                        let end = y * iw + x1
                        while i < end { if src[i] > m { m = src[i]; best = i }; i += 1 }
                        y += 1
                    }
                    dst[best] += dy[oy * ow + ox]
                }
            }
        }
    }

    public static func avgForward(_ g: Pool2DGeometry, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
        let ih = g.inHeight, iw = g.inWidth, oh = g.outHeight, ow = g.outWidth
        if isPlain2x2(g) {
            // Same summation order as the general loop below, so results are bit-identical.
            forEachPlane(g) { p in
                let src = input + p * ih * iw, dst = output + p * oh * ow
                for oy in 0..<oh {
                    let r0 = src + 2 * oy * iw, r1 = r0 + iw, out = dst + oy * ow
                    for ox in 0..<ow { out[ox] = ((((0 + r0[2 * ox]) + r0[2 * ox + 1]) + r1[2 * ox]) + r1[2 * ox + 1]) / 4 }
                }
            }
            return
        }
        let w = Windows(g)
        defer { w.free() }
        forEachPlane(g) { p in
            let src = input + p * ih * iw, dst = output + p * oh * ow
            for oy in 0..<oh {
                let y0 = w.y0[oy], y1 = w.y1[oy]
                for ox in 0..<ow {
                    let x0 = w.x0[ox], x1 = w.x1[ox], cells = w.cells(oy, ox)
                    var s: Float = 0
                    var y = y0
                    while y < y1 {
                        let row = src + y * iw
                        var x = x0
                        while x < x1 { s += row[x]; x += 1 }
                        y += 1
                    }
                    dst[oy * ow + ox] = cells > 0 ? s / Float(cells) : 0
                }
            }
        }
    }

    public static func avgBackward(_ g: Pool2DGeometry, dOutput: UnsafePointer<Float>, dInput: UnsafeMutablePointer<Float>) {
        let ih = g.inHeight, iw = g.inWidth, oh = g.outHeight, ow = g.outWidth
        if isPlain2x2(g) {
            forEachPlane(g) { p in
                let dst = dInput + p * ih * iw, dy = dOutput + p * oh * ow
                if ih != 2 * oh || iw != 2 * ow { dst.initialize(repeating: 0, count: ih * iw) }  // odd sizes: last row/col unused
                for oy in 0..<oh {
                    let r0 = dst + 2 * oy * iw, r1 = r0 + iw
                    for ox in 0..<ow {
                        let v = dy[oy * ow + ox] * 0.25
                        r0[2 * ox] = v; r0[2 * ox + 1] = v; r1[2 * ox] = v; r1[2 * ox + 1] = v
                    }
                }
            }
            return
        }
        let w = Windows(g)
        defer { w.free() }
        forEachPlane(g) { p in
            let dst = dInput + p * ih * iw, dy = dOutput + p * oh * ow
            dst.initialize(repeating: 0, count: ih * iw)
            for oy in 0..<oh {
                let y0 = w.y0[oy], y1 = w.y1[oy]
                for ox in 0..<ow {
                    let x0 = w.x0[ox], x1 = w.x1[ox], cells = w.cells(oy, ox)
                    guard cells > 0 else { continue }
                    let v = dy[oy * ow + ox] / Float(cells)
                    var y = y0
                    while y < y1 {
                        let row = dst + y * iw
                        var x = x0
                        while x < x1 { row[x] += v; x += 1 }
                        y += 1
                    }
                }
            }
        }
    }

    /// y = sqrt(mean of squares over the in-bounds window) (TFLite L2_POOL_2D).
    public static func l2Forward(_ g: Pool2DGeometry, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
        let ih = g.inHeight, iw = g.inWidth, oh = g.outHeight, ow = g.outWidth
        forEachPlane(g) { p in
            let src = input + p * ih * iw, dst = output + p * oh * ow
            for oy in 0..<oh {
                let (y0, y1) = span(oy, stride: g.strideH, pad: g.padTop, kernel: g.kernelHeight, size: ih)
                for ox in 0..<ow {
                    let (x0, x1) = span(ox, stride: g.strideW, pad: g.padLeft, kernel: g.kernelWidth, size: iw)
                    let cells = max(0, y1 - y0) * max(0, x1 - x0)
                    var s: Float = 0
                    for y in y0..<max(y0, y1) {
                        let row = src + y * iw
                        for x in x0..<max(x0, x1) { s += row[x] * row[x] }
                    }
                    dst[oy * ow + ox] = cells > 0 ? (s / Float(cells)).squareRoot() : 0
                }
            }
        }
    }

    /// dx_i = Σ_windows dy * x_i / (cells * y); windows with y = 0 pass no gradient.
    public static func l2Backward(_ g: Pool2DGeometry, input: UnsafePointer<Float>, output: UnsafePointer<Float>,
                                  dOutput: UnsafePointer<Float>, dInput: UnsafeMutablePointer<Float>) {
        let ih = g.inHeight, iw = g.inWidth, oh = g.outHeight, ow = g.outWidth
        forEachPlane(g) { p in
            let src = input + p * ih * iw, dst = dInput + p * ih * iw
            let y = output + p * oh * ow, dy = dOutput + p * oh * ow
            dst.initialize(repeating: 0, count: ih * iw)
            for oy in 0..<oh {
                let (y0, y1) = span(oy, stride: g.strideH, pad: g.padTop, kernel: g.kernelHeight, size: ih)
                for ox in 0..<ow {
                    let (x0, x1) = span(ox, stride: g.strideW, pad: g.padLeft, kernel: g.kernelWidth, size: iw)
                    let cells = max(0, y1 - y0) * max(0, x1 - x0)
                    let out = y[oy * ow + ox]
                    guard cells > 0, out > 0 else { continue }
                    let f = dy[oy * ow + ox] / (Float(cells) * out)
                    for yy in y0..<y1 {
                        for x in x0..<x1 { dst[yy * iw + x] += f * src[yy * iw + x] }
                    }
                }
            }
        }
    }

    // MARK: global pooling ([N, C, H, W] -> [N, C])

    public static func globalAvgForward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, planes: Int, size: Int) {
        let inv = 1 / Float(size)
        parallelChunks(planes, minChunk: max(1, 65536 / max(1, size))) { r in
            for p in r { output[p] = Reductions.sum(input + p * size, size) * inv }
        }
    }

    public static func globalAvgBackward(dOutput: UnsafePointer<Float>, dInput: UnsafeMutablePointer<Float>, planes: Int, size: Int) {
        let inv = 1 / Float(size)
        parallelChunks(planes, minChunk: max(1, 65536 / max(1, size))) { r in
            for p in r { (dInput + p * size).initialize(repeating: dOutput[p] * inv, count: size) }
        }
    }

    public static func globalMaxForward(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, planes: Int, size: Int) {
        parallelChunks(planes, minChunk: max(1, 65536 / max(1, size))) { r in
            for p in r {
                let src = input + p * size
                var m = -Float.infinity
                for i in 0..<size { m = max(m, src[i]) }
                output[p] = m
            }
        }
    }

    /// Routes each plane's gradient to its first maximum.
    public static func globalMaxBackward(input: UnsafePointer<Float>, dOutput: UnsafePointer<Float>,
                                         dInput: UnsafeMutablePointer<Float>, planes: Int, size: Int) {
        parallelChunks(planes, minChunk: max(1, 65536 / max(1, size))) { r in
            for p in r {
                let src = input + p * size, dst = dInput + p * size
                dst.initialize(repeating: 0, count: size)
                var best = 0, m = src[0]
                for i in 1..<max(1, size) where src[i] > m { m = src[i]; best = i }
                dst[best] = dOutput[p]
            }
        }
    }
}
