import CBLAS

/// Convolution as im2col + sgemm (one image per worker, grouped convolutions handled per group).
/// Column buffers and per-worker partial sums come from `ScratchPool.shared` (no allocation per call).
/// Pointwise convolutions (1x1, stride 1, no padding) skip im2col: the image itself is the column matrix.
package enum Im2colConv {
    @inline(__always) static func ceilDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? (a + b - 1) / b : -((-a) / b) }
    @inline(__always) static func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }

    /// Output columns x in [lo, hi) whose input column x*stride - pad + kw lies inside [0, width).
    @inline(__always)
    static func validRange(out: Int, width: Int, stride: Int, pad: Int, k: Int) -> (Int, Int) {
        let lo = max(0, ceilDiv(pad - k, stride))
        let hi = min(out, floorDiv(width - 1 + pad - k, stride) + 1)
        return (lo, max(lo, hi))
    }

    /// Columns for one image and one group, output rows y0..<y1 only: rows (c, kh, kw), columns
    /// (y - y0, x), i.e. a K x ((y1 - y0) * ow) matrix.
    static func im2col(_ g: Conv2DGeometry, image: UnsafePointer<Float>, group: Int, cols: UnsafeMutablePointer<Float>,
                       rows y0: Int = 0, _ y1In: Int? = nil) {
        let y1 = y1In ?? g.outHeight
        let cg = g.inChannels / g.groups
        let oh = g.outHeight, ow = g.outWidth
        let tn = (y1 - y0) * ow
        let hw = g.inHeight * g.inWidth
        let sw = g.strideW
        var row = 0
        for c in 0..<cg {
            let plane = image + (group * cg + c) * hw
            for kh in 0..<g.kernelHeight {
                let (ylo, yhi) = validRange(out: oh, width: g.inHeight, stride: g.strideH, pad: g.padTop, k: kh)
                let a = max(y0, ylo), b = max(a, min(y1, yhi))
                for kw in 0..<g.kernelWidth {
                    let dst = cols + row * tn
                    let (xlo, xhi) = validRange(out: ow, width: g.inWidth, stride: sw, pad: g.padLeft, k: kw)
                    if a > y0 { dst.update(repeating: 0, count: (a - y0) * ow) }
                    if b < y1 { (dst + (b - y0) * ow).update(repeating: 0, count: (y1 - b) * ow) }
                    let x0 = xlo * sw - g.padLeft + kw
                    for y in a..<b {
                        let iy = y * g.strideH - g.padTop + kh
                        let out = dst + (y - y0) * ow
                        let src = plane + iy * g.inWidth + x0
                        if xlo > 0 { out.update(repeating: 0, count: xlo) }
                        if sw == 1 {
                            (out + xlo).update(from: src, count: xhi - xlo)
                        } else {
                            var s = 0
                            for x in xlo..<xhi { out[x] = src[s]; s += sw }
                        }
                        if xhi < ow { (out + xhi).update(repeating: 0, count: ow - xhi) }
                    }
                    row += 1
                }
            }
        }
    }

    /// Adds columns (output rows y0..<y1) back into one image's group planes (the adjoint of im2col).
    static func col2im(_ g: Conv2DGeometry, cols: UnsafePointer<Float>, group: Int, image: UnsafeMutablePointer<Float>,
                       rows y0: Int = 0, _ y1In: Int? = nil) {
        let y1 = y1In ?? g.outHeight
        let cg = g.inChannels / g.groups
        let oh = g.outHeight, ow = g.outWidth
        let tn = (y1 - y0) * ow
        let hw = g.inHeight * g.inWidth
        let sw = g.strideW
        var row = 0
        for c in 0..<cg {
            let plane = image + (group * cg + c) * hw
            for kh in 0..<g.kernelHeight {
                let (ylo, yhi) = validRange(out: oh, width: g.inHeight, stride: g.strideH, pad: g.padTop, k: kh)
                let a = max(y0, ylo), b = max(a, min(y1, yhi))
                for kw in 0..<g.kernelWidth {
                    let src = cols + row * tn
                    let (xlo, xhi) = validRange(out: ow, width: g.inWidth, stride: sw, pad: g.padLeft, k: kw)
                    let x0 = xlo * sw - g.padLeft + kw
                    let len = xhi - xlo
                    for y in a..<b {
                        let iy = y * g.strideH - g.padTop + kh
                        let dst = plane + iy * g.inWidth + x0
                        let line = src + (y - y0) * ow + xlo
                        if sw == 1 {
                            for i in 0..<len { dst[i] += line[i] }
                        } else {
                            var d = 0
                            for i in 0..<len { dst[d] += line[i]; d += sw }
                        }
                    }
                    row += 1
                }
            }
        }
    }

    /// Output rows per im2col tile: the column tile (K x rows*ow floats) is kept near `bytes` (1 MiB) so
    /// it stays in cache between im2col writing it and sgemm reading it (whole-image columns of a 224²
    /// VGG layer are 115 MB and ran 2-3x slower), but at least `minColumns` (256) wide, since much
    /// skinnier GEMMs lose more than the cache gains (512-512 at 28² with 56-column tiles ran slower).
    /// Both numbers are first guesses from noisy runs, not tuned.
    package static func rowTile(_ g: Conv2DGeometry, k: Int, bytes: Int = 1 << 20, minColumns: Int = 256) -> Int {
        let byBudget = bytes / max(1, k * g.outWidth * 4)
        let byWidth = (minColumns + g.outWidth - 1) / g.outWidth
        return max(1, min(g.outHeight, max(byBudget, byWidth)))
    }

    /// Row-major sgemm with explicit leading dimensions (for column tiles of a wider matrix).
    @inline(__always)
    package static func sgemm(_ ta: Bool, _ tb: Bool, _ m: Int, _ n: Int, _ k: Int, _ a: UnsafePointer<Float>, _ lda: Int,
                      _ b: UnsafePointer<Float>, _ ldb: Int, _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    package static func isPointwise(_ g: Conv2DGeometry) -> Bool {
        g.kernelHeight == 1 && g.kernelWidth == 1 && g.strideH == 1 && g.strideW == 1
            && g.padTop == 0 && g.padBottom == 0 && g.padLeft == 0 && g.padRight == 0
    }

    /// Runs `body(b)` for every image: batch-parallel with single-threaded BLAS per worker when there
    /// are at least as many images as threads; otherwise serially with multi-threaded BLAS.
    static func forEachImage(_ batch: Int, _ body: (Int) -> Void) {
        let threads = Threads.count
        if threads > 1 && batch >= threads {
            let saved = BLASThreads.current
            BLASThreads.set(1)
            parallelFor(batch, body)
            BLASThreads.set(saved)
        } else {
            let saved = BLASThreads.current
            if saved != threads { BLASThreads.set(threads) }
            for b in 0..<batch { body(b) }
            if saved != threads { BLASThreads.set(saved) }
        }
    }

    package static func forward(_ g: Conv2DGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, gemm: any Backend,
                        tileBytes: Int? = nil) {
        let cg = g.inChannels / g.groups, og = g.outChannels / g.groups
        let k = cg * g.kernelHeight * g.kernelWidth
        let n = g.outHeight * g.outWidth
        let inStride = g.inChannels * g.inHeight * g.inWidth
        let pointwise = isPointwise(g)
        let tile = tileBytes.map { rowTile(g, k: k, bytes: $0, minColumns: 0) } ?? rowTile(g, k: k), ow = g.outWidth
        forEachImage(g.batch) { b in
            if pointwise {
                for grp in 0..<g.groups {
                    gemm.gemm(transA: false, transB: false, m: og, n: n, k: k, alpha: 1, a: weight + grp * og * k,
                              b: input + b * inStride + grp * cg * n, beta: 0,
                              c: output + (b * g.outChannels + grp * og) * n)
                }
            } else {
                ScratchPool.shared.withFloats(k * tile * ow) { cols in
                    for grp in 0..<g.groups {
                        let out = output + (b * g.outChannels + grp * og) * n
                        var y0 = 0
                        while y0 < g.outHeight {
                            let y1 = min(g.outHeight, y0 + tile), tn = (y1 - y0) * ow
                            im2col(g, image: input + b * inStride, group: grp, cols: cols, rows: y0, y1)
                            sgemm(false, false, og, tn, k, weight + grp * og * k, k, cols, tn, 0, out + y0 * ow, n)
                            y0 = y1
                        }
                    }
                }
            }
            if let bias { addBias(output + b * g.outChannels * n, bias: bias, channels: g.outChannels, plane: n) }
        }
    }

    /// out[c, i] += bias[c] over `channels` planes of `plane` elements.
    static func addBias(_ out: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, channels: Int, plane: Int) {
        for o in 0..<channels {
            let row = out + o * plane
            let v = bias[o]
            for i in 0..<plane { row[i] += v }
        }
    }

    package static func backwardData(_ g: Conv2DGeometry, dOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                             dInput: UnsafeMutablePointer<Float>, gemm: any Backend, tileBytes: Int? = nil) {
        let cg = g.inChannels / g.groups, og = g.outChannels / g.groups
        let k = cg * g.kernelHeight * g.kernelWidth
        let n = g.outHeight * g.outWidth
        let inStride = g.inChannels * g.inHeight * g.inWidth
        let pointwise = isPointwise(g)
        let tile = tileBytes.map { rowTile(g, k: k, bytes: $0, minColumns: 0) } ?? rowTile(g, k: k), ow = g.outWidth
        forEachImage(g.batch) { b in
            let image = dInput + b * inStride
            if pointwise {
                for grp in 0..<g.groups {
                    gemm.gemm(transA: true, transB: false, m: k, n: n, k: og, alpha: 1, a: weight + grp * og * k,
                              b: dOutput + (b * g.outChannels + grp * og) * n, beta: 0, c: image + grp * cg * n)
                }
                return
            }
            image.update(repeating: 0, count: inStride)
            ScratchPool.shared.withFloats(k * tile * ow) { cols in
                for grp in 0..<g.groups {
                    let dy = dOutput + (b * g.outChannels + grp * og) * n
                    var y0 = 0
                    while y0 < g.outHeight {
                        let y1 = min(g.outHeight, y0 + tile), tn = (y1 - y0) * ow
                        sgemm(true, false, k, tn, og, weight + grp * og * k, k, dy + y0 * ow, n, 0, cols, tn)
                        col2im(g, cols: cols, group: grp, image: image, rows: y0, y1)
                        y0 = y1
                    }
                }
            }
        }
    }

    package static func backwardWeights(_ g: Conv2DGeometry, input: UnsafePointer<Float>, dOutput: UnsafePointer<Float>,
                                dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>?, gemm: any Backend,
                                tileBytes: Int? = nil) {
        let cg = g.inChannels / g.groups, og = g.outChannels / g.groups
        let k = cg * g.kernelHeight * g.kernelWidth
        let n = g.outHeight * g.outWidth
        let inStride = g.inChannels * g.inHeight * g.inWidth
        let wCount = g.outChannels * k
        let pointwise = isPointwise(g)
        let tile = tileBytes.map { rowTile(g, k: k, bytes: $0, minColumns: 0) } ?? rowTile(g, k: k), ow = g.outWidth
        let threads = Threads.count
        let workers = threads > 1 && g.batch >= threads ? threads : 1
        // Worker 0 accumulates straight into dWeight; the others into pooled partials summed at the end.
        let partialScratch = workers > 1 ? ScratchPool.shared.acquire(bytes: (workers - 1) * wCount * 4) : nil
        defer { if let partialScratch { ScratchPool.shared.release(partialScratch) } }
        let partials = partialScratch?.pointer.bindMemory(to: Float.self, capacity: (workers - 1) * wCount)
        let body: (Int) -> Void = { w in
            let acc = w == 0 ? dWeight : partials! + (w - 1) * wCount
            acc.update(repeating: 0, count: wCount)
            let scratch = pointwise ? nil : ScratchPool.shared.acquire(bytes: k * tile * ow * 4)
            defer { if let scratch { ScratchPool.shared.release(scratch) } }
            let cols = scratch?.pointer.bindMemory(to: Float.self, capacity: k * tile * ow)
            var b = w
            while b < g.batch {
                for grp in 0..<g.groups {
                    let dy = dOutput + (b * g.outChannels + grp * og) * n
                    guard let cols else {
                        gemm.gemm(transA: false, transB: true, m: og, n: k, k: n, alpha: 1, a: dy,
                                  b: input + b * inStride + grp * cg * n, beta: 1, c: acc + grp * og * k)
                        continue
                    }
                    var y0 = 0
                    while y0 < g.outHeight {
                        let y1 = min(g.outHeight, y0 + tile), tn = (y1 - y0) * ow
                        im2col(g, image: input + b * inStride, group: grp, cols: cols, rows: y0, y1)
                        sgemm(false, true, og, k, tn, dy + y0 * ow, n, cols, tn, 1, acc + grp * og * k, k)
                        y0 = y1
                    }
                }
                b += workers
            }
        }
        let saved = BLASThreads.current
        if workers > 1 {
            BLASThreads.set(1)
            parallelFor(workers, body)
        } else {
            if saved != threads { BLASThreads.set(threads) }
            body(0)
        }
        BLASThreads.set(saved)
        if let partials {
            parallelChunks(wCount, minChunk: 1 << 14) { r in
                for w in 1..<workers {
                    let p = partials + (w - 1) * wCount
                    for i in r { dWeight[i] += p[i] }
                }
            }
        }
        if let dBias { biasGradient(dOutput, batch: g.batch, channels: g.outChannels, plane: n, dBias: dBias) }
    }

    /// dBias[c] = sum over batch and plane of dOutput[b, c, :]; SIMD partial sums, parallel over channels.
    static func biasGradient(_ dOutput: UnsafePointer<Float>, batch: Int, channels: Int, plane: Int,
                             dBias: UnsafeMutablePointer<Float>) {
        parallelChunks(channels, minChunk: max(1, channels / max(1, Threads.count))) { r in
            for o in r {
                var acc = SIMD8<Float>(repeating: 0)
                var tail: Float = 0
                for b in 0..<batch {
                    let row = dOutput + (b * channels + o) * plane
                    var i = 0
                    while i + 8 <= plane {
                        acc += UnsafeRawPointer(row + i).loadUnaligned(as: SIMD8<Float>.self)
                        i += 8
                    }
                    while i < plane { tail += row[i]; i += 1 }
                }
                dBias[o] = acc.sum() + tail
            }
        }
    }
}
