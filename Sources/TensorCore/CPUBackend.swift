import CBLAS
import Foundation

/// Which convolution implementation the CPU backend uses.
public enum ConvPath: String, Sendable, CaseIterable {
    /// im2col (or plain sgemm for pointwise 1x1) + OpenBLAS, batch-parallel with 1-thread BLAS per worker.
    case im2col
    /// oneDNN with `tag=any` blocked layouts, reordering from/to NCHW at every call, threaded as
    /// `DNNLConv.threading` says (falls back to im2col where oneDNN has no primitive).
    case dnnl
    /// Per (geometry, pass, bias): the first call times both oneDNN (+reorders) and im2col/sgemm on the
    /// real arguments (3 interleaved runs each, best of 3). The measured-typical winner is the prior
    /// (oneDNN for non-pointwise forward and backward-data; im2col for backward-weights; plain sgemm for
    /// pointwise 1x1); the other path must be at least 10% faster to replace it, so a noisy shared
    /// machine rarely flips a choice. The winner depends on the CPU (AVX2 Zen3 vs AVX-512 Zen4).
    case auto

    /// `GRAFT_CONV=im2col|dnnl|auto` (default auto).
    public static var fromEnvironment: ConvPath {
        ProcessInfo.processInfo.environment["GRAFT_CONV"].flatMap { ConvPath(rawValue: $0.lowercased()) } ?? .auto
    }
}

/// CPU backend: OpenBLAS sgemm, im2col/col2im and oneDNN convolutions, chosen per pass (see `ConvPath`).
public struct CPUBackend: Backend {
    public let convPath: ConvPath

    /// Reads `GRAFT_CONV` (im2col | dnnl | auto).
    public init() { convPath = ConvPath.fromEnvironment }
    public init(convPath: ConvPath) { self.convPath = convPath }

    public func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                     a: UnsafePointer<Float>, b: UnsafePointer<Float>, beta: Float, c: UnsafeMutablePointer<Float>) {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(transA ? m : k), b, Int32(transB ? k : n),
                    beta, c, Int32(n))
    }

    /// The implementation a pass uses: "dnnl", "im2col" or "sgemm" (pointwise); in auto mode
    /// "auto(untuned)" until the first call has measured both.
    public func pathName(_ g: Conv2DGeometry, _ pass: DNNLConv.Pass, bias: Bool = false) -> String {
        let plain = Im2colConv.isPointwise(g) ? "sgemm" : "im2col"
        switch convPath {
        case .im2col: return plain
        case .dnnl: return DNNLConv.supports(g, pass, bias: bias) ? "dnnl" : plain
        case .auto:
            guard let useDNNL = ConvAutotune.shared.choice(.init(g: g, pass: pass, bias: bias)) else { return "auto(untuned)" }
            return useDNNL ? "dnnl" : plain
        }
    }

    /// Runs one pass through the configured path. `dnnl` returns false when oneDNN has no primitive.
    /// Both closures overwrite the whole output, so whichever runs last leaves a valid result.
    @inline(__always)
    func dispatch(_ g: Conv2DGeometry, _ pass: DNNLConv.Pass, bias: Bool, dnnl: () -> Bool, im2col: () -> Void) {
        switch convPath {
        case .im2col: im2col()
        case .dnnl: if !dnnl() { im2col() }
        case .auto:
            let key = ConvAutotune.Key(g: g, pass: pass, bias: bias)
            if let useDNNL = ConvAutotune.shared.choice(key) {
                if useDNNL, dnnl() { return }
                im2col()
                return
            }
            ConvAutotune.shared.tune(key, dnnl: dnnl, im2col: im2col)
        }
    }

    public func conv2dForward(_ g: Conv2DGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                              bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>) {
        dispatch(g, .forward, bias: bias != nil,
                 dnnl: { DNNLConv.forward(g, input: input, weight: weight, bias: bias, output: output) },
                 im2col: { Im2colConv.forward(g, input: input, weight: weight, bias: bias, output: output, gemm: self) })
    }

    public func conv2dBackwardData(_ g: Conv2DGeometry, dOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                   dInput: UnsafeMutablePointer<Float>) {
        dispatch(g, .backwardData, bias: false,
                 dnnl: { DNNLConv.backwardData(g, dOutput: dOutput, weight: weight, dInput: dInput) },
                 im2col: { Im2colConv.backwardData(g, dOutput: dOutput, weight: weight, dInput: dInput, gemm: self) })
    }

    public func conv2dBackwardWeights(_ g: Conv2DGeometry, input: UnsafePointer<Float>, dOutput: UnsafePointer<Float>,
                                      dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>?) {
        dispatch(g, .backwardWeights, bias: dBias != nil,
                 dnnl: { DNNLConv.backwardWeights(g, input: input, dOutput: dOutput, dWeight: dWeight, dBias: dBias) },
                 im2col: { Im2colConv.backwardWeights(g, input: input, dOutput: dOutput, dWeight: dWeight, dBias: dBias,
                                                      gemm: self) })
    }
}

/// Per-geometry choice between oneDNN and im2col for `ConvPath.auto`, measured on first use.
public final class ConvAutotune: @unchecked Sendable {
    public static let shared = ConvAutotune()
    public struct Key: Hashable, Sendable {
        public let g: Conv2DGeometry, pass: DNNLConv.Pass, bias: Bool
        public init(g: Conv2DGeometry, pass: DNNLConv.Pass, bias: Bool) { self.g = g; self.pass = pass; self.bias = bias }
    }
    /// Best-of-2 seconds per path as measured (dnnl is +infinity when unsupported).
    public struct Measurement: Sendable { public let dnnl: Double, im2col: Double, useDNNL: Bool }

    private let lock = NSLock()
    private var results: [Key: Measurement] = [:]

    func choice(_ key: Key) -> Bool? {
        lock.lock(); defer { lock.unlock() }
        return results[key]?.useDNNL
    }

    /// All measurements so far (for benchmarks and logs).
    public var measurements: [Key: Measurement] { lock.lock(); defer { lock.unlock() }; return results }

    /// Forgets every choice (the next call of each geometry measures again).
    public func reset() { lock.lock(); results.removeAll(); lock.unlock() }

    /// The path chosen without measurements (the typical winner in `graft-bench kernels`).
    public static func prior(_ g: Conv2DGeometry, _ pass: DNNLConv.Pass) -> Bool {
        !Im2colConv.isPointwise(g) && pass != .backwardWeights
    }

    func tune(_ key: Key, dnnl: () -> Bool, im2col: () -> Void) {
        func time(_ body: () -> Void) -> Double {
            let t0 = DispatchTime.now().uptimeNanoseconds
            body()
            return Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
        }
        var tDNNL = Double.infinity, tIm2col = Double.infinity
        var supported = true
        // Round 0 builds the oneDNN primitive and fills the scratch pool; rounds 1-3 are timed.
        for round in 0..<4 {
            if supported {
                var ok = true
                let t = time { ok = dnnl() }
                supported = ok
                if ok && round > 0 { tDNNL = min(tDNNL, t) }
            }
            let t = time(im2col)
            if round > 0 { tIm2col = min(tIm2col, t) }
            if !supported && round > 0 { break }
        }
        // Bias the comparison towards the prior: the other path must win by 10%.
        let margin = 1.1
        let useDNNL = ConvAutotune.prior(key.g, key.pass) ? tDNNL <= tIm2col * margin : tDNNL * margin < tIm2col
        let m = Measurement(dnnl: tDNNL, im2col: tIm2col, useDNNL: useDNNL)
        // The last run was im2col, so the output is already valid whichever path wins.
        lock.lock(); results[key] = m; lock.unlock()
    }
}

/// Single-threaded OpenBLAS for use inside parallel workers (nested threading oversubscribes 2 cores).
public enum BLASThreads {
    public static func set(_ n: Int) { openblas_set_num_threads(Int32(n)) }
    public static var current: Int { Int(openblas_get_num_threads()) }
    /// The kernel family OpenBLAS picked at run time (e.g. "Zen", "Haswell", "SkylakeX").
    public static var coreName: String { openblas_get_corename().map { String(cString: $0) } ?? "?" }
}
