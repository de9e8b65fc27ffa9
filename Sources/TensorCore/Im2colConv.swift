/// Convolution as im2col + sgemm (one image per worker, grouped convolutions handled per group).
enum Im2colConv {
    /// Columns for one image and one group: rows (c, kh, kw), columns (oh, ow).
    static func im2col(_ g: Conv2DGeometry, image: UnsafePointer<Float>, group: Int, cols: UnsafeMutablePointer<Float>) {
        let cg = g.inChannels / g.groups
        let oh = g.outHeight, ow = g.outWidth
        let hw = g.inHeight * g.inWidth
        var row = 0
        for c in 0..<cg {
            let plane = image + (group * cg + c) * hw
            for kh in 0..<g.kernelHeight {
                for kw in 0..<g.kernelWidth {
                    let dst = cols + row * oh * ow
                    for y in 0..<oh {
                        let iy = y * g.strideH - g.padTop + kh
                        let out = dst + y * ow
                        if iy < 0 || iy >= g.inHeight {
                            out.initialize(repeating: 0, count: ow); continue
                        }
                        let src = plane + iy * g.inWidth
                        if g.strideW == 1 {
                            // contiguous run with zero borders
                            let x0 = kw - g.padLeft
                            for x in 0..<ow {
                                let ix = x0 + x
                                out[x] = (ix >= 0 && ix < g.inWidth) ? src[ix] : 0
                            }
                        } else {
                            for x in 0..<ow {
                                let ix = x * g.strideW - g.padLeft + kw
                                out[x] = (ix >= 0 && ix < g.inWidth) ? src[ix] : 0
                            }
                        }
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
        var row = 0
        for c in 0..<cg {
            let plane = image + (group * cg + c) * hw
            for kh in 0..<g.kernelHeight {
                for kw in 0..<g.kernelWidth {
                    let src = cols + row * oh * ow
                    for y in 0..<oh {
                        let iy = y * g.strideH - g.padTop + kh
                        if iy < 0 || iy >= g.inHeight { continue }
                        let dst = plane + iy * g.inWidth
                        let line = src + y * ow
                        for x in 0..<ow {
                            let ix = x * g.strideW - g.padLeft + kw
                            if ix >= 0 && ix < g.inWidth { dst[ix] += line[x] }
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

    static func withWorkerBLAS(_ body: () -> Void) {
        let saved = BLASThreads.current
        if Threads.count > 1 { BLASThreads.set(1) }
        body()
        if Threads.count > 1 { BLASThreads.set(saved) }
    }

    static func forward(_ g: Conv2DGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, gemm: CPUBackend) {
        let cg = g.inChannels / g.groups, og = g.outChannels / g.groups
        let k = cg * g.kernelHeight * g.kernelWidth
        let n = g.outHeight * g.outWidth
        let inStride = g.inChannels * g.inHeight * g.inWidth
        let pointwise = isPointwise(g)
        withWorkerBLAS {
            parallelFor(g.batch) { b in
                let cols = pointwise ? nil : UnsafeMutablePointer<Float>.allocate(capacity: k * n)
                defer { cols?.deallocate() }
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
                if let bias {
                    for o in 0..<g.outChannels {
                        let row = output + (b * g.outChannels + o) * n
                        let v = bias[o]
                        for i in 0..<n { row[i] += v }
                    }
                }
            }
        }
    }

    static func backwardData(_ g: Conv2DGeometry, dOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                             dInput: UnsafeMutablePointer<Float>, gemm: CPUBackend) {
        let cg = g.inChannels / g.groups, og = g.outChannels / g.groups
        let k = cg * g.kernelHeight * g.kernelWidth
        let n = g.outHeight * g.outWidth
        let inStride = g.inChannels * g.inHeight * g.inWidth
        let pointwise = isPointwise(g)
        withWorkerBLAS {
            parallelFor(g.batch) { b in
                let image = dInput + b * inStride
                let cols = pointwise ? nil : UnsafeMutablePointer<Float>.allocate(capacity: k * n)
                defer { cols?.deallocate() }
                if !pointwise { image.initialize(repeating: 0, count: inStride) }
                for grp in 0..<g.groups {
                    let dy = dOutput + (b * g.outChannels + grp * og) * n
                    let dst = cols ?? (image + grp * cg * n)
                    gemm.gemm(transA: true, transB: false, m: k, n: n, k: og, alpha: 1,
                              a: weight + grp * og * k, b: dy, beta: 0, c: dst)
                    if let cols { col2im(g, cols: cols, group: grp, image: image) }
                }
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
        let workers = max(1, min(Threads.count, g.batch))
        // Each worker accumulates its share of the batch into a private dW, then the partials are summed.
        let partials = UnsafeMutablePointer<Float>.allocate(capacity: workers * wCount)
        defer { partials.deallocate() }
        withWorkerBLAS {
            parallelFor(workers) { w in
                let acc = partials + w * wCount
                acc.initialize(repeating: 0, count: wCount)
                let cols = pointwise ? nil : UnsafeMutablePointer<Float>.allocate(capacity: k * n)
                defer { cols?.deallocate() }
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
        }
        dWeight.update(from: partials, count: wCount)
        for w in 1..<workers {
            let p = partials + w * wCount
            for i in 0..<wCount { dWeight[i] += p[i] }
        }
        if let dBias {
            for o in 0..<g.outChannels {
                var s: Float = 0
                for b in 0..<g.batch {
                    let row = dOutput + (b * g.outChannels + o) * n
                    for i in 0..<n { s += row[i] }
                }
                dBias[o] = s
            }
        }
    }
}
