import Testing
@testable import DNNL
@testable import TensorCore

// Every convolution path (im2col, oneDNN, auto) against naive loops on small shapes, plus the adjoint
// identities <dy, conv(x,W)> = <bwdData(dy), x> = <bwdWeights(x, dy), W> and dBias = sum(dy).

/// Naive direct convolution (grouped, strided, asymmetric padding); Double accumulation.
func naiveConvForward(_ g: Conv2DGeometry, _ x: [Float], _ w: [Float], _ bias: [Float]?) -> [Float] {
    let oh = g.outHeight, ow = g.outWidth, cg = g.inChannels / g.groups, og = g.outChannels / g.groups
    var y = [Float](repeating: 0, count: g.batch * g.outChannels * oh * ow)
    for n in 0..<g.batch {
        for o in 0..<g.outChannels {
            let grp = o / og
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var s = Double(bias?[o] ?? 0)
                    for c in 0..<cg {
                        let ic = grp * cg + c
                        for kh in 0..<g.kernelHeight {
                            let iy = oy * g.strideH - g.padTop + kh
                            if iy < 0 || iy >= g.inHeight { continue }
                            for kw in 0..<g.kernelWidth {
                                let ix = ox * g.strideW - g.padLeft + kw
                                if ix < 0 || ix >= g.inWidth { continue }
                                let xv = x[((n * g.inChannels + ic) * g.inHeight + iy) * g.inWidth + ix]
                                let wv = w[((o * cg + c) * g.kernelHeight + kh) * g.kernelWidth + kw]
                                s += Double(xv) * Double(wv)
                            }
                        }
                    }
                    y[((n * g.outChannels + o) * oh + oy) * ow + ox] = Float(s)
                }
            }
        }
    }
    return y
}

/// Naive backward passes: scatter dy through the same index map as the forward loop.
func naiveConvBackward(_ g: Conv2DGeometry, _ x: [Float], _ w: [Float], _ dy: [Float]) -> (dx: [Float], dw: [Float], db: [Float]) {
    let oh = g.outHeight, ow = g.outWidth, cg = g.inChannels / g.groups, og = g.outChannels / g.groups
    var dx = [Double](repeating: 0, count: x.count), dw = [Double](repeating: 0, count: w.count)
    var db = [Double](repeating: 0, count: g.outChannels)
    for n in 0..<g.batch {
        for o in 0..<g.outChannels {
            let grp = o / og
            for oy in 0..<oh {
                for ox in 0..<ow {
                    let d = Double(dy[((n * g.outChannels + o) * oh + oy) * ow + ox])
                    db[o] += d
                    for c in 0..<cg {
                        let ic = grp * cg + c
                        for kh in 0..<g.kernelHeight {
                            let iy = oy * g.strideH - g.padTop + kh
                            if iy < 0 || iy >= g.inHeight { continue }
                            for kw in 0..<g.kernelWidth {
                                let ix = ox * g.strideW - g.padLeft + kw
                                if ix < 0 || ix >= g.inWidth { continue }
                                let xi = ((n * g.inChannels + ic) * g.inHeight + iy) * g.inWidth + ix
                                let wi = ((o * cg + c) * g.kernelHeight + kh) * g.kernelWidth + kw
                                dx[xi] += d * Double(w[wi])
                                dw[wi] += d * Double(x[xi])
                            }
                        }
                    }
                }
            }
        }
    }
    return (dx.map(Float.init), dw.map(Float.init), db.map(Float.init))
}

func randomArray(_ n: Int, _ rng: inout SeededRandom) -> [Float] { (0..<n).map { _ in rng.nextFloat() * 2 - 1 } }

func dot(_ a: [Float], _ b: [Float]) -> Double { zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) } }

/// Max |a - b| relative to the largest |b| (at least 1).
func relError(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    var m: Float = 0, scale: Float = 1
    for i in a.indices { m = max(m, abs(a[i] - b[i])); scale = max(scale, abs(b[i])) }
    return m / scale
}

struct ConvCase: CustomTestStringConvertible, Sendable {
    let name: String
    let g: Conv2DGeometry
    var testDescription: String { name }
}

let convCases: [ConvCase] = [
    ConvCase(name: "3x3 pad1", g: Conv2DGeometry(batch: 2, inChannels: 4, inHeight: 7, inWidth: 6, outChannels: 5,
                                                 kernelHeight: 3, kernelWidth: 3, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1)),
    ConvCase(name: "3x3 pad1 16ch batch1", g: Conv2DGeometry(batch: 1, inChannels: 16, inHeight: 6, inWidth: 5, outChannels: 16,
                                                             kernelHeight: 3, kernelWidth: 3, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1)),
    ConvCase(name: "3x3 Winograd 16-32 13x11 (partial 4x4 tiles)",
             g: Conv2DGeometry(batch: 3, inChannels: 16, inHeight: 13, inWidth: 11, outChannels: 32,
                               kernelHeight: 3, kernelWidth: 3, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1)),
    ConvCase(name: "3x3 batch17 (uneven oneDNN batch slices)", g: Conv2DGeometry(batch: 17, inChannels: 2, inHeight: 4, inWidth: 4,
                                                                              outChannels: 3, kernelHeight: 3, kernelWidth: 3,
                                                                              padTop: 1, padBottom: 1, padLeft: 1, padRight: 1)),
    ConvCase(name: "3x3 stride2 asymmetric pad", g: Conv2DGeometry(batch: 3, inChannels: 3, inHeight: 8, inWidth: 9, outChannels: 4,
                                                                   kernelHeight: 3, kernelWidth: 3, strideH: 2, strideW: 2,
                                                                   padTop: 0, padBottom: 1, padLeft: 0, padRight: 1)),
    ConvCase(name: "1x1", g: Conv2DGeometry(batch: 3, inChannels: 6, inHeight: 5, inWidth: 4, outChannels: 4,
                                            kernelHeight: 1, kernelWidth: 1)),
    ConvCase(name: "1x1 stride2", g: Conv2DGeometry(batch: 2, inChannels: 8, inHeight: 7, inWidth: 7, outChannels: 16,
                                                    kernelHeight: 1, kernelWidth: 1, strideH: 2, strideW: 2)),
    ConvCase(name: "5x5 valid", g: Conv2DGeometry(batch: 2, inChannels: 3, inHeight: 9, inWidth: 8, outChannels: 2,
                                                  kernelHeight: 5, kernelWidth: 5)),
    ConvCase(name: "grouped 3x3 g4", g: Conv2DGeometry(batch: 2, inChannels: 8, inHeight: 6, inWidth: 6, outChannels: 12,
                                                       kernelHeight: 3, kernelWidth: 3, padTop: 1, padBottom: 1, padLeft: 1,
                                                       padRight: 1, groups: 4)),
    ConvCase(name: "depthwise 3x3 stride2", g: Conv2DGeometry(batch: 2, inChannels: 8, inHeight: 7, inWidth: 6, outChannels: 8,
                                                              kernelHeight: 3, kernelWidth: 3, strideH: 2, strideW: 2,
                                                              padTop: 0, padBottom: 1, padLeft: 0, padRight: 1, groups: 8)),
    ConvCase(name: "11x11 stride4", g: Conv2DGeometry(batch: 2, inChannels: 3, inHeight: 27, inWidth: 27, outChannels: 4,
                                                      kernelHeight: 11, kernelWidth: 11, strideH: 4, strideW: 4,
                                                      padTop: 2, padBottom: 2, padLeft: 2, padRight: 2)),
    ConvCase(name: "7x3 rect stride(2,1)", g: Conv2DGeometry(batch: 2, inChannels: 2, inHeight: 9, inWidth: 7, outChannels: 3,
                                                             kernelHeight: 7, kernelWidth: 3, strideH: 2, strideW: 1,
                                                             padTop: 3, padBottom: 2, padLeft: 1, padRight: 0)),
]

@Suite(.serialized) struct ConvKernelTests {
    @Test(arguments: convCases, ConvPath.allCases)
    func matchesNaiveReference(_ c: ConvCase, _ path: ConvPath) {
        let g = c.g
        var rng = SeededRandom(seed: UInt64(c.name.utf8.reduce(7) { $0 &* 31 &+ UInt64($1) }))
        let x = randomArray(g.inputShape.reduce(1, *), &rng)
        let w = randomArray(g.weightShape.reduce(1, *), &rng)
        let b = randomArray(g.outChannels, &rng)
        let dy = randomArray(g.outputShape.reduce(1, *), &rng)
        let be = CPUBackend(convPath: path)

        for withBias in [false, true] {
            var y = [Float](repeating: .nan, count: dy.count)
            x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in b.withUnsafeBufferPointer { bp in
                y.withUnsafeMutableBufferPointer { yp in
                    be.conv2dForward(g, input: xp.baseAddress!, weight: wp.baseAddress!,
                                     bias: withBias ? bp.baseAddress! : nil, output: yp.baseAddress!)
                }
            } } }
            let ref = naiveConvForward(g, x, w, withBias ? b : nil)
            #expect(relError(y, ref) < 1e-5, "forward \(c.name) \(path) bias=\(withBias) via \(be.pathName(g, .forward, bias: withBias))")
        }

        var dx = [Float](repeating: .nan, count: x.count)
        var dw = [Float](repeating: .nan, count: w.count), db = [Float](repeating: .nan, count: b.count)
        dy.withUnsafeBufferPointer { dyp in w.withUnsafeBufferPointer { wp in x.withUnsafeBufferPointer { xp in
            dx.withUnsafeMutableBufferPointer { dxp in
                be.conv2dBackwardData(g, dOutput: dyp.baseAddress!, weight: wp.baseAddress!, dInput: dxp.baseAddress!)
            }
            dw.withUnsafeMutableBufferPointer { dwp in db.withUnsafeMutableBufferPointer { dbp in
                be.conv2dBackwardWeights(g, input: xp.baseAddress!, dOutput: dyp.baseAddress!,
                                         dWeight: dwp.baseAddress!, dBias: dbp.baseAddress!)
            } }
        } } }
        let ref = naiveConvBackward(g, x, w, dy)
        #expect(relError(dx, ref.dx) < 1e-5, "backwardData \(c.name) \(path) via \(be.pathName(g, .backwardData))")
        #expect(relError(dw, ref.dw) < 1e-5, "backwardWeights \(c.name) \(path) via \(be.pathName(g, .backwardWeights))")
        #expect(relError(db, ref.db) < 1e-5, "bias grad \(c.name) \(path)")

        // Adjoint identities with the backend's own forward (independent of the naive backward).
        var y = [Float](repeating: 0, count: dy.count)
        x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in y.withUnsafeMutableBufferPointer { yp in
            be.conv2dForward(g, input: xp.baseAddress!, weight: wp.baseAddress!, bias: nil, output: yp.baseAddress!)
        } } }
        let lhs = dot(dy, y), scale = max(1, abs(lhs))
        #expect(abs(dot(dx, x) - lhs) / scale < 1e-4, "<bwdData(dy), x> \(c.name) \(path)")
        #expect(abs(dot(dw, w) - lhs) / scale < 1e-4, "<bwdWeights(x, dy), W> \(c.name) \(path)")
        let dySum = dy.reduce(0.0) { $0 + Double($1) }
        #expect(abs(db.reduce(0.0) { $0 + Double($1) } - dySum) < 1e-3, "sum dBias = sum dy")
    }

    /// Auto mode alternates between the paths while it measures, then sticks to one; every call is correct.
    @Test func autotunePicksAPathAndStaysCorrect() {
        let g = Conv2DGeometry(batch: 2, inChannels: 8, inHeight: 9, inWidth: 9, outChannels: 8, kernelHeight: 3,
                               kernelWidth: 3, strideH: 2, strideW: 2, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1)
        var rng = SeededRandom(seed: 5)
        let x = randomArray(g.inputShape.reduce(1, *), &rng), w = randomArray(g.weightShape.reduce(1, *), &rng)
        let ref = naiveConvForward(g, x, w, nil)
        let be = CPUBackend(convPath: .auto)
        #expect(be.pathName(g, .forward) == "auto(tuning)")
        for _ in 0..<(2 + 2 * ConvAutotune.shared.samples) {
            var y = [Float](repeating: .nan, count: ref.count)
            x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in y.withUnsafeMutableBufferPointer { yp in
                be.conv2dForward(g, input: xp.baseAddress!, weight: wp.baseAddress!, bias: nil, output: yp.baseAddress!)
            } } }
            #expect(relError(y, ref) < 1e-5)
        }
        #expect(["dnnl", "im2col"].contains(be.pathName(g, .forward)))
        #expect(ConvAutotune.shared.measurements[.init(g: g, pass: .forward, bias: false)] != nil)
    }

    /// A primitive built on one thread must run on others (oneDNN's library scratchpad is thread-local;
    /// this crashed before scratchpads became user-managed).
    @Test func oneDNNPrimitivesRunOnOtherThreads() {
        let g = Conv2DGeometry(batch: 2, inChannels: 5, inHeight: 6, inWidth: 7, outChannels: 3, kernelHeight: 3,
                               kernelWidth: 3, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1)
        var rng = SeededRandom(seed: 9)
        let x = randomArray(g.inputShape.reduce(1, *), &rng), w = randomArray(g.weightShape.reduce(1, *), &rng)
        let b = randomArray(g.outChannels, &rng)
        let ref = naiveConvForward(g, x, w, b)
        let be = CPUBackend(convPath: .dnnl)
        let outs = UnsafeMutablePointer<Float>.allocate(capacity: 6 * ref.count)
        defer { outs.deallocate() }
        x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in b.withUnsafeBufferPointer { bp in
            be.conv2dForward(g, input: xp.baseAddress!, weight: wp.baseAddress!, bias: bp.baseAddress!, output: outs)
            parallelFor(6) { i in
                be.conv2dForward(g, input: xp.baseAddress!, weight: wp.baseAddress!, bias: bp.baseAddress!,
                                 output: outs + i * ref.count)
            }
        } } }
        for i in 0..<6 {
            #expect(relError(Array(UnsafeBufferPointer(start: outs + i * ref.count, count: ref.count)), ref) < 1e-5)
        }
    }

    /// im2col in tiles of output rows (tiny tile budget so every case is cut into several tiles).
    @Test(arguments: convCases.filter { !Im2colConv.isPointwise($0.g) })
    func tiledIm2colMatchesNaive(_ c: ConvCase) {
        let g = c.g
        var rng = SeededRandom(seed: 21)
        let x = randomArray(g.inputShape.reduce(1, *), &rng), w = randomArray(g.weightShape.reduce(1, *), &rng)
        let dy = randomArray(g.outputShape.reduce(1, *), &rng)
        var y = [Float](repeating: .nan, count: dy.count), dx = [Float](repeating: .nan, count: x.count)
        var dw = [Float](repeating: .nan, count: w.count)
        let be = CPUBackend(convPath: .im2col), budget = 64  // bytes: one output row per tile
        #expect(Im2colConv.rowTile(g, k: g.weightShape[1...].reduce(1, *), bytes: budget, minColumns: 0) == 1)
        x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in dy.withUnsafeBufferPointer { dyp in
            y.withUnsafeMutableBufferPointer { yp in
                Im2colConv.forward(g, input: xp.baseAddress!, weight: wp.baseAddress!, bias: nil, output: yp.baseAddress!,
                                   gemm: be, tileBytes: budget)
            }
            dx.withUnsafeMutableBufferPointer { dxp in
                Im2colConv.backwardData(g, dOutput: dyp.baseAddress!, weight: wp.baseAddress!, dInput: dxp.baseAddress!,
                                        gemm: be, tileBytes: budget)
            }
            dw.withUnsafeMutableBufferPointer { dwp in
                Im2colConv.backwardWeights(g, input: xp.baseAddress!, dOutput: dyp.baseAddress!, dWeight: dwp.baseAddress!,
                                           dBias: nil, gemm: be, tileBytes: budget)
            }
        } } }
        let ref = naiveConvBackward(g, x, w, dy)
        #expect(relError(y, naiveConvForward(g, x, w, nil)) < 1e-5, "tiled forward \(c.name)")
        #expect(relError(dx, ref.dx) < 1e-5, "tiled backwardData \(c.name)")
        #expect(relError(dw, ref.dw) < 1e-5, "tiled backwardWeights \(c.name)")
    }

    /// Repeated calls reuse cached primitives and pooled buffers; results must not depend on history.
    @Test func repeatedCallsAreStable() {
        let g = convCases[0].g
        var rng = SeededRandom(seed: 3)
        let x = randomArray(g.inputShape.reduce(1, *), &rng), w = randomArray(g.weightShape.reduce(1, *), &rng)
        let ref = naiveConvForward(g, x, w, nil)
        for path in ConvPath.allCases {
            for _ in 0..<3 {
                var y = [Float](repeating: .nan, count: ref.count)
                x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in y.withUnsafeMutableBufferPointer { yp in
                    CPUBackend(convPath: path).conv2dForward(g, input: xp.baseAddress!, weight: wp.baseAddress!,
                                                             bias: nil, output: yp.baseAddress!)
                } } }
                #expect(relError(y, ref) < 1e-5)
            }
        }
    }

    @Test func oneDNNUsesBlockedLayoutsFor3x3() {
        let g = Conv2DGeometry(batch: 2, inChannels: 16, inHeight: 8, inWidth: 8, outChannels: 16,
                               kernelHeight: 3, kernelWidth: 3, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1)
        #expect(DNNLConv.supports(g, .forward))
        #expect(CPUBackend(convPath: .dnnl).pathName(g, .forward) == "dnnl")
        #expect(CPUBackend(convPath: .im2col).pathName(g, .forward) == "im2col")
        #expect(DNNLConv.describe(g, .forward).contains("src=aBcd"))  // nChw8c / nChw16c
    }

    /// With the default training algorithm, 3x3 stride-1 convolutions of whole 16-channel blocks with
    /// outputs of at least 7x7 take oneDNN's Winograd kernel in all three passes (so
    /// `matchesNaiveReference` checks it); odd channel counts and smaller outputs stay direct.
    @Test(.enabled(if: DNNLConv.hasWinogradKernels, "oneDNN 2.6 has f32 Winograd kernels only for AVX-512"))
    func winogradServesWhole3x3BlocksInEveryPass() {
        let g = convCases.first { $0.name.hasPrefix("3x3 Winograd") }!.g
        let oddChannels = convCases.first { $0.name == "3x3 pad1" }!.g
        let small = convCases.first { $0.name == "3x3 pad1 16ch batch1" }!.g   // 16 channels, 6x5 outputs
        for pass in DNNLConv.Pass.allCases {
            let expectWinograd = true   // the default training algorithm
            #expect(DNNLConv.describe(g, pass).contains("wino") == expectWinograd, "\(pass): \(DNNLConv.describe(g, pass))")
            #expect(!DNNLConv.describe(oddChannels, pass).contains("wino"))
            #expect(!DNNLConv.describe(small, pass).contains("wino"), "\(pass): \(DNNLConv.describe(small, pass))")
        }
    }
}

@Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
func gemmMatchesNaive(_ ta: Bool, _ tb: Bool) {
    let m = 7, n = 5, k = 9
    var rng = SeededRandom(seed: 11)
    let a = randomArray(m * k, &rng), b = randomArray(k * n, &rng), c0 = randomArray(m * n, &rng)
    let alpha: Float = 0.5, beta: Float = -2
    var c = c0
    a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
        CPUBackend().gemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: alpha, a: ap.baseAddress!, b: bp.baseAddress!,
                          beta: beta, c: cp.baseAddress!)
    } } }
    var ref = [Float](repeating: 0, count: m * n)
    for i in 0..<m {
        for j in 0..<n {
            var s: Double = 0
            for p in 0..<k {
                let av = ta ? a[p * m + i] : a[i * k + p]
                let bv = tb ? b[j * k + p] : b[p * n + j]
                s += Double(av) * Double(bv)
            }
            ref[i * n + j] = Float(Double(alpha) * s + Double(beta) * Double(c0[i * n + j]))
        }
    }
    #expect(relError(c, ref) < 1e-5)
}

@Test func scratchPoolReusesBuffers() {
    let pool = ScratchPool()
    let a = pool.acquire(bytes: 1000)
    pool.release(a)
    let b = pool.acquire(bytes: 500)
    #expect(b.pointer == a.pointer)
    let c = pool.acquire(bytes: 100)
    #expect(c.pointer != b.pointer)
    pool.release(b); pool.release(c)
    let d = pool.acquire(bytes: 4096)  // fits neither: the smallest idle buffer is dropped
    pool.release(d)
    #expect(pool.ownedBytes == 1024 + 4096)
    pool.trim()
    #expect(pool.ownedBytes == 0)
}

/// The inference chain follows the same Winograd rule as training: a 3x3 convolution with 7x7 outputs
/// takes it, one with 4x4 outputs runs direct.
@Test(.enabled(if: DNNLConv.hasWinogradKernels, "oneDNN 2.6 has f32 Winograd kernels only for AVX-512"),
      arguments: [(7, true), (4, false)])
func inferenceWinogradFollowsTheOutputSizeRule(size: Int, expectWinograd: Bool) throws {
    var graph = DNNLInferenceGraph(input: [16, size, size])
    let window = DNNLInferenceGraph.Window(kernel: (3, 3), stride: (1, 1), top: 1, bottom: 1, left: 1, right: 1)
    let y = try graph.conv(0, outChannels: 16, window: window,
                           weight: [Float](repeating: 0.01, count: 16 * 16 * 9), bias: nil)
    let net = try DNNLInferenceNet(graph: graph, output: y, options: InferenceOptions(conv: .winograd))
    let description = try net.describe(batch: 2)
    #expect(description.contains("wino") == expectWinograd, "\(description)")
}
