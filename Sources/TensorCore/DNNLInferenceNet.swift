import CDNNL
import Foundation

/// Runs a `DNNLInferenceGraph` on plain NCHW batches: compiles a `DNNLInferenceProgram` per batch
/// size (cached, at most `maxCachedBatchSizes`), and spreads the work over `Threads.count` cores as
/// `threading` says.
///
/// Thread-safe: concurrent `run` calls each take their own program instance.
public final class DNNLInferenceNet: @unchecked Sendable {
    /// How the cores share one batch.
    public enum Threading: String, Sendable, CaseIterable {
        /// Every primitive runs on the whole batch with an OpenMP team of `Threads.count` threads.
        case openmp
        /// The batch is cut into `Threads.count` slices; each GCD worker runs the whole chain on its
        /// slice single-threaded (no barrier per primitive; each slice has its own buffers).
        case batch
    }

    /// Convolution algorithm oneDNN is asked for.
    public enum ConvAlgorithm: String, Sendable, CaseIterable {
        case direct
        /// oneDNN picks (Winograd where it has a kernel and thinks it faster), direct otherwise.
        case auto
        /// Winograd where available (3x3 stride 1), direct elsewhere.
        case winograd

        var kinds: [dnnl_alg_kind_t] {
            switch self {
            case .direct: [dnnl_convolution_direct]
            case .auto: [dnnl_convolution_auto, dnnl_convolution_direct]
            case .winograd: [dnnl_convolution_winograd, dnnl_convolution_direct]
            }
        }
    }

    /// Activation layout of the convolutions' outputs.
    public enum Layout: String, Sendable, CaseIterable {
        /// nChw16c where oneDNN runs AVX-512 kernels, else nChw8c. (With `any`, oneDNN 2.6 picks NHWC
        /// brgconv kernels on this Zen 4, measured 2-2.5x slower than its nChw16c jit kernels.)
        case automatic
        /// Whatever each convolution prefers (reorders appear where neighbours disagree).
        case any
        /// nChw16c everywhere (AVX-512 blocking).
        case nchw16c
        /// nChw8c everywhere (AVX2 blocking).
        case nchw8c
        /// NHWC everywhere.
        case nhwc

        var tag: dnnl_format_tag_t? {
            switch self {
            case .automatic:
                let isa = dnnl_get_effective_cpu_isa().rawValue, avx512 = dnnl_cpu_isa_avx512_core.rawValue
                return isa & avx512 == avx512 ? dnnl_nChw16c : dnnl_nChw8c
            case .any: return nil
            case .nchw16c: return dnnl_nChw16c
            case .nchw8c: return dnnl_nChw8c
            case .nhwc: return dnnl_nhwc
            }
        }
    }

    /// `GRAFT_INFER_LAYOUT=automatic|any|nchw16c|nchw8c|nhwc`.
    nonisolated(unsafe) public static var layout: Layout =
        ProcessInfo.processInfo.environment["GRAFT_INFER_LAYOUT"].flatMap { Layout(rawValue: $0.lowercased()) } ?? .automatic
    /// `GRAFT_INFER_THREADING=openmp|batch`. Set once at start-up, like `Threads.count`.
    nonisolated(unsafe) public static var threading: Threading =
        ProcessInfo.processInfo.environment["GRAFT_INFER_THREADING"].flatMap { Threading(rawValue: $0.lowercased()) } ?? .batch
    /// `GRAFT_INFER_CONV=direct|auto|winograd`.
    nonisolated(unsafe) public static var convAlgorithm: ConvAlgorithm =
        ProcessInfo.processInfo.environment["GRAFT_INFER_CONV"].flatMap { ConvAlgorithm(rawValue: $0.lowercased()) } ?? .winograd
    /// Batch sizes whose programs (and activation buffers) are kept.
    public static let maxCachedBatchSizes = 2

    public let graph: DNNLInferenceGraph
    public let output: DNNLInferenceGraph.Value
    private let context: DNNLContext
    private let algorithm: ConvAlgorithm
    private let threadingMode: Threading
    private let lock = NSLock()
    private let weights = DNNLInferenceWeights()
    /// Idle programs per batch size, most recently used size last.
    private var idle: [(batch: Int, programs: [DNNLInferenceProgram])] = []

    /// Throws when oneDNN is unavailable; compiling for a batch size happens on first use (or `prepare`).
    public init(graph: DNNLInferenceGraph, output: DNNLInferenceGraph.Value, algorithm: ConvAlgorithm? = nil,
                threading: Threading? = nil) throws {
        guard let ctx = DNNLContext.shared else { throw DNNLInferenceError.unavailable("no oneDNN CPU engine") }
        guard output >= 0, output < graph.shapes.count else { throw DNNLInferenceError.invalid("output value \(output)") }
        self.graph = graph
        self.output = output
        self.context = ctx
        self.algorithm = algorithm ?? Self.convAlgorithm
        self.threadingMode = threading ?? Self.threading
    }

    /// [C, H, W] of the input and of the output.
    public var inputShape: [Int] { graph.shape(0) }
    public var outputShape: [Int] { graph.shape(output) }

    /// Slices per worker in `batch` threading (`GRAFT_INFER_SLICES`, default 1: one slice per core).
    nonisolated(unsafe) public static var slicesPerWorker: Int =
        ProcessInfo.processInfo.environment["GRAFT_INFER_SLICES"].flatMap { Int($0) }.map { max(1, $0) } ?? 1

    /// Slices of a batch: (images per slice, count).
    private func slices(_ batch: Int) -> (per: Int, count: Int) {
        let t = Threads.count * Self.slicesPerWorker
        guard threadingMode == .batch, Threads.count > 1, batch > 1 else { return (batch, 1) }
        let per = (batch + t - 1) / t
        return (per, (batch + per - 1) / per)
    }

    private func acquire(_ batch: Int) throws -> DNNLInferenceProgram {
        lock.lock()
        if let i = idle.firstIndex(where: { $0.batch == batch }) {
            var e = idle.remove(at: i)
            let p = e.programs.popLast()
            idle.append(e)
            lock.unlock()
            if let p { return p }
        } else {
            idle.append((batch, []))
            if idle.count > Self.maxCachedBatchSizes { idle.removeFirst() }
            lock.unlock()
        }
        return try DNNLInferenceProgram(graph, output: output, batch: batch, algorithm: algorithm, layout: Self.layout,
                                        weights: weights, context: context)
    }

    private func giveBack(_ p: DNNLInferenceProgram) {
        lock.lock()
        defer { lock.unlock() }
        if let i = idle.firstIndex(where: { $0.batch == p.batch }) { idle[i].programs.append(p) }
    }

    /// Compiles (and keeps) the programs a batch of `batch` images needs.
    public func prepare(batch: Int) throws {
        let (per, count) = slices(batch)
        let sizes = count == 1 ? [batch] : (Array(repeating: per, count: count - 1) + [batch - per * (count - 1)])
        let made = try sizes.map { try acquire($0) }
        for p in made { giveBack(p) }
    }

    /// input [batch, C, H, W] -> output [batch, C', H', W'], both plain NCHW.
    public func run(input: UnsafePointer<Float>, batch: Int, output out: UnsafeMutablePointer<Float>) throws {
        guard batch > 0 else { return }
        let (per, count) = slices(batch)
        if count == 1 {
            let p = try acquire(batch)
            defer { giveBack(p) }
            p.run(input: input, output: out, ompThreads: Threads.count)
            return
        }
        let inStride = inputShape.reduce(1, *), outStride = outputShape.reduce(1, *)
        let errors = ErrorBox()
        parallelFor(count) { i in
            let b0 = i * per, nb = min(per, batch - b0)
            do {
                let p = try acquire(nb)
                defer { giveBack(p) }
                p.run(input: input + b0 * inStride, output: out + b0 * outStride, ompThreads: 1)
            } catch {
                errors.set(error)
            }
        }
        if let e = errors.error { throw e }
    }

    /// Runs `batch` images `reps` times as `run` does (batch slices or one OpenMP program), timing each
    /// step: (step, median seconds, multiply-adds of the whole batch). With slices running
    /// concurrently, a step's time is its time summed over the slices / the number of workers.
    public func profile(input: UnsafePointer<Float>, batch: Int, output out: UnsafeMutablePointer<Float>, reps: Int) throws
        -> [(step: String, seconds: Double, macs: Double)] {
        let (per, count) = slices(batch)
        let inStride = inputShape.reduce(1, *), outStride = outputShape.reduce(1, *)
        let programs = try (0..<count).map { try acquire(min(per, batch - $0 * per)) }
        defer { for p in programs { giveBack(p) } }
        let steps = programs[0].lines.count
        guard programs.allSatisfy({ $0.lines.count == steps }) else { throw DNNLInferenceError.invalid("slices differ") }
        var times = [Double](repeating: 0, count: steps * count)
        var samples = [[Double]](repeating: [], count: steps)
        for rep in 0...max(1, reps) {   // rep 0 warms up
            for i in times.indices { times[i] = 0 }
            times.withUnsafeMutableBufferPointer { t in
                let base = t.baseAddress!
                if count == 1 {
                    programs[0].run(input: input, output: out, ompThreads: Threads.count, stepSeconds: base)
                } else {
                    parallelFor(count) { i in
                        programs[i].run(input: input + i * per * inStride, output: out + i * per * outStride, ompThreads: 1,
                                        stepSeconds: base + i * steps)
                    }
                }
            }
            if rep == 0 { continue }
            // Slices run `workers` at a time: a step's share of the wall time is its summed time over them.
            let workers = Double(min(count, Threads.count))
            for k in 0..<steps { samples[k].append((0..<count).reduce(0) { $0 + times[$1 * steps + k] } / workers) }
        }
        let scale = Double(batch) / Double(programs[0].batch)
        return (0..<steps).map { (programs[0].lines[$0], samples[$0].sorted()[samples[$0].count / 2], programs[0].stepMACs[$0] * scale) }
    }

    /// Primitive implementations and layouts of the program for `batch`, one line per step.
    public func describe(batch: Int) throws -> String {
        let p = try acquire(slices(batch).per)
        defer { giveBack(p) }
        return (["\(graph.summary); \(p.activationReorders) activation reorders per call (entry/exit included)"] + p.lines)
            .joined(separator: "\n")
    }
}

private final class ErrorBox: @unchecked Sendable {
    private let lock = NSLock()
    private let weights = DNNLInferenceWeights()
    private(set) var error: Error?
    func set(_ e: Error) { lock.lock(); if error == nil { error = e }; lock.unlock() }
}
