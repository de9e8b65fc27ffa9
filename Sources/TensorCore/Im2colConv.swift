/// Convolution as im2col + sgemm (one image per worker, grouped convolutions handled per group).
/// Column buffers and per-worker partial sums come from `ScratchPool.shared` (no allocation per call).
/// Pointwise convolutions (1x1, stride 1, no padding) skip im2col: the image itself is the column matrix.
enum Im2colConv {
    @inline(__always) static func ceilDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? (a + b - 1) / b : -((-a) / b) }
    @inline(__always) static func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }

    /// Output columns x in [lo, hi) whose input column x*stride - pad + kw lies inside [0, width).
    @inline(__always)
    static func validRange(out: Int, width: Int, stride: Int, pad: Int, k: Int) -> (Int, Int) {
        let lo = max(0, ceilDiv(pad - k, stride))
        let hi = min(out, floorDiv(width - 1 + pad - k, stride) + 1)
        return (lo, max(lo, hi))
    }

    /// Columns for one image and one group: rows (c, kh, kw), columns (oh, ow).
    static func im2col(_ g: Conv2DGeometry, image: UnsafePointer<Float>, group: Int, cols: UnsafeMutablePointer<Float>) {
        let cg = g.inChannels / g.groups
        let oh = g.outHeight, ow = g.outWidth
        let hw = g.inHeight * g.inWidth
        let sw = g.strideW
        var row = 0
        for c in 0..<cg {
            let plane = image + (group * cg + c) * hw
            for kh in 0..<g.kernelHeight {
                let (ylo, yhi) = validRange(out: oh, width: g.inHeight, stride: g.strideH, pad: g.padTop, k: kh)
                for kw in 0..<g.kernelWidth {
                    let dst = cols + row * oh * ow
                    let (xlo, xhi) = validRange(out: ow, width: g.inWidth, stride: sw, pad: g.padLeft, k: kw)
                    if ylo > 0 { dst.update(repeating: 0, count: ylo * ow) }
                    if yhi < oh { (dst + yhi * ow).update(repeating: 0, count: (oh - yhi) * ow) }
                    let x0 = xlo * sw - g.padLeft + kw
                    for y in ylo..<yhi {
                        let iy = y * g.strideH - g.padTop + kh
                        let out = dst + y * ow
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

    /// Adds columns back into one image's group planes (the adjoint of im2col).
    static func col2im(_ g: Conv2DGeometry, cols: UnsafePointer<Float>, group: Int, image: UnsafeMutablePointer<Float>) {
        let cg = g.inChannels / g.groups
        let oh = g.outHeight, ow = g.outWidth
        let hw = g.inHeight * g.inWidth
        let sw = g.strideW
        var row = 0
        for c in 0..<cg {
            let plane = image + (group * cg + c) * hw
            for kh in 0..<g.kernelHeight {
                let (ylo, yhi) = validRange(out: oh, width: g.inHeight, stride: g.strideH, pad: g.padTop, k: kh)
                for kw in 0..<g.kernelWidth {
                    let src = cols + row * oh * ow
                    let (xlo, xhi) = validRange(out: ow, width: g.inWidth, stride: sw, pad: g.padLeft, k: kw)
                    let x0 = xlo * sw - g.padLeft + kw
                    let len = xhi - xlo
                    for y in ylo..<yhi {
                        let iy = y * g.strideH - g.padTop + kh
                        let dst = plane + iy * g.inWidth + x0
                        let line = src + y * ow + xlo
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

    static func isPointwise(_ g: Conv2DGeometry) -> Bool {
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

    static func forward(_ g: Conv2DGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, gemm: CPUBackend) {
        let cg = g.inChannels / g.groups, og = g.outChannels / g.groups
        let k = cg * g.kernelHeight * g.kernelWidth
        let n = g.outHeight * g.outWidth
        let inStride = g.inChannels * g.inHeight * g.inWidth
        let pointwise = isPointwise(g)
        forEachImage(g.batch) { b in
            let scratch = pointwise ? nil : ScratchPool.shared.acquire(bytes: k * n * 4)
            defer { if let scratch { ScratchPool.shared.release(scratch) } }
            let cols = scratch?.pointer.bindMemory(to: Float.self, capacity: k * n)
            for grp in 0..<g.groups {
                let src: UnsafePointer<Float>
                if let cols {
                    im2col(g, image: input + b * inStride, group: grp, cols: cols)
                    src = UnsafePointer(cols)
                } else {
                    src = input + b * inStride + grp * cg * n
                }
                let out = output + (b * g.outChannels + grp * og) * n
                gemm.gemm(transA: false, transB: false, m: og, n: n, k: k, alpha: 1,
                          a: weight + grp * og * k, b: src, beta: 0, c: out)
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

    static func backwardData(_ g: Conv2DGeometry, dOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                             dInput: UnsafeMutablePointer<Float>, gemm: CPUBackend) {
        let cg = g.inChannels / g.groups, og = g.outChannels / g.groups
        let k = cg * g.kernelHeight * g.kernelWidth
        let n = g.outHeight * g.outWidth
        let inStride = g.inChannels * g.inHeight * g.inWidth
        let pointwise = isPointwise(g)
        forEachImage(g.batch) { b in
            let image = dInput + b * inStride
            let scratch = pointwise ? nil : ScratchPool.shared.acquire(bytes: k * n * 4)
            defer { if let scratch { ScratchPool.shared.release(scratch) } }
            let cols = scratch?.pointer.bindMemory(to: Float.self, capacity: k * n)
            if !pointwise { image.update(repeating: 0, count: inStride) }
            for grp in 0..<g.groups {
                let dy = dOutput + (b * g.outChannels + grp * og) * n
                let dst = cols ?? (image + grp * cg * n)
                gemm.gemm(transA: true, transB: false, m: k, n: n, k: og, alpha: 1,
                          a: weight + grp * og * k, b: dy, beta: 0, c: dst)
                if let cols { col2im(g, cols: cols, group: grp, image: image) }
            }
        }
    }

    static func backwardWeights(_ g: Conv2DGeometry, input: UnsafePointer<Float>, dOutput: UnsafePointer<Float>,
                                dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>?, gemm: CPUBackend) {
        let cg = g.inChannels / g.groups, og = g.outChannels / g.groups
        let k = cg * g.kernelHeight * g.kernelWidth
        let n = g.outHeight * g.outWidth
        let inStride = g.inChannels * g.inHeight * g.inWidth
        let wCount = g.outChannels * k
        let pointwise = isPointwise(g)
        let threads = Threads.count
        let workers = threads > 1 && g.batch >= threads ? threads : 1
        // Worker 0 accumulates straight into dWeight; the others into pooled partials summed at the end.
        let partialScratch = workers > 1 ? ScratchPool.shared.acquire(bytes: (workers - 1) * wCount * 4) : nil
        defer { if let partialScratch { ScratchPool.shared.release(partialScratch) } }
        let partials = partialScratch?.pointer.bindMemory(to: Float.self, capacity: (workers - 1) * wCount)
        let body: (Int) -> Void = { w in
            let acc = w == 0 ? dWeight : partials! + (w - 1) * wCount
            acc.update(repeating: 0, count: wCount)
            let scratch = pointwise ? nil : ScratchPool.shared.acquire(bytes: k * n * 4)
            defer { if let scratch { ScratchPool.shared.release(scratch) } }
            let cols = scratch?.pointer.bindMemory(to: Float.self, capacity: k * n)
            var b = w
            while b < g.batch {
                for grp in 0..<g.groups {
                    let src: UnsafePointer<Float>
                    if let cols {
                        im2col(g, image: input + b * inStride, group: grp, cols: cols)
                        src = UnsafePointer(cols)
                    } else {
                        src = input + b * inStride + grp * cg * n
                    }
                    let dy = dOutput + (b * g.outChannels + grp * og) * n
                    gemm.gemm(transA: false, transB: true, m: og, n: k, k: n, alpha: 1,
                              a: dy, b: src, beta: 1, c: acc + grp * og * k)
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
