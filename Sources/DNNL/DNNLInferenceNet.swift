import CDNNL
import Foundation
import TensorCore

/// Runs a `DNNLInferenceGraph` on plain NCHW batches: compiles a `DNNLInferenceProgram` per batch
/// size (cached, at most `maxCachedBatchSizes`), and spreads the work over `Threads.count` cores as
/// `threading` says.
///
/// Thread-safe: concurrent `run` calls each take their own program instance.
public final class DNNLInferenceNet: @unchecked Sendable {
    /// How the cores share one batch: `openmp` runs every primitive on the whole batch with an OpenMP
    /// team of `Threads.count` threads; `batch` cuts the batch into slices (one per worker, more where
    /// a slice would exceed `maxSliceImages`), and `Threads.count` workers take slices one after
    /// another and run the whole chain on each single-threaded (no barrier per primitive; each worker
    /// has its own program and buffers).
    public typealias Threading = DNNLThreading
    /// Convolution algorithm oneDNN is asked for.
    public typealias ConvAlgorithm = InferenceConvAlgorithm
    /// Activation layout of the convolutions' outputs.
    public typealias Layout = InferenceLayout

    /// Batch sizes whose programs (and activation buffers) are kept.
    public static let maxCachedBatchSizes = 2

    public let graph: DNNLInferenceGraph
    public let output: DNNLInferenceGraph.Value
    private let context: DNNLContext
    private let algorithm: ConvAlgorithm
    private let threadingMode: Threading
    private let layout: Layout
    private let sliceCap: Int
    private let fuseDepthwise: Bool
    public let precision: InferencePrecision
    private let bf16Layers: InferenceBF16Layers
    private let lock = NSLock()
    private let weights = DNNLInferenceWeights()
    /// Idle programs per (batch size, OpenMP threads), most recently used last.
    private var idle: [(batch: Int, threads: Int, programs: [DNNLInferenceProgram])] = []

    /// Throws when oneDNN is unavailable; compiling for a batch size happens on first use (or `prepare`).
    public init(graph: DNNLInferenceGraph, output: DNNLInferenceGraph.Value, options: InferenceOptions = InferenceOptions()) throws {
        guard let ctx = DNNLContext.shared else { throw DNNLInferenceError.unavailable("no oneDNN CPU engine") }
        guard output >= 0, output < graph.shapes.count else { throw DNNLInferenceError.invalid("output value \(output)") }
        self.graph = graph
        self.output = output
        self.context = ctx
        self.algorithm = options.conv
        self.threadingMode = options.threading
        self.layout = options.layout
        self.sliceCap = max(0, options.maxSliceImages)
        self.fuseDepthwise = options.fuseDepthwise
        self.precision = options.precision
        self.bf16Layers = options.bf16Layers
    }

    /// Whether `InferencePrecision.bf16` runs bf16 kernels on this CPU (AVX512-BF16); elsewhere the
    /// plan stays fp32.
    public static var nativeBF16: Bool { DNNLInferencePrecision.nativeBF16 }

    /// [C, H, W] of the input and of the output.
    public var inputShape: [Int] { graph.shape(0) }
    public var outputShape: [Int] { graph.shape(output) }

    // `InferenceOptions.maxSliceImages`: at most this many images per slice in `batch` threading (0: no
    // limit, one slice per worker). A program's activation buffers and oneDNN scratchpad grow with its
    // batch (Winograd keeps whole transformed tensors: VGG16 at 224 px holds ~425 MB per 8-image
    // program, ~217 MB per 4-image one, ~40 MB per 1-image one), and each worker keeps one program.
    // Default 4, measured on 2 cores (VGG16 batch 16, interleaved runs): within ~2% (the noise) of one
    // 8-image slice per core, where 2-image slices lose ~5% and single images ~10% (every slice reads
    // all the Winograd weights again).

    /// How one call's batch is cut: `count` slices whose sizes differ by at most one image, shared by
    /// `workers`, each program run by `threads` OpenMP threads (all cores for a batch in one piece).
    struct Slicing {
        let batch: Int, count: Int, workers: Int, threads: Int

        /// The largest slice (the first ones; later ones may hold one image less).
        var largest: Int { (batch + count - 1) / count }

        /// First image and image count of slice `i`.
        func slice(_ i: Int) -> (first: Int, images: Int) {
            let q = batch / count, r = batch % count
            return (i * q + min(i, r), q + (i < r ? 1 : 0))
        }
    }

    /// One slice per worker, or a multiple of the workers when a slice would exceed `sliceCap`.
    func slicing(_ batch: Int) -> Slicing {
        let t = max(1, Threads.count)
        guard threadingMode == .batch, batch > 1 else { return Slicing(batch: batch, count: 1, workers: 1, threads: t) }
        var count = min(t, batch)
        if sliceCap > 0 { count = max(count, (batch + sliceCap - 1) / sliceCap) }
        count = min(batch, (count + t - 1) / t * t)
        return Slicing(batch: batch, count: count, workers: min(t, count), threads: count == 1 ? t : 1)
    }

    /// An idle program for `batch` images run by `threads` OpenMP threads, else a new one. (oneDNN
    /// sizes a primitive's scratchpad for the threads of the thread that creates it, and a primitive
    /// must not run with more: programs are compiled and kept per thread count.)
    private func acquire(_ batch: Int, threads: Int) throws -> DNNLInferenceProgram {
        lock.lock()
        if let i = idle.firstIndex(where: { $0.batch == batch && $0.threads == threads }) {
            var e = idle.remove(at: i)
            let p = e.programs.popLast()
            idle.append(e)
            lock.unlock()
            if let p { return p }
        } else {
            idle.append((batch, threads, []))
            if idle.count > Self.maxCachedBatchSizes { idle.removeFirst() }
            lock.unlock()
        }
        return try DNNLInferenceProgram(graph, output: output, batch: batch, ompThreads: threads, algorithm: algorithm,
                                        layout: layout, fuseDepthwise: fuseDepthwise, precision: precision, bf16Layers: bf16Layers, weights: weights,
                                        context: context)
    }

    /// Bytes of activation buffers and scratchpads held by the compiled programs (all idle between
    /// calls); the shared reordered weights are not counted.
    public var programBytes: Int {
        lock.lock()
        defer { lock.unlock() }
        return idle.reduce(0) { $0 + $1.programs.reduce(0) { $0 + $1.heldBytes } }
    }

    private func giveBack(_ p: DNNLInferenceProgram) {
        lock.lock()
        defer { lock.unlock() }
        if let i = idle.firstIndex(where: { $0.batch == p.batch && $0.threads == p.ompThreads }) { idle[i].programs.append(p) }
    }

    /// Compiles (and keeps) the programs a batch of `batch` images needs.
    public func prepare(batch: Int) throws {
        let s = slicing(batch)
        let sizes = (0..<s.count).map { s.slice($0).images }
        var made: [DNNLInferenceProgram] = []
        for size in Set(sizes) {
            for _ in 0..<min(s.workers, sizes.filter { $0 == size }.count) { made.append(try acquire(size, threads: s.threads)) }
        }
        for p in made { giveBack(p) }
    }

    /// Runs `body(worker, first image, images)` for every slice of `s`: the workers take the slices in
    /// order (so at most `workers` programs of a size are in use at once).
    private func forEachSlice(_ s: Slicing, _ body: (_ worker: Int, _ first: Int, _ images: Int) throws -> Void) throws {
        let next = SliceCounter(s.count)
        let errors = ErrorBox()
        parallelFor(s.workers) { w in
            while let i = next.take() {
                let (first, images) = s.slice(i)
                do { try body(w, first, images) } catch { errors.set(error); return }
            }
        }
        if let e = errors.error { throw e }
    }

    /// input [batch, C, H, W] -> output [batch, C', H', W'], both plain NCHW.
    public func run(input: UnsafePointer<Float>, batch: Int, output out: UnsafeMutablePointer<Float>) throws {
        guard batch > 0 else { return }
        let s = slicing(batch)
        let inStride = inputShape.reduce(1, *), outStride = outputShape.reduce(1, *)
        try forEachSlice(s) { _, b0, nb in
            let p = try acquire(nb, threads: s.threads)
            defer { giveBack(p) }
            p.run(input: input + b0 * inStride, output: out + b0 * outStride)
        }
    }

    /// Runs `batch` images `reps` times as `run` does (batch slices or one OpenMP program), timing each
    /// step: (step, median seconds, multiply-adds of the whole batch). With slices running
    /// concurrently, a step's time is its time summed over the slices / the number of workers.
    public func profile(input: UnsafePointer<Float>, batch: Int, output out: UnsafeMutablePointer<Float>, reps: Int) throws
        -> [(step: String, seconds: Double, macs: Double)] {
        let s = slicing(batch), workers = s.workers
        let inStride = inputShape.reduce(1, *), outStride = outputShape.reduce(1, *)
        let first = try acquire(s.largest, threads: s.threads)
        let steps = first.lines.count, lines = first.lines, stepMACs = first.stepMACs
        giveBack(first)
        var times = [Double](repeating: 0, count: steps * workers)
        var samples = [[Double]](repeating: [], count: steps)
        for rep in 0...max(1, reps) {   // rep 0 warms up
            for i in times.indices { times[i] = 0 }
            try times.withUnsafeMutableBufferPointer { t in
                let base = t.baseAddress!
                try forEachSlice(s) { w, b0, nb in
                    let p = try acquire(nb, threads: s.threads)
                    defer { giveBack(p) }
                    guard p.lines.count == steps else { throw DNNLInferenceError.invalid("slices differ") }
                    p.run(input: input + b0 * inStride, output: out + b0 * outStride, stepSeconds: base + w * steps)
                }
            }
            if rep == 0 { continue }
            // Workers run at the same time: a step's share of the wall time is its summed time over them.
            for k in 0..<steps { samples[k].append((0..<workers).reduce(0) { $0 + times[$1 * steps + k] } / Double(workers)) }
        }
        let scale = Double(batch) / Double(s.largest)
        return (0..<steps).map { (lines[$0], samples[$0].sorted()[samples[$0].count / 2], stepMACs[$0] * scale) }
    }

    /// Primitive implementations and layouts of the program for `batch`, one line per step.
    public func describe(batch: Int) throws -> String {
        let s = slicing(batch)
        let p = try acquire(s.largest, threads: s.threads)
        defer { giveBack(p) }
        return (["\(graph.summary); \(p.activationReorders) activation reorders per call (entry/exit included)",
                 "precision \(precision.rawValue): convolutions \(p.convPaths.description)"] + p.lines)
            .joined(separator: "\n")
    }

    /// Convolutions of the program for `batch` by number format and algorithm, e.g. "bf16 direct 53".
    public func convPaths(batch: Int) throws -> String {
        let s = slicing(batch)
        let p = try acquire(s.largest, threads: s.threads)
        defer { giveBack(p) }
        return p.convPaths.description
    }
}

private final class ErrorBox: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var error: Error?
    func set(_ e: Error) { lock.lock(); if error == nil { error = e }; lock.unlock() }
}

/// Hands out slice indices 0..<count, each once, to concurrent workers.
private final class SliceCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0
    private let count: Int
    init(_ count: Int) { self.count = count }
    func take() -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard next < count else { return nil }
        next += 1
        return next - 1
    }
}

extension InferenceConvAlgorithm {
    /// oneDNN algorithms to try, in order.
    var kinds: [dnnl_alg_kind_t] {
        switch self {
        case .direct: [dnnl_convolution_direct]
        case .auto: [dnnl_convolution_auto, dnnl_convolution_direct]
        case .winograd: [dnnl_convolution_winograd, dnnl_convolution_direct]
        }
    }
}

extension InferenceLayout {
    /// The format tag every convolution output is forced to (nil: each picks its own).
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
