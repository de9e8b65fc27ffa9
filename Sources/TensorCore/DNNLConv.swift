import CDNNL
import Foundation

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

    struct Key: Hashable { let g: Conv2DGeometry; let pass: Pass; let bias: Bool }

    final class Cache: @unchecked Sendable {
        let lock = NSLock()
        var entries: [Key: DNNLConvPrimitive?] = [:]
    }
    static let cache = Cache()

    /// The cached primitive for this geometry and pass (built on first use), or nil when oneDNN
    /// cannot provide one.
    static func primitive(_ g: Conv2DGeometry, _ pass: Pass, bias: Bool) -> DNNLConvPrimitive? {
        let key = Key(g: g, pass: pass, bias: bias)
        cache.lock.lock()
        defer { cache.lock.unlock() }
        if let hit = cache.entries[key] { return hit }
        let made = DNNLContext.shared.flatMap { try? DNNLConvPrimitive(g, pass, bias: bias, context: $0) }
        cache.entries[key] = made
        return made
    }

    /// Whether oneDNN can run this pass (builds and caches the primitive).
    public static func supports(_ g: Conv2DGeometry, _ pass: Pass, bias: Bool = false) -> Bool {
        primitive(g, pass, bias: bias) != nil
    }

    /// Implementation name and blocked layouts oneDNN chose, e.g. "jit:avx2 src=aBcd8b wei=ABcd8b8a ...".
    public static func describe(_ g: Conv2DGeometry, _ pass: Pass, bias: Bool = false) -> String {
        primitive(g, pass, bias: bias)?.summary ?? "unsupported"
    }

    @discardableResult
    static func forward(_ g: Conv2DGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>) -> Bool {
        guard let p = primitive(g, .forward, bias: bias != nil) else { return false }
        var ptrs: [Int32: UnsafeMutableRawPointer] = [
            DNNL_ARG_SRC: UnsafeMutableRawPointer(mutating: input),
            DNNL_ARG_WEIGHTS: UnsafeMutableRawPointer(mutating: weight),
            DNNL_ARG_DST: UnsafeMutableRawPointer(output)]
        if let bias { ptrs[DNNL_ARG_BIAS] = UnsafeMutableRawPointer(mutating: bias) }
        p.execute(ptrs)
        return true
    }

    @discardableResult
    static func backwardData(_ g: Conv2DGeometry, dOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                             dInput: UnsafeMutablePointer<Float>) -> Bool {
        guard let p = primitive(g, .backwardData, bias: false) else { return false }
        p.execute([DNNL_ARG_DIFF_DST: UnsafeMutableRawPointer(mutating: dOutput),
                   DNNL_ARG_WEIGHTS: UnsafeMutableRawPointer(mutating: weight),
                   DNNL_ARG_DIFF_SRC: UnsafeMutableRawPointer(dInput)])
        return true
    }

    @discardableResult
    static func backwardWeights(_ g: Conv2DGeometry, input: UnsafePointer<Float>, dOutput: UnsafePointer<Float>,
                                dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>?) -> Bool {
        guard let p = primitive(g, .backwardWeights, bias: dBias != nil) else { return false }
        var ptrs: [Int32: UnsafeMutableRawPointer] = [
            DNNL_ARG_SRC: UnsafeMutableRawPointer(mutating: input),
            DNNL_ARG_DIFF_DST: UnsafeMutableRawPointer(mutating: dOutput),
            DNNL_ARG_DIFF_WEIGHTS: UnsafeMutableRawPointer(dWeight)]
        if let dBias { ptrs[DNNL_ARG_DIFF_BIAS] = UnsafeMutableRawPointer(dBias) }
        p.execute(ptrs)
        return true
    }

    /// Benchmark helper: converts the plain buffers once, then times `reps` runs of the convolution
    /// primitive alone on the blocked copies (what a network that stays in oneDNN's layout would pay).
    /// Returns seconds per run, or [] when oneDNN has no primitive for this pass.
    public static func timeKernelOnly(_ g: Conv2DGeometry, _ pass: Pass, buffers: [Int32: UnsafeMutableRawPointer],
                                      warmup: Int, reps: Int) -> [Double] {
        let bias = buffers[DNNL_ARG_BIAS] != nil || buffers[DNNL_ARG_DIFF_BIAS] != nil
        guard let p = primitive(g, pass, bias: bias) else { return [] }
        return p.execute(buffers, kernelWarmup: warmup, kernelReps: reps)
    }

    /// Argument ids re-exported for callers that do not import CDNNL.
    public static let argSrc = DNNL_ARG_SRC, argWeights = DNNL_ARG_WEIGHTS, argBias = DNNL_ARG_BIAS,
        argDst = DNNL_ARG_DST, argDiffSrc = DNNL_ARG_DIFF_SRC, argDiffDst = DNNL_ARG_DIFF_DST,
        argDiffWeights = DNNL_ARG_DIFF_WEIGHTS, argDiffBias = DNNL_ARG_DIFF_BIAS
}

struct DNNLError: Error, CustomStringConvertible {
    let what: String, status: dnnl_status_t
    var description: String { "\(what): \(String(cString: dnnl_status2str(status)))" }
}

@inline(__always) func dnnlCheck(_ s: dnnl_status_t, _ what: @autoclosure () -> String) throws {
    if s != dnnl_success { throw DNNLError(what: what(), status: s) }
}

/// The CPU engine and one in-order stream, created once.
final class DNNLContext: @unchecked Sendable {
    static let shared: DNNLContext? = DNNLContext()
    let engine: dnnl_engine_t
    let stream: dnnl_stream_t
    /// oneDNN (OpenMP build) sizes its thread team from the calling thread's OpenMP ICV; set it to
    /// `Threads.count` before each call, via libgomp's `omp_set_num_threads` (no omp.h in the shim).
    let setOMPThreads: (@convention(c) (Int32) -> Void)?

    private init?() {
        var e: dnnl_engine_t?
        guard dnnl_engine_create(&e, dnnl_cpu, 0) == dnnl_success, let e else { return nil }
        var s: dnnl_stream_t?
        guard dnnl_stream_create(&s, e, dnnl_stream_default_flags.rawValue) == dnnl_success, let s else {
            dnnl_engine_destroy(e); return nil
        }
        engine = e; stream = s
        if let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "omp_set_num_threads") {
            setOMPThreads = unsafeBitCast(sym, to: (@convention(c) (Int32) -> Void).self)
        } else {
            setOMPThreads = nil
        }
    }
}

/// One convolution pass with its reorders. Execution is serialised per primitive (the memory objects
/// carry per-call data handles).
final class DNNLConvPrimitive: @unchecked Sendable {
    /// One argument: the plain (user) memory and, when oneDNN wants another layout, a blocked memory
    /// plus the reorder between them (plain -> blocked for inputs, blocked -> plain for outputs).
    struct Arg {
        let id: Int32
        let isOutput: Bool
        let user: dnnl_memory_t
        let blocked: dnnl_memory_t?
        let reorder: dnnl_primitive_t?
        let reorderScratchpad: dnnl_memory_t?
        let blockedBytes: Int
        let layout: String
    }

    let context: DNNLContext
    let pd: dnnl_primitive_desc_t
    let prim: dnnl_primitive_t
    var args: [Arg] = []
    let lock = NSLock()
    let summary: String
    /// Bytes of the pooled buffer per call: blocked copies, then the (shared) scratchpad.
    let scratchBytes: Int
    let blockedBytes: Int
    var convScratchpad: dnnl_memory_t?

    init(_ g: Conv2DGeometry, _ pass: DNNLConv.Pass, bias: Bool, context ctx: DNNLContext) throws {
        context = ctx
        func md(_ dims: [Int], _ tag: dnnl_format_tag_t) throws -> dnnl_memory_desc_t {
            var d = dnnl_memory_desc_t()
            try dnnlCheck(dnnl_memory_desc_init_by_tag(&d, Int32(dims.count), dims.map(Int64.init), dnnl_f32, tag),
                          "memory_desc_init \(dims)")
            return d
        }
        let srcDims = g.inputShape, dstDims = g.outputShape
        let grouped = g.groups > 1
        let weiDims = grouped
            ? [g.groups, g.outChannels / g.groups, g.inChannels / g.groups, g.kernelHeight, g.kernelWidth]
            : g.weightShape
        let weiTag = grouped ? dnnl_goihw : dnnl_oihw
        let srcAny = try md(srcDims, dnnl_format_tag_any), dstAny = try md(dstDims, dnnl_format_tag_any)
        let weiAny = try md(weiDims, dnnl_format_tag_any)
        let biasMD = try md([g.outChannels], dnnl_x)
        let biasBox = UnsafeMutablePointer<dnnl_memory_desc_t>.allocate(capacity: 1)
        biasBox.initialize(to: biasMD)
        defer { biasBox.deallocate() }
        let strides: [Int64] = [Int64(g.strideH), Int64(g.strideW)]
        let padL: [Int64] = [Int64(g.padTop), Int64(g.padLeft)]
        let padR: [Int64] = [Int64(g.padBottom), Int64(g.padRight)]

        // User-managed scratchpads: oneDNN 2.x's library scratchpad is thread_local and sized when a
        // primitive is created, so running a cached primitive on another thread (GCD workers, parallel
        // tests) wrote through a null pointer. Each call now passes a pooled scratchpad.
        var attrHandle: dnnl_primitive_attr_t?
        try dnnlCheck(dnnl_primitive_attr_create(&attrHandle), "primitive_attr_create")
        let attr = attrHandle!
        defer { dnnl_primitive_attr_destroy(attr) }
        try dnnlCheck(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "set_scratchpad_mode")

        func makePD(_ desc: inout dnnl_convolution_desc_t, hint: dnnl_primitive_desc_t?) throws -> dnnl_primitive_desc_t {
            var pd: dnnl_primitive_desc_t?
            try dnnlCheck(withUnsafePointer(to: &desc) { dnnl_primitive_desc_create(&pd, $0, attr, ctx.engine, hint) },
                          "primitive_desc_create \(pass)")
            return pd!
        }
        // Forward descriptor: the primitive itself for .forward, the hint for the backward passes.
        var fwdDesc = dnnl_convolution_desc_t()
        var s = srcAny, w = weiAny, d = dstAny
        let needFwdBias = pass == .forward ? bias : false
        try dnnlCheck(dnnl_convolution_forward_desc_init(&fwdDesc, dnnl_forward_training, dnnl_convolution_direct,
                                                         &s, &w, needFwdBias ? UnsafePointer(biasBox) : nil, &d, strides, padL, padR),
                      "convolution_forward_desc_init")
        let fwdPD = try makePD(&fwdDesc, hint: nil)
        switch pass {
        case .forward:
            pd = fwdPD
        case .backwardData:
            defer { dnnl_primitive_desc_destroy(fwdPD) }
            var desc = dnnl_convolution_desc_t()
            try dnnlCheck(dnnl_convolution_backward_data_desc_init(&desc, dnnl_convolution_direct, &s, &w, &d,
                                                                   strides, padL, padR), "backward_data_desc_init")
            pd = try makePD(&desc, hint: fwdPD)
        case .backwardWeights:
            defer { dnnl_primitive_desc_destroy(fwdPD) }
            var desc = dnnl_convolution_desc_t()
            try dnnlCheck(dnnl_convolution_backward_weights_desc_init(&desc, dnnl_convolution_direct, &s, &w,
                                                                      bias ? UnsafePointer(biasBox) : nil, &d, strides, padL, padR),
                          "backward_weights_desc_init")
            pd = try makePD(&desc, hint: fwdPD)
        }
        var p: dnnl_primitive_t?
        try dnnlCheck(dnnl_primitive_create(&p, pd), "primitive_create")
        prim = p!
        var padBytes = 0
        func scratchpadMemory(_ pd: dnnl_primitive_desc_t) throws -> dnnl_memory_t? {
            guard let q = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0) else { return nil }
            var m = q.pointee
            let size = dnnl_memory_desc_get_size(&m)
            if size == 0 { return nil }
            padBytes = max(padBytes, size)
            var mem: dnnl_memory_t?
            try dnnlCheck(dnnl_memory_create(&mem, &m, ctx.engine, nil), "scratchpad memory_create")
            return mem
        }
        convScratchpad = try scratchpadMemory(pd)

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
        for (id, query, plainIn, isOutput) in specs {
            var plain = plainIn
            // Bias lives at index 1 of the weights queries.
            let index: Int32 = (id == DNNL_ARG_BIAS || id == DNNL_ARG_DIFF_BIAS) ? 1 : 0
            guard let want = dnnl_primitive_desc_query_md(pd, query, index) else {
                throw DNNLError(what: "query_md \(id)", status: dnnl_runtime_error)
            }
            var kernelMD = want.pointee
            var user: dnnl_memory_t?
            try dnnlCheck(dnnl_memory_create(&user, &plain, ctx.engine, nil), "memory_create")
            if dnnl_memory_desc_equal(&plain, &kernelMD) != 0 {
                args.append(Arg(id: id, isOutput: isOutput, user: user!, blocked: nil, reorder: nil, reorderScratchpad: nil,
                                blockedBytes: 0, layout: "plain"))
                continue
            }
            var blocked: dnnl_memory_t?
            try dnnlCheck(dnnl_memory_create(&blocked, &kernelMD, ctx.engine, nil), "memory_create blocked")
            var rpd: dnnl_primitive_desc_t?
            if isOutput {
                try dnnlCheck(dnnl_reorder_primitive_desc_create(&rpd, &kernelMD, ctx.engine, &plain, ctx.engine, attr),
                              "reorder pd")
            } else {
                try dnnlCheck(dnnl_reorder_primitive_desc_create(&rpd, &plain, ctx.engine, &kernelMD, ctx.engine, attr),
                              "reorder pd")
            }
            var r: dnnl_primitive_t?
            try dnnlCheck(dnnl_primitive_create(&r, rpd), "reorder create")
            let rpad = try scratchpadMemory(rpd!)
            dnnl_primitive_desc_destroy(rpd)
            let bytes = (dnnl_memory_desc_get_size(&kernelMD) + 63) & ~63
            total += bytes
            args.append(Arg(id: id, isOutput: isOutput, user: user!, blocked: blocked!, reorder: r!, reorderScratchpad: rpad,
                            blockedBytes: bytes, layout: DNNLConvPrimitive.layoutName(kernelMD)))
            names.append("\(DNNLConvPrimitive.argName(id))=\(args.last!.layout)")
        }
        blockedBytes = total
        scratchBytes = total + ((padBytes + 63) & ~63)
        var impl: UnsafePointer<CChar>?
        let pdLocal = pd
        _ = withUnsafeMutablePointer(to: &impl) { dnnl_primitive_desc_query(pdLocal, dnnl_query_impl_info_str, 0, $0) }
        let implName = impl.map { String(cString: $0) } ?? "?"
        summary = ([implName] + (names.isEmpty ? ["all plain"] : names)).joined(separator: " ")
    }

    deinit {
        for a in args {
            dnnl_memory_destroy(a.user)
            if let b = a.blocked { dnnl_memory_destroy(b) }
            if let r = a.reorder { dnnl_primitive_destroy(r) }
            if let m = a.reorderScratchpad { dnnl_memory_destroy(m) }
        }
        if let m = convScratchpad { dnnl_memory_destroy(m) }
        dnnl_primitive_destroy(prim)
        dnnl_primitive_desc_destroy(pd)
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

    /// Runs reorders in, the convolution, reorders out. With kernelReps > 0 (benchmarks) the
    /// convolution alone is additionally timed `kernelReps` times after `kernelWarmup` untimed runs.
    @discardableResult
    func execute(_ pointers: [Int32: UnsafeMutableRawPointer], kernelWarmup: Int = 0, kernelReps: Int = 0) -> [Double] {
        lock.lock()
        defer { lock.unlock() }
        context.setOMPThreads?(Int32(Threads.count))
        let scratch = scratchBytes > 0 ? ScratchPool.shared.acquire(bytes: scratchBytes) : nil
        defer { if let scratch { ScratchPool.shared.release(scratch) } }
        var offset = 0
        var convArgs: [dnnl_exec_arg_t] = []
        for a in args {
            guard let p = pointers[a.id] else { preconditionFailure("DNNLConv: missing argument \(a.id)") }
            dnnl_memory_set_data_handle(a.user, p)
            if let b = a.blocked {
                dnnl_memory_set_data_handle(b, scratch!.pointer + offset)
                offset += a.blockedBytes
                convArgs.append(dnnl_exec_arg_t(arg: a.id, memory: b))
            } else {
                convArgs.append(dnnl_exec_arg_t(arg: a.id, memory: a.user))
            }
        }
        // Scratchpads (conv and reorders run one after another, so they share one region).
        let pad = scratch.map { $0.pointer + blockedBytes }
        if let m = convScratchpad {
            dnnl_memory_set_data_handle(m, pad!)
            convArgs.append(dnnl_exec_arg_t(arg: DNNL_ARG_SCRATCHPAD, memory: m))
        }
        func reorder(_ a: Arg) {
            let from = a.isOutput ? a.blocked! : a.user, to = a.isOutput ? a.user : a.blocked!
            var ra = [dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: from), dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: to)]
            if let m = a.reorderScratchpad {
                dnnl_memory_set_data_handle(m, pad!)
                ra.append(dnnl_exec_arg_t(arg: DNNL_ARG_SCRATCHPAD, memory: m))
            }
            let st = dnnl_primitive_execute(a.reorder!, context.stream, Int32(ra.count), ra)
            precondition(st == dnnl_success, "DNNLConv reorder failed: \(String(cString: dnnl_status2str(st)))")
        }
        func runConv() {
            let st = dnnl_primitive_execute(prim, context.stream, Int32(convArgs.count), convArgs)
            precondition(st == dnnl_success, "DNNLConv execute failed: \(String(cString: dnnl_status2str(st)))")
        }
        for a in args where !a.isOutput && a.reorder != nil { reorder(a) }
        runConv()
        var times: [Double] = []
        if kernelReps > 0 {
            dnnl_stream_wait(context.stream)
            for _ in 0..<kernelWarmup { runConv() }
            for _ in 0..<kernelReps {
                let t0 = DispatchTime.now().uptimeNanoseconds
                runConv()
                dnnl_stream_wait(context.stream)
                times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
            }
        }
        for a in args where a.isOutput && a.reorder != nil { reorder(a) }
        dnnl_stream_wait(context.stream)
        return times
    }
}
