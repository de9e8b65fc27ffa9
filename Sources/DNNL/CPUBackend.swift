import CBLAS
import Foundation
import Synchronization
import TensorCore

/// CPU backend: OpenBLAS sgemm, im2col/col2im and oneDNN convolutions, chosen per pass (see `ConvPath`).
public struct CPUBackend: Backend {
    public let convPath: ConvPath
    /// oneDNN's algorithm and threading for the passes that run on oneDNN.
    public let trainConv: TrainConvAlgorithm
    public let dnnlThreading: DNNLThreading

    /// Multiply-adds below which `gemm` runs single-threaded.
    static let singleThreadGEMMWork = 1 << 23
    public init(convPath: ConvPath = .rule, trainConv: TrainConvAlgorithm = .winograd, dnnlThreading: DNNLThreading = .batch) {
        self.convPath = convPath; self.trainConv = trainConv; self.dnnlThreading = dnnlThreading
    }
    public init(_ options: RuntimeOptions) {
        self.init(convPath: options.conv, trainConv: options.trainConv, dnnlThreading: options.dnnlThreading)
    }

    public func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                     a: UnsafePointer<Float>, b: UnsafePointer<Float>, beta: Float, c: UnsafeMutablePointer<Float>) {
        // Small products (LeNet's dense layers) run on one thread: waking OpenBLAS's worker costs more
        // than it saves, and the worker then spins in sched_yield, taking a core from our own workers.
        let threads = BLASThreads.current
        if threads > 1 && m * n * k < CPUBackend.singleThreadGEMMWork {
            BLASThreads.set(1)
            defer { BLASThreads.set(threads) }
            cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                        Int32(m), Int32(n), Int32(k), alpha, a, Int32(transA ? m : k), b, Int32(transB ? k : n),
                        beta, c, Int32(n))
            return
        }
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
        case .dnnl: return DNNLConv.supports(g, pass, bias: bias, algorithm: trainConv) ? "dnnl" : plain
        case .rule: return ConvAutotune.prior(g, pass) && DNNLConv.supports(g, pass, bias: bias, algorithm: trainConv) ? "dnnl" : plain
        case .auto:
            guard let useDNNL = ConvAutotune.shared.choice(.init(g: g, pass: pass, bias: bias)) else { return "auto(tuning)" }
            return useDNNL ? "dnnl" : plain
        }
    }

    /// Runs one pass through the configured path. `dnnl` returns false when oneDNN has no primitive
    /// (then im2col runs). Both closures overwrite the whole output.
    @inline(__always)
    func dispatch(_ g: Conv2DGeometry, _ pass: DNNLConv.Pass, bias: Bool, dnnl: () -> Bool, im2col: () -> Void) {
        switch convPath {
        case .im2col: im2col()
        case .dnnl: if !dnnl() { im2col() }
        case .rule: if !(ConvAutotune.prior(g, pass) && dnnl()) { im2col() }
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
                 dnnl: { DNNLConv.forward(g, input: input, weight: weight, bias: bias, output: output,
                                          algorithm: trainConv, threading: dnnlThreading) },
                 im2col: { Im2colConv.forward(g, input: input, weight: weight, bias: bias, output: output, gemm: self) })
    }

    public func conv2dBackwardData(_ g: Conv2DGeometry, dOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                   dInput: UnsafeMutablePointer<Float>) {
        dispatch(g, .backwardData, bias: false,
                 dnnl: { DNNLConv.backwardData(g, dOutput: dOutput, weight: weight, dInput: dInput,
                                               algorithm: trainConv, threading: dnnlThreading) },
                 im2col: { Im2colConv.backwardData(g, dOutput: dOutput, weight: weight, dInput: dInput, gemm: self) })
    }

    public func conv2dBackwardWeights(_ g: Conv2DGeometry, input: UnsafePointer<Float>, dOutput: UnsafePointer<Float>,
                                      dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>?) {
        dispatch(g, .backwardWeights, bias: dBias != nil,
                 dnnl: { DNNLConv.backwardWeights(g, input: input, dOutput: dOutput, dWeight: dWeight, dBias: dBias,
                                                  algorithm: trainConv, threading: dnnlThreading) },
                 im2col: { Im2colConv.backwardWeights(g, input: input, dOutput: dOutput, dWeight: dWeight, dBias: dBias,
                                                      gemm: self) })
    }
}

/// Per-geometry choice between oneDNN and im2col for `ConvPath.auto`, learned online: the first calls
/// of a (geometry, pass, bias) alternate between the two paths (each call runs exactly one, so tuning
/// costs nothing extra), the first call of each is a warm-up, and after `samples` timed calls per path
/// the medians decide. The prior (`prior`) keeps its place unless the other path is 10% faster.
/// Medians over calls spread in time resist the bursts of load on a shared machine far better than
/// back-to-back best-of-N timing did (that flipped VGG backward-data to im2col in one run).
public final class ConvAutotune: @unchecked Sendable {
    public static let shared = ConvAutotune()
    public struct Key: Hashable, Sendable {
        public let g: Conv2DGeometry, pass: DNNLConv.Pass, bias: Bool
        public init(g: Conv2DGeometry, pass: DNNLConv.Pass, bias: Bool) { self.g = g; self.pass = pass; self.bias = bias }
    }
    /// Median seconds per path as measured (dnnl is +infinity when unsupported) and the decision.
    public struct Measurement: Sendable { public let dnnl: Double, im2col: Double, useDNNL: Bool }

    struct State { var calls = 0; var dnnl: [Double] = []; var im2col: [Double] = []; var dnnlSupported = true }

    /// Timed calls per path before deciding.
    public let samples = 3
    private let lock = NSLock()
    private var results: [Key: Measurement] = [:]
    private var states: [Key: State] = [:]

    /// The path measured typically fastest, used before and as a tie-breaker of the measurements:
    /// oneDNN for non-pointwise forward and backward-data, and for backward-weights with at least 8x8
    /// outputs; im2col for smaller backward-weights; plain sgemm for pointwise 1x1.
    public static func prior(_ g: Conv2DGeometry, _ pass: DNNLConv.Pass) -> Bool {
        if Im2colConv.isPointwise(g) { return false }
        if pass != .backwardWeights { return true }
        // Backward-weights: oneDNN measured faster down to 8x8 outputs (ResNet-20 stage 3, VGG16,
        // ResNet50 56²..14²), im2col on 7x7 outputs (ResNet50 stage 5).
        return g.outHeight * g.outWidth >= 64
    }

    func choice(_ key: Key) -> Bool? {
        lock.lock(); defer { lock.unlock() }
        return results[key]?.useDNNL
    }

    /// All decisions so far (for benchmarks and logs).
    public var measurements: [Key: Measurement] { lock.lock(); defer { lock.unlock() }; return results }

    /// Forgets every choice (the next calls of each geometry measure again).
    public func reset() { lock.lock(); results.removeAll(); states.removeAll(); lock.unlock() }

    /// One call while undecided: runs one path (alternating), records its time, decides when enough.
    func tune(_ key: Key, dnnl: () -> Bool, im2col: () -> Void) {
        lock.lock()
        var st = states[key] ?? State()
        let call = st.calls
        st.calls += 1
        states[key] = st
        lock.unlock()
        let tryDNNL = st.dnnlSupported && call % 2 == 0
        let t0 = DispatchTime.now().uptimeNanoseconds
        var ran = false
        if tryDNNL { ran = dnnl() }
        if !ran { im2col() }
        let t = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
        lock.lock()
        defer { lock.unlock() }
        guard results[key] == nil, var s = states[key] else { return }
        if tryDNNL && !ran { s.dnnlSupported = false }
        if call >= 2 && ran == tryDNNL {  // calls 0 and 1 are the warm-ups of each path
            if tryDNNL { s.dnnl.append(t) } else { s.im2col.append(t) }
        }
        func median(_ v: [Double]) -> Double { v.isEmpty ? .infinity : v.sorted()[v.count / 2] }
        if !s.dnnlSupported {
            results[key] = Measurement(dnnl: .infinity, im2col: median(s.im2col), useDNNL: false)
        } else if s.dnnl.count >= samples && s.im2col.count >= samples {
            let d = median(s.dnnl), i = median(s.im2col)
            let margin = 1.1
            let useDNNL = ConvAutotune.prior(key.g, key.pass) ? d <= i * margin : d * margin < i
            results[key] = Measurement(dnnl: d, im2col: i, useDNNL: useDNNL)
        }
        states[key] = s
    }
}

/// The backend the NN ops run on. The ops are free functions over `Var` with no context argument, so
/// the backend (its conv rule, Winograd rule and oneDNN threading) is process-wide: installed once at
/// start-up by `RuntimeOptions.apply`, behind a lock; the default until then is `CPUBackend()`.
public enum Backends {
    private static let installed = Mutex<CPUBackend>(CPUBackend())

    public static var cpu: any Backend { installed.withLock { $0 } }

    /// The CPU backend as configured (for benchmarks and logs).
    public static var cpuBackend: CPUBackend { installed.withLock { $0 } }

    public static func install(_ backend: CPUBackend) { installed.withLock { $0 = backend } }
}

extension RuntimeOptions {
    /// Applies the process-wide parts once at start-up, before the first tensor exists: worker
    /// threads (`Threads.count`), the backend NN ops run on (`Backends`), and tensor pooling
    /// (`StoragePool.shared`). Everything else is passed to what uses it.
    public func apply() {
        if let t = threads { Threads.count = t }
        Backends.install(CPUBackend(self))
        StoragePool.configureShared(enabled: tensorPool)
    }
}
