import CDNNL
import Foundation
import TensorCore

/// oneDNN (2.6.x C API) convolutions from plain NCHW/OIHW buffers.
///
/// Each (geometry, pass, bias) gets one cached `DNNLConvPrimitive`: the primitive chosen with
/// `tag=any` (blocked layouts such as nChw8c / ABcd8b8a on AVX2) plus one reorder per argument whose
/// blocked layout differs from the plain one. The blocked copies live in `ScratchPool` buffers borrowed
/// for the call, so the cache holds no activation-sized memory of its own.
/// Creating a primitive can fail (unsupported shape, library missing an ISA): `primitive(...)` then
/// returns nil (cached too) and callers fall back to im2col.
public enum DNNLConv {
    public enum Pass: Int, Hashable, Sendable, CaseIterable { case forward, backwardData, backwardWeights }

    /// How oneDNN work is spread over the cores (`RuntimeOptions.dnnlThreading`): with `batch`,
    /// backward-weights sums the slices' partial dW afterwards.
    public typealias Threading = DNNLThreading
    /// Training convolution algorithm (`RuntimeOptions.trainConv`, default winograd).
    public typealias Algorithm = TrainConvAlgorithm

    /// Whether this geometry takes the Winograd kernel in training: 3x3, stride 1, ungrouped, channels
    /// in whole blocks of 16, and outputs where Winograd pays (`winogradPays`).
    static func winogradShape(_ g: Conv2DGeometry) -> Bool {
        g.kernelHeight == 3 && g.kernelWidth == 3 && g.strideH == 1 && g.strideW == 1 && g.groups == 1
            && g.inChannels % 16 == 0 && g.outChannels % 16 == 0
            && winogradPays(outHeight: g.outHeight, outWidth: g.outWidth)
    }

    /// Winograd F(4x4,3x3) only for outputs of at least 7x7 (training and inference), where each image
    /// has several 4x4 output tiles. Measured: the shipped CIFAR VGG (4x4 and 2x2 layers) trained in
    /// 34 s with those on Winograd, 19.5 s without, 21.4 s all direct, and its feature cache took
    /// 1.6-2.0 s against 0.8-1.2 s; ResNet-20 (8x8 stage included) 650 img/s against 570 direct;
    /// ResNet50's 7x7 stage runs about twice as fast as direct in inference (no measurable change in
    /// training).
    static func winogradPays(outHeight: Int, outWidth: Int) -> Bool { outHeight >= 7 && outWidth >= 7 }

    /// Whether oneDNN has f32 Winograd kernels on this CPU (oneDNN 2.6: AVX-512 only; elsewhere the
    /// Winograd rule runs direct everywhere).
    public static var hasWinogradKernels: Bool {
        let isa = dnnl_get_effective_cpu_isa().rawValue, avx512 = dnnl_cpu_isa_avx512_core.rawValue
        return isa & avx512 == avx512
    }

    /// `threads` is part of the key: oneDNN fixes a primitive's work split (and so the order of its
    /// partial sums) and its scratchpad size from the creating thread's OpenMP count.
    struct Key: Hashable { let g: Conv2DGeometry; let pass: Pass; let bias: Bool; let algorithm: Algorithm; let threads: Int }

    final class Cache: @unchecked Sendable {
        let lock = NSLock()
        var entries: [Key: DNNLConvPrimitive?] = [:]
    }
    static let cache = Cache()

    /// The cached primitive for this geometry and pass that runs on `threads` OpenMP threads (built on
    /// first use), or nil when oneDNN cannot provide one. It is built with the calling thread's OpenMP
    /// count set to `threads`, so which thread builds it first cannot change the bits it computes.
    static func primitive(_ g: Conv2DGeometry, _ pass: Pass, bias: Bool, algorithm: Algorithm,
                          threads: Int = Threads.count) -> DNNLConvPrimitive? {
        let key = Key(g: g, pass: pass, bias: bias, algorithm: algorithm, threads: max(1, threads))
        cache.lock.lock()
        defer { cache.lock.unlock() }
        if let hit = cache.entries[key] { return hit }
        let winograd = algorithm == .winograd && winogradShape(g)
        let made = DNNLContext.shared.flatMap { ctx in
            ctx.setOMPThreads?(Int32(key.threads))
            return (winograd ? try? DNNLConvPrimitive(g, pass, bias: bias, algorithm: dnnl_convolution_winograd, context: ctx) : nil)
                ?? (try? DNNLConvPrimitive(g, pass, bias: bias, algorithm: dnnl_convolution_direct, context: ctx))
        }
        cache.entries[key] = made
        return made
    }

    /// Whether oneDNN can run this pass (builds and caches the primitive).
    public static func supports(_ g: Conv2DGeometry, _ pass: Pass, bias: Bool = false, algorithm: Algorithm = .winograd) -> Bool {
        primitive(g, pass, bias: bias, algorithm: algorithm) != nil
    }

    /// Implementation name and blocked layouts oneDNN chose, e.g. "jit:avx2 src=aBcd8b wei=ABcd8b8a ...".
    public static func describe(_ g: Conv2DGeometry, _ pass: Pass, bias: Bool = false, algorithm: Algorithm = .winograd) -> String {
        primitive(g, pass, bias: bias, algorithm: algorithm)?.summary ?? "unsupported"
    }

    /// Splits the batch for `Threading.batch`: (images per slice, number of slices), aiming at
    /// `slicesPerWorker` slices per worker for dynamic balance (at least one image per slice); one
    /// slice when OpenMP threading is used or there is one thread.
    static func slices(_ g: Conv2DGeometry, threading: Threading, slicesPerWorker: Int = 4) -> (per: Int, count: Int) {
        let t = Threads.count
        guard threading == .batch, t > 1, g.batch > 1 else { return (g.batch, 1) }
        let per = max(1, g.batch / (slicesPerWorker * t))
        return (per, (g.batch + per - 1) / per)
    }

    /// Runs the pass slice by slice: `shared` arguments are the same for every slice (weights, bias);
    /// `perSlice(slice, firstImage)` gives the rest. A shared input that oneDNN wants blocked is
    /// reordered once per call, not once per slice. Returns false when oneDNN has no primitive.
    static func runSlices(_ g: Conv2DGeometry, _ pass: Pass, bias: Bool, algorithm: Algorithm, threading: Threading,
                          slicesPerWorker: Int = 4, shared: [Int32: UnsafeMutableRawPointer],
                          perSlice: (Int, Int) -> [Int32: UnsafeMutableRawPointer]) -> Bool {
        let (per, count) = slices(g, threading: threading, slicesPerWorker: slicesPerWorker)
        if count == 1 {
            guard let p = primitive(g, pass, bias: bias, algorithm: algorithm, threads: Threads.count) else { return false }
            p.execute(shared.merging(perSlice(0, 0)) { a, _ in a }, ompThreads: Threads.count)
            return true
        }
        var gFull = g; gFull.batch = per
        let tail = g.batch - per * (count - 1)
        var gTail = g; gTail.batch = tail
        guard let pFull = primitive(gFull, pass, bias: bias, algorithm: algorithm, threads: 1),
              let pTail = tail == per ? pFull : primitive(gTail, pass, bias: bias, algorithm: algorithm, threads: 1)
        else { return false }
        // Reorder shared blocked inputs once, when both slice primitives want the same layout.
        var sharedArgs = shared
        var preBlocked = Set<Int32>()
        var borrowed: [(pointer: UnsafeMutableRawPointer, bytes: Int)] = []
        defer { for b in borrowed { ScratchPool.shared.release(b) } }
        for (id, ptr) in shared {
            guard let full = pFull.blockedLayout(id) else { continue }
            if pTail !== pFull {
                guard var tailMD = pTail.blockedLayout(id)?.md else { continue }
                var fullMD = full.md
                if dnnl_memory_desc_equal(&fullMD, &tailMD) == 0 { continue }
            }
            let buf = ScratchPool.shared.acquire(bytes: full.bytes)
            borrowed.append(buf)
            pFull.reorderInput(id, from: ptr, to: buf.pointer, ompThreads: Threads.count)
            sharedArgs[id] = buf.pointer
            preBlocked.insert(id)
        }
        parallelFor(count) { i in
            let p = i == count - 1 ? pTail : pFull
            p.execute(sharedArgs.merging(perSlice(i, i * per)) { a, _ in a }, ompThreads: 1, preBlocked: preBlocked)
        }
        return true
    }

    @discardableResult
    static func forward(_ g: Conv2DGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>,
                        algorithm: Algorithm, threading: Threading) -> Bool {
        let inStride = g.inChannels * g.inHeight * g.inWidth, outStride = g.outChannels * g.outHeight * g.outWidth
        var shared: [Int32: UnsafeMutableRawPointer] = [DNNL_ARG_WEIGHTS: UnsafeMutableRawPointer(mutating: weight)]
        if let bias { shared[DNNL_ARG_BIAS] = UnsafeMutableRawPointer(mutating: bias) }
        return runSlices(g, .forward, bias: bias != nil, algorithm: algorithm, threading: threading, shared: shared) { _, b0 in
            [DNNL_ARG_SRC: UnsafeMutableRawPointer(mutating: input + b0 * inStride),
             DNNL_ARG_DST: UnsafeMutableRawPointer(output + b0 * outStride)]
        }
    }

    @discardableResult
    static func backwardData(_ g: Conv2DGeometry, dOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                             dInput: UnsafeMutablePointer<Float>, algorithm: Algorithm, threading: Threading) -> Bool {
        let inStride = g.inChannels * g.inHeight * g.inWidth, outStride = g.outChannels * g.outHeight * g.outWidth
        return runSlices(g, .backwardData, bias: false, algorithm: algorithm, threading: threading,
                         shared: [DNNL_ARG_WEIGHTS: UnsafeMutableRawPointer(mutating: weight)]) { _, b0 in
            [DNNL_ARG_DIFF_DST: UnsafeMutableRawPointer(mutating: dOutput + b0 * outStride),
             DNNL_ARG_DIFF_SRC: UnsafeMutableRawPointer(dInput + b0 * inStride)]
        }
    }

    @discardableResult
    static func backwardWeights(_ g: Conv2DGeometry, input: UnsafePointer<Float>, dOutput: UnsafePointer<Float>,
                                dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>?,
                                algorithm: Algorithm, threading: Threading) -> Bool {
        let inStride = g.inChannels * g.inHeight * g.inWidth, outStride = g.outChannels * g.outHeight * g.outWidth
        let wCount = g.outChannels * (g.inChannels / g.groups) * g.kernelHeight * g.kernelWidth
        let bCount = dBias == nil ? 0 : g.outChannels
        // One contiguous slice per worker: each slice writes a whole dW (partial sums, reorders), and
        // more, smaller slices measured slower (1x1 256-64: ~70-83 ms vs ~50-64 ms). But each slice
        // borrows blocked copies of its src and diff_dst, so large images are cut into slices of at
        // most ~32 MiB of those (VGG16 at 224: 8 images per worker would pin ~200 MiB per worker).
        let imageBytes = (inStride + outStride) * MemoryLayout<Float>.stride
        let perWorker = (g.batch + Threads.count - 1) / max(1, Threads.count)
        let slicesPerWorker = max(1, (perWorker * imageBytes + (32 << 20) - 1) / (32 << 20))
        let (_, count) = slices(g, threading: threading, slicesPerWorker: slicesPerWorker)
        // Slice 0 writes dWeight/dBias; the others write pooled partials, summed afterwards.
        let partialScratch = count > 1 ? ScratchPool.shared.acquire(bytes: (count - 1) * (wCount + bCount) * 4) : nil
        defer { if let partialScratch { ScratchPool.shared.release(partialScratch) } }
        let partials = partialScratch?.pointer.bindMemory(to: Float.self, capacity: (count - 1) * (wCount + bCount))
        let ok = runSlices(g, .backwardWeights, bias: dBias != nil, algorithm: algorithm, threading: threading,
                           slicesPerWorker: slicesPerWorker, shared: [:]) { i, b0 in
            let dw = i == 0 ? dWeight : partials! + (i - 1) * (wCount + bCount)
            var ptrs: [Int32: UnsafeMutableRawPointer] = [
                DNNL_ARG_SRC: UnsafeMutableRawPointer(mutating: input + b0 * inStride),
                DNNL_ARG_DIFF_DST: UnsafeMutableRawPointer(mutating: dOutput + b0 * outStride),
                DNNL_ARG_DIFF_WEIGHTS: UnsafeMutableRawPointer(dw)]
            if let dBias { ptrs[DNNL_ARG_DIFF_BIAS] = UnsafeMutableRawPointer(i == 0 ? dBias : dw + wCount) }
            return ptrs
        }
        if ok, let partials {
            parallelChunks(wCount, minChunk: 1 << 14) { r in
                for s in 1..<count {
                    let src = partials + (s - 1) * (wCount + bCount)
                    for j in r { dWeight[j] += src[j] }
                }
            }
            if let dBias {
                for s in 1..<count {
                    let src = partials + (s - 1) * (wCount + bCount) + wCount
                    for j in 0..<bCount { dBias[j] += src[j] }
                }
            }
        }
        return ok
    }

    /// Benchmark helper: converts the plain buffers once, then times `reps` runs of the convolution
    /// primitive alone on the blocked copies (what a network that stays in oneDNN's layout would pay).
    /// Returns seconds per run, or [] when oneDNN has no primitive for this pass.
    public static func timeKernelOnly(_ g: Conv2DGeometry, _ pass: Pass, buffers: [Int32: UnsafeMutableRawPointer],
                                      warmup: Int, reps: Int, algorithm: Algorithm = .winograd) -> [Double] {
        let bias = buffers[DNNL_ARG_BIAS] != nil || buffers[DNNL_ARG_DIFF_BIAS] != nil
        guard let p = primitive(g, pass, bias: bias, algorithm: algorithm) else { return [] }
        return p.execute(buffers, ompThreads: Threads.count, kernelWarmup: warmup, kernelReps: reps)
    }

    /// Argument ids re-exported for callers that do not import CDNNL.
    public static let argSrc = DNNL_ARG_SRC, argWeights = DNNL_ARG_WEIGHTS, argBias = DNNL_ARG_BIAS,
        argDst = DNNL_ARG_DST, argDiffSrc = DNNL_ARG_DIFF_SRC, argDiffDst = DNNL_ARG_DIFF_DST,
        argDiffWeights = DNNL_ARG_DIFF_WEIGHTS, argDiffBias = DNNL_ARG_DIFF_BIAS
}

/// One convolution pass with its reorders. Immutable after creation: memory objects are created per
/// call around the caller's pointers and pooled buffers, so several threads may execute it at once
/// (oneDNN primitives are thread-safe to execute; the scratchpad is user-provided per call).
final class DNNLConvPrimitive: @unchecked Sendable {
    /// One argument: its plain layout and, when oneDNN wants another, the blocked layout plus the reorder
    /// between them (plain -> blocked for inputs, blocked -> plain for outputs).
    struct Arg {
        let id: Int32
        let isOutput: Bool
        var plainMD: dnnl_memory_desc_t
        var blockedMD: dnnl_memory_desc_t?
        let reorder: Primitive?
        var reorderScratchpadMD: dnnl_memory_desc_t?
        let blockedBytes: Int
        let layout: String
    }

    let context: DNNLContext
    let pd: PrimitiveDesc
    let prim: Primitive
    let args: [Arg]
    let summary: String
    /// Bytes of the pooled buffer per call: blocked copies, then the (shared) scratchpad.
    let scratchBytes: Int
    let blockedBytes: Int
    let convScratchpadMD: dnnl_memory_desc_t?

    /// Every oneDNN object is made and owned by its own handle, so a throw at any step frees what was
    /// made before it.
    init(_ g: Conv2DGeometry, _ pass: DNNLConv.Pass, bias: Bool, algorithm: dnnl_alg_kind_t, context ctx: DNNLContext) throws {
        context = ctx
        let md = dnnlMemoryDesc
        let srcDims = g.inputShape, dstDims = g.outputShape
        let grouped = g.groups > 1
        let weiDims = grouped
            ? [g.groups, g.outChannels / g.groups, g.inChannels / g.groups, g.kernelHeight, g.kernelWidth]
            : g.weightShape
        let weiTag = grouped ? dnnl_goihw : dnnl_oihw
        var s = try md(srcDims, dnnl_format_tag_any), d = try md(dstDims, dnnl_format_tag_any)
        var w = try md(weiDims, dnnl_format_tag_any)
        var biasMD = try md([g.outChannels], dnnl_x)
        let strides: [Int64] = [Int64(g.strideH), Int64(g.strideW)]
        let padL: [Int64] = [Int64(g.padTop), Int64(g.padLeft)]
        let padR: [Int64] = [Int64(g.padBottom), Int64(g.padRight)]

        // User-managed scratchpads: each call passes a pooled one (see `PrimitiveAttr.userScratchpad`;
        // cached primitives run on GCD workers and in parallel tests).
        let attr = try PrimitiveAttr.userScratchpad()

        // Forward descriptor: the primitive itself for .forward, the hint for the backward passes.
        var fwdDesc = dnnl_convolution_desc_t()
        let needFwdBias = pass == .forward ? bias : false
        try withUnsafePointer(to: &biasMD) { b in
            try dnnlCheck(dnnl_convolution_forward_desc_init(&fwdDesc, dnnl_forward_training, algorithm,
                                                             &s, &w, needFwdBias ? b : nil, &d, strides, padL, padR),
                          "convolution_forward_desc_init")
        }
        let fwdPD = try PrimitiveDesc("primitive_desc_create \(pass)", op: &fwdDesc, attr: attr, engine: ctx.engine)
        switch pass {
        case .forward:
            pd = fwdPD
        case .backwardData:
            var desc = dnnl_convolution_desc_t()
            try dnnlCheck(dnnl_convolution_backward_data_desc_init(&desc, algorithm, &s, &w, &d,
                                                                   strides, padL, padR), "backward_data_desc_init")
            pd = try PrimitiveDesc("primitive_desc_create \(pass)", op: &desc, attr: attr, engine: ctx.engine, hint: fwdPD)
        case .backwardWeights:
            var desc = dnnl_convolution_desc_t()
            try withUnsafePointer(to: &biasMD) { b in
                try dnnlCheck(dnnl_convolution_backward_weights_desc_init(&desc, algorithm, &s, &w, bias ? b : nil, &d,
                                                                          strides, padL, padR),
                              "backward_weights_desc_init")
            }
            pd = try PrimitiveDesc("primitive_desc_create \(pass)", op: &desc, attr: attr, engine: ctx.engine, hint: fwdPD)
        }
        prim = try Primitive(pd, "primitive_create")
        var padBytes = pd.scratchpad?.bytes ?? 0
        convScratchpadMD = pd.scratchpad?.md

        // (argument, query, plain layout, is output)
        var specs: [(Int32, dnnl_query_t, dnnl_memory_desc_t, Bool)] = []
        let srcPlain = try md(srcDims, dnnl_nchw), dstPlain = try md(dstDims, dnnl_nchw)
        let weiPlain = try md(weiDims, weiTag)
        switch pass {
        case .forward:
            specs = [(DNNL_ARG_SRC, dnnl_query_src_md, srcPlain, false),
                     (DNNL_ARG_WEIGHTS, dnnl_query_weights_md, weiPlain, false),
                     (DNNL_ARG_DST, dnnl_query_dst_md, dstPlain, true)]
            if bias { specs.append((DNNL_ARG_BIAS, dnnl_query_weights_md, biasMD, false)) }
        case .backwardData:
            specs = [(DNNL_ARG_DIFF_DST, dnnl_query_diff_dst_md, dstPlain, false),
                     (DNNL_ARG_WEIGHTS, dnnl_query_weights_md, weiPlain, false),
                     (DNNL_ARG_DIFF_SRC, dnnl_query_diff_src_md, srcPlain, true)]
        case .backwardWeights:
            specs = [(DNNL_ARG_SRC, dnnl_query_src_md, srcPlain, false),
                     (DNNL_ARG_DIFF_DST, dnnl_query_diff_dst_md, dstPlain, false),
                     (DNNL_ARG_DIFF_WEIGHTS, dnnl_query_diff_weights_md, weiPlain, true)]
            if bias { specs.append((DNNL_ARG_DIFF_BIAS, dnnl_query_diff_weights_md, biasMD, true)) }
        }
        var total = 0
        var names: [String] = []
        var made: [Arg] = []
        for (id, query, plainIn, isOutput) in specs {
            var plain = plainIn
            // Bias lives at index 1 of the weights queries.
            let index: Int32 = (id == DNNL_ARG_BIAS || id == DNNL_ARG_DIFF_BIAS) ? 1 : 0
            guard var kernelMD = pd.memoryDesc(query, index) else {
                throw DNNLError(what: "query_md \(id)", status: dnnl_runtime_error)
            }
            if dnnl_memory_desc_equal(&plain, &kernelMD) != 0 {
                made.append(Arg(id: id, isOutput: isOutput, plainMD: plain, blockedMD: nil, reorder: nil,
                                reorderScratchpadMD: nil, blockedBytes: 0, layout: "plain"))
                continue
            }
            let rpd = try PrimitiveDesc.reorder(from: isOutput ? kernelMD : plain, to: isOutput ? plain : kernelMD,
                                                engine: ctx.engine, attr: attr, "reorder pd")
            let r = try Primitive(rpd, "reorder create")
            padBytes = max(padBytes, rpd.scratchpad?.bytes ?? 0)
            let bytes = (dnnl_memory_desc_get_size(&kernelMD) + 63) & ~63
            total += bytes
            made.append(Arg(id: id, isOutput: isOutput, plainMD: plain, blockedMD: kernelMD, reorder: r,
                            reorderScratchpadMD: rpd.scratchpad?.md, blockedBytes: bytes,
                            layout: DNNLConvPrimitive.layoutName(kernelMD)))
            names.append("\(DNNLConvPrimitive.argName(id))=\(made.last!.layout)")
        }
        args = made
        blockedBytes = total
        scratchBytes = total + ((padBytes + 63) & ~63)
        summary = ([pd.implementation] + (names.isEmpty ? ["all plain"] : names)).joined(separator: " ")
    }

    static func argName(_ id: Int32) -> String {
        switch id {
        case DNNL_ARG_SRC: "src"; case DNNL_ARG_WEIGHTS: "wei"; case DNNL_ARG_BIAS: "bias"; case DNNL_ARG_DST: "dst"
        case DNNL_ARG_DIFF_SRC: "diff_src"; case DNNL_ARG_DIFF_DST: "diff_dst"
        case DNNL_ARG_DIFF_WEIGHTS: "diff_wei"; case DNNL_ARG_DIFF_BIAS: "diff_bias"
        default: "arg\(id)"
        }
    }

    /// oneDNN-style layout name from the blocking descriptor, e.g. "aBcd8b" or "ABcd8b8a".
    static func layoutName(_ md: dnnl_memory_desc_t) -> String {
        guard md.format_kind == dnnl_blocked else { return "non-blocked" }
        let n = Int(md.ndims)
        var b = md.format_desc.blocking
        let strides = withUnsafeBytes(of: &b.strides) { Array($0.bindMemory(to: Int64.self).prefix(n)) }
        let nblks = Int(b.inner_nblks)
        let blks = withUnsafeBytes(of: &b.inner_blks) { Array($0.bindMemory(to: Int64.self).prefix(nblks)) }
        let idxs = withUnsafeBytes(of: &b.inner_idxs) { Array($0.bindMemory(to: Int64.self).prefix(nblks)) }
        let letters = Array("abcdefghijkl")
        let order = (0..<n).sorted { strides[$0] > strides[$1] || (strides[$0] == strides[$1] && $0 < $1) }
        var s = ""
        for d in order {
            let c = String(letters[d])
            s += idxs.contains(Int64(d)) ? c.uppercased() : c
        }
        for (blk, idx) in zip(blks, idxs) { s += "\(blk)\(letters[Int(idx)])" }
        return s
    }

    /// The blocked layout oneDNN wants for input `id`, or nil when it takes the plain layout.
    func blockedLayout(_ id: Int32) -> (md: dnnl_memory_desc_t, bytes: Int)? {
        guard let a = args.first(where: { $0.id == id }), let md = a.blockedMD else { return nil }
        return (md, a.blockedBytes)
    }

    /// Converts input `id` from the plain layout at `from` into the blocked layout at `to`.
    func reorderInput(_ id: Int32, from: UnsafeMutableRawPointer, to: UnsafeMutableRawPointer, ompThreads: Int) {
        guard let a = args.first(where: { $0.id == id }), let bmd = a.blockedMD, let r = a.reorder, !a.isOutput else { return }
        context.setOMPThreads?(Int32(ompThreads))
        let handles = DNNLMemoryHandles(engine: context.engine)
        defer { withExtendedLifetime(handles) {} }   // the memories must outlive every execute below
        func memory(_ md: dnnl_memory_desc_t, _ handle: UnsafeMutableRawPointer) -> dnnl_memory_t { handles.wrap(md, handle) }
        let padBytes = scratchBytes - blockedBytes
        let pad = padBytes > 0 ? ScratchPool.shared.acquire(bytes: padBytes) : nil
        defer { if let pad { ScratchPool.shared.release(pad) } }
        var ra = [dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: memory(a.plainMD, from)),
                  dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: memory(bmd, to))]
        if let smd = a.reorderScratchpadMD { ra.append(dnnl_exec_arg_t(arg: DNNL_ARG_SCRATCHPAD, memory: memory(smd, pad!.pointer))) }
        let st = dnnl_primitive_execute(r.handle, context.stream, Int32(ra.count), ra)
        check(st == dnnl_success, "DNNLConv reorder failed: \(String(cString: dnnl_status2str(st)))")
        dnnl_stream_wait(context.stream)
    }

    /// Runs reorders in, the convolution, reorders out, on `ompThreads` OpenMP threads. With
    /// kernelReps > 0 (benchmarks) the convolution alone is additionally timed `kernelReps` times after
    /// `kernelWarmup` untimed runs.
    @discardableResult
    func execute(_ pointers: [Int32: UnsafeMutableRawPointer], ompThreads: Int, preBlocked: Set<Int32> = [],
                 kernelWarmup: Int = 0, kernelReps: Int = 0) -> [Double] {
        context.setOMPThreads?(Int32(ompThreads))
        let scratch = scratchBytes > 0 ? ScratchPool.shared.acquire(bytes: scratchBytes) : nil
        defer { if let scratch { ScratchPool.shared.release(scratch) } }
        let handles = DNNLMemoryHandles(engine: context.engine)
        defer { withExtendedLifetime(handles) {} }   // the memories must outlive every execute below
        func memory(_ md: dnnl_memory_desc_t, _ handle: UnsafeMutableRawPointer) -> dnnl_memory_t { handles.wrap(md, handle) }
        let pad = scratch.map { $0.pointer + blockedBytes }
        var offset = 0
        var convArgs: [dnnl_exec_arg_t] = []
        var reordersIn: [(Primitive, [dnnl_exec_arg_t])] = [], reordersOut = reordersIn
        for a in args {
            guard let p = pointers[a.id] else { preconditionFailure("DNNLConv: missing argument \(a.id)") }
            if let bmd = a.blockedMD, preBlocked.contains(a.id) {
                // Already in the blocked layout (e.g. weights reordered once for all batch slices).
                convArgs.append(dnnl_exec_arg_t(arg: a.id, memory: memory(bmd, p))); continue
            }
            let user = memory(a.plainMD, p)
            guard let bmd = a.blockedMD, let r = a.reorder else {
                convArgs.append(dnnl_exec_arg_t(arg: a.id, memory: user)); continue
            }
            let blocked = memory(bmd, scratch!.pointer + offset)
            offset += a.blockedBytes
            convArgs.append(dnnl_exec_arg_t(arg: a.id, memory: blocked))
            var ra = [dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: a.isOutput ? blocked : user),
                      dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: a.isOutput ? user : blocked)]
            // Conv and reorders run one after another, so they share one scratchpad region.
            if let smd = a.reorderScratchpadMD { ra.append(dnnl_exec_arg_t(arg: DNNL_ARG_SCRATCHPAD, memory: memory(smd, pad!))) }
            if a.isOutput { reordersOut.append((r, ra)) } else { reordersIn.append((r, ra)) }
        }
        if let smd = convScratchpadMD { convArgs.append(dnnl_exec_arg_t(arg: DNNL_ARG_SCRATCHPAD, memory: memory(smd, pad!))) }
        func run(_ prim: Primitive, _ args: [dnnl_exec_arg_t]) {
            let st = dnnl_primitive_execute(prim.handle, context.stream, Int32(args.count), args)
            check(st == dnnl_success, "DNNLConv execute failed: \(String(cString: dnnl_status2str(st)))")
        }
        for (r, ra) in reordersIn { run(r, ra) }
        run(prim, convArgs)
        var times: [Double] = []
        if kernelReps > 0 {
            dnnl_stream_wait(context.stream)
            for _ in 0..<kernelWarmup { run(prim, convArgs) }
            for _ in 0..<kernelReps {
                let t0 = DispatchTime.now().uptimeNanoseconds
                run(prim, convArgs)
                dnnl_stream_wait(context.stream)
                times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
            }
        }
        for (r, ra) in reordersOut { run(r, ra) }
        dnnl_stream_wait(context.stream)
        return times
    }
}
