import Foundation
import DNNL
import TensorCore

// graft-bench: kernel benchmarks for the CPU backend (issue #2 item 7).
//
//   swift build -c release --product graft-bench
//   .build/release/graft-bench kernels [--threads 2] [--reps 15] [--warmup 3]
//   .build/release/graft-bench peak [--threads 2]
//   .build/release/graft-bench describe          # oneDNN implementation + layouts per layer and pass
//   .build/release/graft-bench convnet vgg16|resnet50 [--batch 16] [--reps 3]   # all conv layers, per path
//
// `kernels` measures every configuration once per round, round-robin, for `reps` rounds, and reports
// medians: noise from other processes on the machine then hits all rows alike, so the ratios to the
// sgemm rows (measured in the same rounds) are more stable than the absolute GFLOP/s.

// MARK: - Arguments

let argv = Array(CommandLine.arguments.dropFirst())
let command = argv.first ?? "kernels"
func option(_ name: String, _ def: Int) -> Int {
    if let i = argv.firstIndex(of: name), i + 1 < argv.count, let v = Int(argv[i + 1]) { return v }
    return def
}
let threads = option("--threads", 2)
let reps = option("--reps", command == "convnet" ? 3 : 15)
let warmup = option("--warmup", 3)
// The one reading of GRAFT_* for this executable; --no-fused-augment (loader) goes on top.
let runtime: RuntimeOptions = {
    var o = RuntimeOptions(environment: RuntimeEnvironment.variables)
    o.threads = threads
    if argv.contains("--no-fused-augment") { o.fusedAugment = false }
    return o
}()
runtime.apply()
BLASThreads.set(threads)
let defaultThreading = runtime.dnnlThreading
/// The CPU backend for `path` with this process's Winograd rule and the given oneDNN threading.
func backend(_ path: ConvPath, threading: DNNLThreading = defaultThreading) -> CPUBackend {
    CPUBackend(convPath: path, trainConv: runtime.trainConv, dnnlThreading: threading)
}

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }
func median(_ v: [Double]) -> Double {
    let s = v.sorted(); return s.isEmpty ? .nan : (s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2)
}
func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }
func f(_ x: Double, _ d: Int = 1) -> String { x.isFinite ? String(format: "%.\(d)f", x) : "-" }

/// A 64-byte-aligned float buffer filled with uniform [-1, 1) values (touched, so pages are resident).
final class Buffer {
    let p: UnsafeMutablePointer<Float>
    let count: Int
    init(_ count: Int, seed: UInt64) {
        self.count = count
        p = UnsafeMutableRawPointer.allocate(byteCount: count * 4, alignment: 64).bindMemory(to: Float.self, capacity: count)
        var rng = SeededRandom(seed: seed)
        for i in 0..<count { p[i] = rng.nextFloat() * 2 - 1 }
    }
    var raw: UnsafeMutableRawPointer { UnsafeMutableRawPointer(p) }
    deinit { p.deallocate() }
}

// MARK: - peak

func peakGFLOPs(threads: Int, iterations: Int = 20_000_000) -> Double {
    FMAProbe.gflops(threads: threads, iterations: iterations)
}

// MARK: - kernels

struct Row {
    let layer: String, pass: String
    var path: String
    let flops: Double
    let run: () -> Void
    var kernelOnly: (() -> Double)? = nil   // returns seconds of one timed kernel run
    var times: [Double] = []
}

let vgg = Conv2DGeometry(batch: 16, inChannels: 64, inHeight: 56, inWidth: 56, outChannels: 64,
                         kernelHeight: 3, kernelWidth: 3, padTop: 1, padBottom: 1, padLeft: 1, padRight: 1)
let resnet = Conv2DGeometry(batch: 16, inChannels: 256, inHeight: 56, inWidth: 56, outChannels: 64,
                            kernelHeight: 1, kernelWidth: 1)
let layers: [(String, Conv2DGeometry)] = [("vgg3x3 64-64 56²", vgg), ("resnet1x1 256-64 56²", resnet)]

func passName(_ p: DNNLConv.Pass) -> String {
    switch p { case .forward: "fwd"; case .backwardData: "bwd-data"; case .backwardWeights: "bwd-weights" }
}

func kernels() {
    var rows: [Row] = []
    var keep: [Buffer] = []
    var autoRows: [(Int, CPUBackend, Conv2DGeometry, DNNLConv.Pass)] = []

    // sgemm reference rows.
    let big = 1024
    let ga = Buffer(big * big, seed: 1), gb = Buffer(big * big, seed: 2), gc = Buffer(big * big, seed: 3)
    keep += [ga, gb, gc]
    let be = backend(.im2col)
    rows.append(Row(layer: "sgemm 1024³", pass: "-", path: "openblas \(threads)T", flops: 2 * pow(Double(big), 3)) {
        be.gemm(transA: false, transB: false, m: big, n: big, k: big, alpha: 1, a: ga.p, b: gb.p, beta: 0, c: gc.p)
    })
    // Conv-shaped: 16 x (M64 N3136 K576), batch-parallel with 1-thread BLAS per worker (as the im2col path runs).
    let cm = 64, cn = 3136, ck = 576, cb = 16
    let ca = Buffer(cm * ck, seed: 4), cbuf = Buffer(cb * ck * cn, seed: 5), cc = Buffer(cb * cm * cn, seed: 6)
    keep += [ca, cbuf, cc]
    rows.append(Row(layer: "sgemm 16×M64N3136K576", pass: "-", path: "batch-par 1T/worker",
                    flops: 2 * Double(cb * cm * cn * ck)) {
        let saved = BLASThreads.current
        BLASThreads.set(1)
        parallelFor(cb) { i in
            be.gemm(transA: false, transB: false, m: cm, n: cn, k: ck, alpha: 1, a: ca.p, b: cbuf.p + i * ck * cn,
                    beta: 0, c: cc.p + i * cm * cn)
        }
        BLASThreads.set(saved)
    })

    for (name, g) in layers {
        let x = Buffer(g.inputShape.reduce(1, *), seed: 10), w = Buffer(g.weightShape.reduce(1, *), seed: 11)
        let b = Buffer(g.outChannels, seed: 12), y = Buffer(g.outputShape.reduce(1, *), seed: 13)
        let dy = Buffer(g.outputShape.reduce(1, *), seed: 14), dx = Buffer(g.inputShape.reduce(1, *), seed: 15)
        let dw = Buffer(g.weightShape.reduce(1, *), seed: 16), db = Buffer(g.outChannels, seed: 17)
        keep += [x, w, b, y, dy, dx, dw, db]
        for pass in DNNLConv.Pass.allCases {
            let variants: [(ConvPath, DNNLConv.Threading)] = [(.im2col, .batch), (.dnnl, .batch), (.dnnl, .openmp),
                                                               (.auto, defaultThreading)]
            for (path, threading) in variants {
                let backend = backend(path, threading: threading)
                let label = path == .auto ? "auto" : path == .dnnl ? "dnnl+reorders (\(threading.rawValue))"
                    : backend.pathName(g, pass, bias: true)
                let call: () -> Void
                switch pass {
                case .forward: call = { backend.conv2dForward(g, input: x.p, weight: w.p, bias: b.p, output: y.p) }
                case .backwardData: call = { backend.conv2dBackwardData(g, dOutput: dy.p, weight: w.p, dInput: dx.p) }
                case .backwardWeights:
                    call = { backend.conv2dBackwardWeights(g, input: x.p, dOutput: dy.p, dWeight: dw.p, dBias: db.p) }
                }
                rows.append(Row(layer: name, pass: passName(pass), path: label, flops: g.flops, run: call))
                if path == .auto { autoRows.append((rows.count - 1, backend, g, pass)) }
            }
            // oneDNN kernel alone, data already in its blocked layout.
            if DNNLConv.supports(g, pass, bias: true, algorithm: runtime.trainConv) {
                let buffers: [Int32: UnsafeMutableRawPointer]
                switch pass {
                case .forward: buffers = [DNNLConv.argSrc: x.raw, DNNLConv.argWeights: w.raw, DNNLConv.argBias: b.raw,
                                          DNNLConv.argDst: y.raw]
                case .backwardData: buffers = [DNNLConv.argDiffDst: dy.raw, DNNLConv.argWeights: w.raw,
                                               DNNLConv.argDiffSrc: dx.raw]
                case .backwardWeights: buffers = [DNNLConv.argSrc: x.raw, DNNLConv.argDiffDst: dy.raw,
                                                  DNNLConv.argDiffWeights: dw.raw, DNNLConv.argDiffBias: db.raw]
                }
                var r = Row(layer: name, pass: passName(pass), path: "dnnl kernel only (openmp)", flops: g.flops) {}
                r.kernelOnly = {
                    DNNLConv.timeKernelOnly(g, pass, buffers: buffers, warmup: 0, reps: 1, algorithm: runtime.trainConv).first ?? .nan
                }
                rows.append(r)
            }
        }
    }

    let canaryBefore = peakGFLOPs(threads: threads, iterations: 2_000_000)
    // Warm-up (builds primitives, fills the scratch pool), then round-robin timed rounds.
    for _ in 0..<max(1, warmup) { for r in rows { if let k = r.kernelOnly { _ = k() } else { r.run() } } }
    // Auto rows: keep calling until ConvAutotune has decided (8 calls alternating the two paths).
    for (i, _, _, _) in autoRows { for _ in 0..<(2 + 2 * ConvAutotune.shared.samples) { rows[i].run() } }
    for (i, be, g, pass) in autoRows { rows[i].path = "auto→" + be.pathName(g, pass, bias: pass != .backwardData) }
    for _ in 0..<reps {
        for i in rows.indices {
            if let k = rows[i].kernelOnly { rows[i].times.append(k()); continue }
            let t0 = now(); rows[i].run(); rows[i].times.append(now() - t0)
        }
    }

    let canaryAfter = peakGFLOPs(threads: threads, iterations: 2_000_000)
    let sgemmBig = rows[0].flops / median(rows[0].times) * 1e-9
    let sgemmConv = rows[1].flops / median(rows[1].times) * 1e-9
    print("graft-bench kernels: threads=\(threads), reps=\(reps) (median), warmup=\(warmup), N=16, Float32")
    print("OpenBLAS core \(BLASThreads.coreName), \(BLASThreads.current) thread(s) outside kernels; oneDNN 3x3 fwd: "
          + DNNLConv.describe(vgg, .forward, bias: true, algorithm: runtime.trainConv))
    print("oneDNN threading for dnnl/auto rows: \(defaultThreading.rawValue) (GRAFT_DNNL_THREADING); Winograd rule: \(runtime.trainConv.rawValue) (GRAFT_TRAIN_CONV); auto: per-geometry choice learned over its first 8 calls")
    print("FMA canary (SIMD8 peak probe) before/after: \(f(canaryBefore))/\(f(canaryAfter)) GFLOP/s "
          + "(~230 on an idle 2-vCPU Zen4; lower = other load on the machine)")
    if let isa = RuntimeEnvironment.variables["DNNL_MAX_CPU_ISA"] { print("DNNL_MAX_CPU_ISA=\(isa)") }
    print("ratios: r1024 = GFLOP/s / sgemm 1024³ (\(f(sgemmBig)) GFLOP/s); rconv = / 16×M64N3136K576 (\(f(sgemmConv)) GFLOP/s)")
    print("")
    print("| layer | pass | path | median ms | GFLOP/s | r1024 | rconv |")
    print("|---|---|---|---:|---:|---:|---:|")
    for r in rows {
        let ms = median(r.times) * 1e3
        let gf = r.flops / median(r.times) * 1e-9
        print("| \(r.layer) | \(r.pass) | \(r.path) | \(f(ms, 2)) | \(f(gf)) | \(f(gf / sgemmBig, 2)) | \(f(gf / sgemmConv, 2)) |")
    }
    // Training step (fwd + bwd-data + bwd-weights) per path.
    print("")
    print("| layer | training step (fwd+bwd-data+bwd-weights) | im2col/sgemm ms | dnnl+reorders (batch) ms | dnnl+reorders (openmp) ms | auto ms |")
    print("|---|---|---:|---:|---:|---:|")
    for (name, _) in layers {
        func step(_ prefix: String) -> Double {
            rows.filter { $0.layer == name && $0.path.hasPrefix(prefix) }.map { median($0.times) * 1e3 }.reduce(0, +)
        }
        let plain = rows.filter { $0.layer == name && ($0.path == "im2col" || $0.path == "sgemm") }
            .map { median($0.times) * 1e3 }.reduce(0, +)
        print("| \(name) | | \(f(plain, 2)) | \(f(step("dnnl+reorders (batch"), 2)) | \(f(step("dnnl+reorders (openmp"), 2)) | \(f(step("auto"), 2)) |")
    }
    withExtendedLifetime(keep) {}
}

// MARK: - convnet: every convolution of VGG16 / ResNet50 (224², torchvision layout) per path

/// (name, geometry, how many times it occurs in the network)
func networkConvs(_ net: String, batch n: Int) -> [(String, Conv2DGeometry, Int)] {
    func conv(_ c: Int, _ o: Int, _ hw: Int, k: Int, s: Int = 1, p: Int) -> Conv2DGeometry {
        Conv2DGeometry(batch: n, inChannels: c, inHeight: hw, inWidth: hw, outChannels: o, kernelHeight: k,
                       kernelWidth: k, strideH: s, strideW: s, padTop: p, padBottom: p, padLeft: p, padRight: p)
    }
    var list: [(String, Conv2DGeometry, Int)] = []
    func add(_ name: String, _ g: Conv2DGeometry) {
        if let i = list.firstIndex(where: { $0.1 == g }) { list[i].2 += 1 } else { list.append((name, g, 1)) }
    }
    if net == "vgg16" {
        var c = 3, hw = 224
        for (o, reps) in [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)] {
            for _ in 0..<reps { add("3x3 \(c)-\(o) \(hw)²", conv(c, o, hw, k: 3, p: 1)); c = o }
            hw /= 2
        }
    } else {  // resnet50 v1.5: stride on the 3x3
        add("7x7/2 3-64 224²", conv(3, 64, 224, k: 7, s: 2, p: 3))
        var c = 64, hw = 56
        for (stage, (mid, blocks)) in [(64, 3), (128, 4), (256, 6), (512, 3)].enumerated() {
            let out = mid * 4
            for b in 0..<blocks {
                let s = (b == 0 && stage > 0) ? 2 : 1
                add("1x1 \(c)-\(mid) \(hw)²", conv(c, mid, hw, k: 1, p: 0))
                add("3x3/\(s) \(mid)-\(mid) \(hw)²", conv(mid, mid, hw, k: 3, s: s, p: 1))
                let ohw = hw / s
                add("1x1 \(mid)-\(out) \(ohw)²", conv(mid, out, ohw, k: 1, p: 0))
                if b == 0 { add("1x1/\(s) \(c)-\(out) \(hw)² (proj)", conv(c, out, hw, k: 1, s: s, p: 0)) }
                c = out; hw = ohw
            }
        }
    }
    return list
}

func convnet(_ net: String) {
    let batch = option("--batch", 16)
    let convs = networkConvs(net, batch: batch)
    let paths = ConvPath.allCases
    // [path][pass] total ms over the network
    var totals = [[Double]](repeating: [0, 0, 0], count: paths.count)
    var totalFlops = 0.0
    print("graft-bench convnet \(net): batch=\(batch), threads=\(threads), reps=\(reps) (median per layer), all conv layers")
    print("FMA canary before: \(f(peakGFLOPs(threads: threads, iterations: 2_000_000))) GFLOP/s")
    print("")
    print("| layer | × | GFLOP | " + paths.map { p in DNNLConv.Pass.allCases.map { "\(p.rawValue) \(passName($0)) ms" }
        .joined(separator: " | ") }.joined(separator: " | ") + " |")
    print("|---|---:|---:|" + String(repeating: "---:|", count: paths.count * 3))
    for (name, g, count) in convs {
        let x = Buffer(g.inputShape.reduce(1, *), seed: 10), w = Buffer(g.weightShape.reduce(1, *), seed: 11)
        let b = Buffer(g.outChannels, seed: 12), y = Buffer(g.outputShape.reduce(1, *), seed: 13)
        let dy = Buffer(g.outputShape.reduce(1, *), seed: 14), dx = Buffer(g.inputShape.reduce(1, *), seed: 15)
        let dw = Buffer(g.weightShape.reduce(1, *), seed: 16), db = Buffer(g.outChannels, seed: 17)
        var cells: [String] = []
        var ms = [[Double]](repeating: [], count: paths.count * 3)
        let runs: [[() -> Void]] = paths.map { path in
            let be = backend(path)
            return [{ be.conv2dForward(g, input: x.p, weight: w.p, bias: b.p, output: y.p) },
                    { be.conv2dBackwardData(g, dOutput: dy.p, weight: w.p, dInput: dx.p) },
                    { be.conv2dBackwardWeights(g, input: x.p, dOutput: dy.p, dWeight: dw.p, dBias: db.p) }]
        }
        for r in runs.joined() { r() }  // warm-up, primitive creation
        if let autoIndex = paths.firstIndex(of: .auto) {  // let ConvAutotune decide (8 calls per pass)
            for _ in 0..<(1 + 2 * ConvAutotune.shared.samples) { for r in runs[autoIndex] { r() } }
        }
        for _ in 0..<reps {
            for (i, r) in runs.joined().enumerated() { let t0 = now(); r(); ms[i].append((now() - t0) * 1e3) }
        }
        for pi in paths.indices {
            for pass in 0..<3 {
                let m = median(ms[pi * 3 + pass])
                totals[pi][pass] += m * Double(count)
                cells.append(f(m, 1))
            }
        }
        totalFlops += g.flops * Double(count)
        print("| \(name) | \(count) | \(f(g.flops * 1e-9, 1)) | " + cells.joined(separator: " | ") + " |")
        withExtendedLifetime([x, w, b, y, dy, dx, dw, db]) {}
    }
    print("| **total** | | \(f(totalFlops * 1e-9, 1)) | "
          + totals.flatMap { $0.map { "**\(f($0, 0))**" } }.joined(separator: " | ") + " |")
    print("")
    for (pi, p) in paths.enumerated() {
        let fwd = totals[pi][0], step = totals[pi].reduce(0, +)
        // The first conv's backward-data is not needed in training; included here for simplicity.
        print("\(pad(p.rawValue, 7)) conv forward \(f(fwd, 0)) ms (\(f(totalFlops / fwd * 1e-6)) GFLOP/s), "
              + "conv training step \(f(step, 0)) ms (\(f(3 * totalFlops / step * 1e-6)) GFLOP/s), "
              + "\(f(Double(batch) / fwd * 1e3)) img/s fwd, \(f(Double(batch) / step * 1e3)) img/s train (convs only)")
    }
}

func describe() {
    for (name, g) in layers {
        for pass in DNNLConv.Pass.allCases {
            print("\(pad(name, 22)) \(pad(passName(pass), 12)) "
                  + DNNLConv.describe(g, pass, bias: pass != .backwardData, algorithm: runtime.trainConv))
        }
    }
}

switch command {
case "kernels": kernels()
case "peak":
    _ = peakGFLOPs(threads: threads, iterations: 2_000_000)
    let v = (0..<5).map { _ in peakGFLOPs(threads: threads) }
    print("FMA peak (SIMD8, 12 chains/thread), threads=\(threads): median \(f(median(v))) GFLOP/s, best \(f(v.max()!))")
case "describe": describe()
case "loader": loaderBenchmark(Array(argv.dropFirst()), runtime: runtime)   // LoaderBench.swift (image loader vs Pillow)
case "convnet":
    let net = argv.count > 1 && !argv[1].hasPrefix("--") ? argv[1] : "vgg16"
    guard net == "vgg16" || net == "resnet50" else { print("convnet vgg16|resnet50"); exit(2) }
    convnet(net)
default:
    print("usage: graft-bench kernels|peak|describe|convnet [vgg16|resnet50]|loader [--threads N] [--reps R] [--warmup W] [--batch B]")
    exit(2)
}
