import CDNNL
import Foundation
import TensorCore

/// A `DNNLInferenceGraph` compiled for one batch size: one oneDNN primitive per op, activations kept
/// in one blocked layout (`DNNLInferenceNet.Layout`, nChw16c on AVX-512), weights reordered once
/// (shared by the net's programs), and a fixed set of activation buffers allocated here and reused
/// from op to op (a value's buffer goes to a later value once its last reader has run; a residual sum
/// accumulates in place into the shortcut's buffer). Only the entry (plain NCHW -> the first op's
/// layout, when it differs) and the exit (-> plain NCHW) reorder activations.
///
/// Not thread-safe: one `run` at a time per program (the buffers are the program's own).
final class DNNLInferenceProgram {
    private enum Buffer { case input, output, slot(Int), owned(Int), scratchpad }
    private struct Arg { let id: Int32; let md: dnnl_memory_desc_t; let buffer: Buffer }
    private struct Step { let prim: Primitive; let args: [Arg]; let what: String }

    let batch: Int
    /// OpenMP threads the primitives were created for and run with.
    let ompThreads: Int
    private let context: DNNLContext
    private var steps: [Step] = []
    private var slotBytes: [Int] = []
    private var slots: [UnsafeMutableRawPointer] = []
    /// Reordered weights and biases, shared with the net's other programs (`DNNLInferenceWeights`).
    private var owned: [DNNLInferenceWeights.Buffer] = []
    private let weights: DNNLInferenceWeights
    private var scratchBytes = 0
    private var scratch: UnsafeMutableRawPointer?
    private var memories: [Memory] = []
    private var execArgs: [[dnnl_exec_arg_t]] = []
    private var inputMemories: [dnnl_memory_t] = [], outputMemories: [dnnl_memory_t] = []
    /// One line per step: primitive implementation and layouts (for `describe`).
    private(set) var lines: [String] = []
    /// Multiply-adds of each step (0 for everything but convolutions).
    private(set) var stepMACs: [Double] = []
    /// Activation reorders the plan runs per call (entry, exit, and any layout mismatch inside).
    private(set) var activationReorders = 0

    private let layout: DNNLInferenceNet.Layout
    private let fuseDepthwise: Bool
    private let precision: InferencePrecision
    private let bf16Layers: InferenceBF16Layers
    /// 1x1 convolutions that run with the following depthwise convolution as one primitive.
    private(set) var fusedDepthwise = 0
    /// Convolutions by number format and algorithm (a fused 1x1 + depthwise pair counts once).
    private(set) var convPaths = DNNLConvPathCounts()

    init(_ graph: DNNLInferenceGraph, output: DNNLInferenceGraph.Value, batch: Int, ompThreads: Int,
         algorithm: DNNLInferenceNet.ConvAlgorithm, layout: DNNLInferenceNet.Layout, fuseDepthwise: Bool = true,
         precision: InferencePrecision = .fp32, bf16Layers: InferenceBF16Layers = .fastest,
         weights: DNNLInferenceWeights, context: DNNLContext) throws {
        self.batch = batch
        self.ompThreads = max(1, ompThreads)
        // Primitives size their scratchpads for the calling thread's OpenMP threads at creation.
        context.setOMPThreads?(Int32(self.ompThreads))
        self.context = context
        self.weights = weights
        self.layout = layout
        self.fuseDepthwise = fuseDepthwise
        self.precision = precision
        self.bf16Layers = bf16Layers
        do {
            try build(graph, output: output, algorithm: algorithm)
        } catch {
            release()
            throw error
        }
    }

    deinit { release() }

    private func release() {
        memories = []; inputMemories = []; outputMemories = []; execArgs = []
        steps = []
        for p in slots { p.deallocate() }
        slots = []; owned = []
        scratch?.deallocate(); scratch = nil
    }

    // MARK: Building

    private func md(_ dims: [Int], _ tag: dnnl_format_tag_t, _ dataType: dnnl_data_type_t = dnnl_f32) throws -> dnnl_memory_desc_t {
        try dnnlTypedMemoryDesc(dataType, dims, tag)
    }

    private static func bytes(_ m: dnnl_memory_desc_t) -> Int {
        var m = m
        return (dnnl_memory_desc_get_size(&m) + 63) & ~63
    }

    private static func equal(_ a: dnnl_memory_desc_t, _ b: dnnl_memory_desc_t) -> Bool {
        var a = a, b = b
        return dnnl_memory_desc_equal(&a, &b) != 0
    }

    /// `depthwise`: (stride, top/left padding, weights and output type) of a 3x3 depthwise convolution
    /// fused after `post` (fp32 bias); `postSum` then applies to its output.
    private func makeAttr(post: [DNNLInferenceGraph.Eltwise], sum: Bool, postSum: [DNNLInferenceGraph.Eltwise],
                          depthwise: (stride: Int, pad: Int, dataType: dnnl_data_type_t)? = nil) throws -> PrimitiveAttr {
        // User scratchpad: one buffer of the program serves every step (they run one after another).
        let attr = try PrimitiveAttr.userScratchpad()
        if !post.isEmpty || sum || !postSum.isEmpty || depthwise != nil {
            let p = try PostOps()
            for e in post { try dnnlCheck(Self.appendEltwise(p.handle, e), "post_ops eltwise") }
            if sum { try dnnlCheck(dnnl_post_ops_append_sum(p.handle, 1), "post_ops sum") }
            if let dw = depthwise {
                var one: Float = 1   // a common output scale of 1
                try dnnlCheck(dnnl_post_ops_append_dw(p.handle, dw.dataType, dnnl_f32, dw.dataType, 3, Int64(dw.stride), Int64(dw.pad),
                                                      1, 0, &one), "post_ops dw")
            }
            for e in postSum { try dnnlCheck(Self.appendEltwise(p.handle, e), "post_ops eltwise") }
            try dnnlCheck(dnnl_primitive_attr_set_post_ops(attr.handle, p.handle), "set_post_ops")
        }
        return attr
    }

    static func eltwiseParameters(_ e: DNNLInferenceGraph.Eltwise) -> (dnnl_alg_kind_t, Float, Float) {
        switch e {
        case let .relu(alpha): (dnnl_eltwise_relu, alpha, 0)
        case let .elu(alpha): (dnnl_eltwise_elu, alpha, 0)
        case let .clip(lower, upper): (dnnl_eltwise_clip, lower, upper)
        case .tanh: (dnnl_eltwise_tanh, 0, 0)
        case .logistic: (dnnl_eltwise_logistic, 0, 0)
        case .abs: (dnnl_eltwise_abs, 0, 0)
        }
    }

    private static func appendEltwise(_ p: dnnl_post_ops_t, _ e: DNNLInferenceGraph.Eltwise) -> dnnl_status_t {
        let (alg, alpha, beta) = eltwiseParameters(e)
        return dnnl_post_ops_append_eltwise(p, 1, alg, alpha, beta)
    }

    /// Whether an implementation runs jitted kernels: oneDNN 2.6 offers the f32 depthwise fusion on
    /// AVX-512 as a fused `jit_1x1` kernel for some shapes and otherwise as
    /// `ref_fused_convolution:any:jit_1x1:...:jit_dw:...`, a wrapper running the two jitted primitives
    /// one after the other through its scratchpad; `ref:any` alone is the slow reference kernel.
    static func jitted(_ implementation: String) -> Bool {
        !implementation.hasPrefix("ref") || (implementation.hasPrefix("ref_fused") && !implementation.contains(":ref"))
    }

    /// Creates a primitive descriptor from an op descriptor; nil when oneDNN has no implementation.
    private func makePD<D>(_ desc: inout D, _ attr: PrimitiveAttr) -> PrimitiveDesc? {
        try? PrimitiveDesc("primitive_desc_create", op: &desc, attr: attr, engine: context.engine)
    }

    private func query(_ pd: PrimitiveDesc, _ what: dnnl_query_t, _ index: Int32 = 0) throws -> dnnl_memory_desc_t {
        guard let m = pd.memoryDesc(what, index) else { throw DNNLInferenceError.unavailable("query_md \(what)") }
        return m
    }

    /// Makes the primitive of `pd`, records the step and the scratchpad it needs.
    private func addStep(_ pd: PrimitiveDesc, _ args: [Arg], _ what: String, macs: Double = 0) throws {
        let p = try Primitive(pd, "primitive_create \(what)")
        var all = args
        if let s = pd.scratchpad {
            scratchBytes = max(scratchBytes, Self.bytes(s.md))
            all.append(Arg(id: DNNL_ARG_SCRATCHPAD, md: s.md, buffer: .scratchpad))
        }
        steps.append(Step(prim: p, args: all, what: what))
        lines.append("\(what): \(pd.implementation)")
        stepMACs.append(macs)
    }

    /// A reorder between two layouts of the same activation, as a step of the program.
    private func addReorder(from: dnnl_memory_desc_t, _ src: Buffer, to: dnnl_memory_desc_t, _ dst: Buffer, _ what: String) throws {
        let attr = try makeAttr(post: [], sum: false, postSum: [])
        let rpd = try PrimitiveDesc.reorder(from: from, to: to, engine: context.engine, attr: attr, "reorder \(what)")
        try addStep(rpd, [Arg(id: DNNL_ARG_FROM, md: from, buffer: src), Arg(id: DNNL_ARG_TO, md: to, buffer: dst)],
                    "reorder \(what) \(DNNLConvPrimitive.layoutName(from)) -> \(DNNLConvPrimitive.layoutName(to))")
        activationReorders += 1
    }

    /// `values` (plain layout `plain`) in layout `want`: the net's shared copy for this key and layout,
    /// made here when this is the first program to ask.
    private func ownedCopy(_ values: UnsafeRawBufferPointer, plain: dnnl_memory_desc_t, want: dnnl_memory_desc_t, key: Int) throws -> Int {
        owned.append(try weights.buffer(key: key, md: want, bytes: max(64, Self.bytes(want))) { dst in
            try reorder(values, plain: plain, want: want, into: dst)
        })
        return owned.count - 1
    }

    /// `values` (plain layout `plain`, only read) into `dst` in layout `want`.
    private func reorder(_ values: UnsafeRawBufferPointer, plain: dnnl_memory_desc_t, want: dnnl_memory_desc_t,
                         into dst: UnsafeMutableRawPointer) throws {
        if Self.equal(plain, want) {
            dst.copyMemory(from: values.baseAddress!, byteCount: values.count)
            return
        }
        let src = UnsafeMutableRawPointer(mutating: values.baseAddress!)
        let rpd = try PrimitiveDesc.reorder(from: plain, to: want, engine: context.engine, attr: nil, "weights reorder")
        let r = try Primitive(rpd, "weights reorder create")
        let handles = DNNLMemoryHandles(engine: context.engine)
        let args = [dnnl_exec_arg_t(arg: DNNL_ARG_FROM, memory: handles.wrap(plain, src)),
                    dnnl_exec_arg_t(arg: DNNL_ARG_TO, memory: handles.wrap(want, dst))]
        try withExtendedLifetime(handles) {   // the memory objects live until the reorder has run
            try dnnlCheck(dnnl_primitive_execute(r.handle, context.stream, 2, args), "weights reorder execute")
            dnnl_stream_wait(context.stream)
        }
    }

    private func build(_ graph: DNNLInferenceGraph, output: DNNLInferenceGraph.Value,
                       algorithm: DNNLInferenceNet.ConvAlgorithm) throws {
        typealias Value = DNNLInferenceGraph.Value
        let ops = graph.ops
        let n = batch
        // Last op reading each value; the output is read by the exit reorder (index ops.count).
        var lastUse = [Int](repeating: -1, count: ops.count + 1)
        for (i, op) in ops.enumerated() { for v in op.inputs { lastUse[v] = i } }
        lastUse[output] = ops.count
        var valueMD: [Value: dnnl_memory_desc_t] = [:]
        var valueBuffer: [Value: Buffer] = [:]
        valueMD[0] = try md([n] + graph.shapes[0], dnnl_nchw)
        valueBuffer[0] = .input
        var freeSlots: [Int] = []
        func allocate(_ bytes: Int) -> Buffer {
            // Best fit among free buffers, else grow the largest free one, else a new buffer.
            let fits = freeSlots.filter { slotBytes[$0] >= bytes }
            let pick = fits.min { slotBytes[$0] < slotBytes[$1] } ?? freeSlots.max { slotBytes[$0] < slotBytes[$1] }
            if let s = pick {
                freeSlots.removeAll { $0 == s }
                slotBytes[s] = max(slotBytes[s], bytes)
                return .slot(s)
            }
            slotBytes.append(bytes)
            return .slot(slotBytes.count - 1)
        }
        func releaseDead(after i: Int, keep: Buffer? = nil) {
            for v in Set(ops[i].inputs) where lastUse[v] == i {
                guard case let .slot(s)? = valueBuffer[v] else { continue }
                if case let .slot(k)? = keep, k == s { continue }
                freeSlots.append(s)
            }
        }
        func inPlace(_ v: Value, at i: Int, _ want: dnnl_memory_desc_t) -> Buffer? {
            guard lastUse[v] == i, case .slot? = valueBuffer[v], let m = valueMD[v], Self.equal(m, want),
                  ops[i].inputs.filter({ $0 == v }).count == 1 else { return nil }
            return valueBuffer[v]
        }

        /// A 1x1 convolution `c` (op i) and the 3x3 depthwise convolution `d` (op i + 1, the only reader
        /// of its output) as one primitive; false when they do not qualify or oneDNN has no such fusion
        /// (then they run as two).
        func fuseWithDepthwise(_ i: Int, _ c: DNNLInferenceGraph.Conv) throws -> Bool {
            guard fuseDepthwise, i + 1 < ops.count, case let .conv(d) = ops[i + 1], d.input == i + 1,
                  lastUse[i + 1] == i + 1, output != i + 1, c.sum == nil, d.sum == nil, c.groups == 1,
                  c.window.kh == 1, c.window.kw == 1, c.window.sh == 1, c.window.sw == 1,
                  c.window.top == 0, c.window.bottom == 0, c.window.left == 0, c.window.right == 0,
                  d.groups == c.outChannels, d.outChannels == c.outChannels, d.window.kh == 3, d.window.kw == 3,
                  d.window.sh == d.window.sw, d.window.sh <= 2, d.window.top == d.window.left else { return false }
            let inShape = graph.shapes[c.input], dwDims = [n] + graph.shapes[i + 2]
            let srcActual = valueMD[c.input]!
            var bias = try md([c.outChannels], dnnl_x)
            /// The fused primitive in number format `dt` for `images` images; nil: no jitted one.
            func fusedPD(_ dt: dnnl_data_type_t, images: Int) throws -> PrimitiveDesc? {
                guard let attr = try? makeAttr(post: c.post, sum: false, postSum: d.post, depthwise: (d.window.sh, d.window.top, dt)) else { return nil }
                var wei = try md([c.outChannels, inShape[0], 1, 1], dnnl_format_tag_any, dt)
                let anySrc = try md([images] + inShape, dnnl_format_tag_any, dt)
                for s in images == n ? [DNNLInferencePrecision.retyped(srcActual, dt), anySrc] : [anySrc] {
                    var s = s, dst = try md([images] + graph.shapes[i + 1], dnnl_format_tag_any, dt), desc = dnnl_convolution_desc_t()
                    guard dnnl_convolution_forward_desc_init(&desc, dnnl_forward_inference, dnnl_convolution_direct, &s, &wei, &bias, &dst,
                                                             [1, 1], [0, 0], [0, 0]) == dnnl_success,
                          let pd = PrimitiveDesc.implementations(op: &desc, attr: attr, engine: context.engine).first(where: {
                              Self.jitted($0.implementation) }) else { continue }
                    return pd
                }
                return nil
            }
            var made: PrimitiveDesc?, madeType = dnnl_f32, choiceNote = ""
            for dt in DNNLInferencePrecision.fusedDataTypes(precision) where made == nil {
                if let pd = try fusedPD(dt, images: n) { made = pd; madeType = dt }
            }
            if madeType == dnnl_bf16, bf16Layers == .fastest, let fp32 = try fusedPD(dnnl_f32, images: n) {
                let dw = DNNL_ARG_ATTR_POST_OP_DW
                let choice = try weights.choice(key: 2 * i + 1) {
                    try DNNLPrecisionChoice.timed(bf16: { try fusedPD(dnnl_bf16, images: 1) }, fp32: { try fusedPD(dnnl_f32, images: 1) },
                                                  arguments: [DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST,
                                                              dw | DNNL_ARG_WEIGHTS, dw | DNNL_ARG_BIAS], context: context)
                }
                if let choice, !choice.bf16 { made = fp32; madeType = dnnl_f32 }
                choiceNote = choice?.note ?? ""
            }
            guard let pd = made, let dstMD = pd.memoryDesc(dnnl_query_dst_md),
                  let dwWeiMD = pd.memoryDesc(dnnl_query_exec_arg_md, DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_WEIGHTS),
                  let dwBiasMD = pd.memoryDesc(dnnl_query_exec_arg_md, DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_BIAS) else { return false }
            // oneDNN derives the depthwise output size (ceil(H / stride)); it must be the graph's.
            let dims = withUnsafeBytes(of: dstMD.dims) { raw in (0..<Int(dstMD.ndims)).map { Int(raw.load(fromByteOffset: $0 * 8, as: Int64.self)) } }
            guard dims == dwDims else { return false }
            let (srcMD, weiMD, biasMD, srcBuffer, temp) = try convInputs(pd, c, at: i)
            let w = try c.weight.withUnsafeBufferPointer {
                try ownedCopy(UnsafeRawBufferPointer($0), plain: try md([c.outChannels, inShape[0], 1, 1], dnnl_oihw), want: weiMD, key: 2 * i)
            }
            let b = try c.bias.withUnsafeBytes { try ownedCopy($0, plain: bias, want: biasMD, key: 2 * i + 1) }
            let dwW = try d.weight.withUnsafeBufferPointer {
                try ownedCopy(UnsafeRawBufferPointer($0), plain: try md([d.groups, 1, 1, 3, 3], dnnl_goihw), want: dwWeiMD, key: 2 * i + 2)
            }
            let dwB = try d.bias.withUnsafeBytes { try ownedCopy($0, plain: bias, want: dwBiasMD, key: 2 * i + 3) }
            let dstBuffer = allocate(Self.bytes(dstMD))
            let what = "op \(i)+\(i + 1) conv \(inShape[0])->\(c.outChannels) 1x1/1 +dw3x3/\(d.window.sh) +act"
                + " \(DNNLInferencePrecision.name(madeType))\(choiceNote) src=\(DNNLConvPrimitive.layoutName(srcMD)) dst=\(DNNLConvPrimitive.layoutName(dstMD))"
            let macs = Double(n * c.outChannels * graph.shapes[i + 1][1] * graph.shapes[i + 1][2] * inShape[0])
                + Double(dwDims.reduce(1, *) * 9)
            try addStep(pd, [Arg(id: DNNL_ARG_SRC, md: srcMD, buffer: srcBuffer), Arg(id: DNNL_ARG_WEIGHTS, md: weiMD, buffer: .owned(w)),
                             Arg(id: DNNL_ARG_BIAS, md: biasMD, buffer: .owned(b)),
                             Arg(id: DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_WEIGHTS, md: dwWeiMD, buffer: .owned(dwW)),
                             Arg(id: DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_BIAS, md: dwBiasMD, buffer: .owned(dwB)),
                             Arg(id: DNNL_ARG_DST, md: dstMD, buffer: dstBuffer)], what, macs: macs)
            if case let .slot(t)? = temp { freeSlots.append(t) }
            releaseDead(after: i)
            valueMD[i + 2] = dstMD; valueBuffer[i + 2] = dstBuffer
            fusedDepthwise += 1
            convPaths.add(madeType, winograd: false)
            return true
        }

        /// The src, weights and bias descriptors `pd` wants for convolution `c` (op i), and the buffer
        /// its source is read from: the producer's, or a temporary the source is reordered into when
        /// the producer's layout or number format differs (the caller frees the temporary after the step).
        func convInputs(_ pd: PrimitiveDesc, _ c: DNNLInferenceGraph.Conv, at i: Int) throws
            -> (src: dnnl_memory_desc_t, weights: dnnl_memory_desc_t, bias: dnnl_memory_desc_t, srcBuffer: Buffer, temp: Buffer?) {
            let srcMD = try query(pd, dnnl_query_src_md), weiMD = try query(pd, dnnl_query_weights_md)
            let biasMD = try query(pd, dnnl_query_weights_md, 1)
            let srcActual = valueMD[c.input]!
            guard !Self.equal(srcMD, srcActual) else { return (srcMD, weiMD, biasMD, valueBuffer[c.input]!, nil) }
            let temp = allocate(Self.bytes(srcMD))
            try addReorder(from: srcActual, valueBuffer[c.input]!, to: srcMD, temp, "op \(i) src")
            return (srcMD, weiMD, biasMD, temp, temp)
        }

        var skip = -1
        for (i, op) in ops.enumerated() where i != skip {
            let out = i + 1
            let outDims = [n] + graph.shapes[out]
            switch op {
            case let .conv(c):
                if try fuseWithDepthwise(i, c) { skip = i + 1; continue }
                let inShape = graph.shapes[c.input]
                let grouped = c.groups > 1
                let weiDims = grouped ? [c.groups, c.outChannels / c.groups, inShape[0] / c.groups, c.window.kh, c.window.kw]
                    : [c.outChannels, inShape[0], c.window.kh, c.window.kw]
                let srcActual = valueMD[c.input]!
                var bias = try md([c.outChannels], dnnl_x)
                let strides = [Int64(c.window.sh), Int64(c.window.sw)]
                let padL = [Int64(c.window.top), Int64(c.window.left)], padR = [Int64(c.window.bottom), Int64(c.window.right)]
                let attr = try makeAttr(post: c.post, sum: c.sum != nil, postSum: c.postSum)
                // Prefer the producer's layout for src and the summed value's for dst (no reorders); the
                // first conv reads plain NCHW, so it picks its own src layout.
                // A forced layout (`DNNLInferenceNet.layout`) makes the chain uniform; oneDNN's reference
                // kernels (orders of magnitude slower) are taken only when nothing else exists.
                /// The first jitted primitive of `paths` (number format, algorithm) for `images` images,
                /// else the first reference one.
                func convPD(_ paths: [DNNLInferencePrecision.Path], images: Int) throws -> (PrimitiveDesc, DNNLInferencePrecision.Path)? {
                    var reference: (PrimitiveDesc, DNNLInferencePrecision.Path)?
                    let dims = [images] + Array(outDims.dropFirst())
                    for (alg, dt) in paths {
                        let anySrc = try md([images] + inShape, dnnl_format_tag_any, dt), anyDst = try md(dims, dnnl_format_tag_any, dt)
                        var wei = try md(weiDims, dnnl_format_tag_any, dt)
                        let forced = try layout.tag.map { try md(dims, $0, dt) }
                        // A one-image candidate (for timing) cannot take the batch's layouts.
                        let own = images == n
                        let srcChoices = own && c.input != 0 ? [DNNLInferencePrecision.retyped(srcActual, dt), anySrc] : [anySrc]
                        let dstChoices = (own ? c.sum.map { [valueMD[$0]!, anyDst] } : nil) ?? ((forced.map { [$0] } ?? []) + [anyDst])
                        for s in srcChoices {
                            for d in dstChoices {
                                var s = s, d = d, desc = dnnl_convolution_desc_t()
                                guard dnnl_convolution_forward_desc_init(&desc, dnnl_forward_inference, alg, &s, &wei, &bias, &d,
                                                                         strides, padL, padR) == dnnl_success,
                                      let pd = makePD(&desc, attr) else { continue }
                                if !pd.implementation.hasPrefix("ref") { return (pd, (alg, dt)) }
                                if reference == nil { reference = (pd, (alg, dt)) }
                            }
                        }
                    }
                    return reference
                }
                let paths = DNNLInferencePrecision.paths(precision, algorithm: algorithm, inChannels: inShape[0] / c.groups,
                                                         outHeight: outDims[2], outWidth: outDims[3])
                guard var (pd, madePath) = try convPD(paths, images: n) else {
                    throw DNNLInferenceError.unavailable("no convolution for op \(i) \(inShape) -> \(graph.shapes[out])")
                }
                var choiceNote = ""
                let fp32Paths = paths.filter { $0.dataType == dnnl_f32 }
                if madePath.dataType == dnnl_bf16, bf16Layers == .fastest, let (fpd, fpath) = try convPD(fp32Paths, images: n),
                   !fpd.implementation.hasPrefix("ref") {
                    let bf16Path = madePath
                    let choice = try weights.choice(key: 2 * i) {
                        try DNNLPrecisionChoice.timed(bf16: { try convPD([bf16Path], images: 1)?.0 }, fp32: { try convPD([fpath], images: 1)?.0 },
                                                      arguments: [DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_BIAS, DNNL_ARG_DST], context: context)
                    }
                    if let choice, !choice.bf16 { (pd, madePath) = (fpd, fpath) }
                    choiceNote = choice?.note ?? ""
                }
                let (srcMD, weiMD, biasMD, srcBuffer, temp) = try convInputs(pd, c, at: i)
                let dstMD = try query(pd, dnnl_query_dst_md)
                let winograd = pd.implementation.contains("wino")
                convPaths.add(madePath.1, winograd: winograd)
                let weiPlain = try md(weiDims, grouped ? dnnl_goihw : dnnl_oihw)
                let w = try c.weight.withUnsafeBufferPointer { try ownedCopy(UnsafeRawBufferPointer($0), plain: weiPlain, want: weiMD, key: 2 * i) }
                let b = try c.bias.withUnsafeBytes { try ownedCopy($0, plain: bias, want: biasMD, key: 2 * i + 1) }
                var dstBuffer: Buffer
                if let s = c.sum, let reuse = inPlace(s, at: i, dstMD) {
                    dstBuffer = reuse      // accumulate straight into the summed value's buffer
                } else {
                    dstBuffer = allocate(Self.bytes(dstMD))
                    if let s = c.sum { try addReorder(from: valueMD[s]!, valueBuffer[s]!, to: dstMD, dstBuffer, "op \(i) sum") }
                }
                let what = "op \(i) conv \(inShape[0])->\(c.outChannels) \(c.window.kh)x\(c.window.kw)/\(c.window.sh)"
                    + (c.groups > 1 ? " g\(c.groups)" : "") + (c.post.isEmpty && c.postSum.isEmpty ? "" : " +act")
                    + (c.sum != nil ? " +sum" : "") + " \(DNNLInferencePrecision.name(madePath.1))\(winograd ? " winograd" : "")\(choiceNote) src=\(DNNLConvPrimitive.layoutName(srcMD)) dst=\(DNNLConvPrimitive.layoutName(dstMD))"
                try addStep(pd, [Arg(id: DNNL_ARG_SRC, md: srcMD, buffer: srcBuffer), Arg(id: DNNL_ARG_WEIGHTS, md: weiMD, buffer: .owned(w)),
                                 Arg(id: DNNL_ARG_BIAS, md: biasMD, buffer: .owned(b)), Arg(id: DNNL_ARG_DST, md: dstMD, buffer: dstBuffer)], what,
                            macs: Double(outDims.reduce(1, *)) * Double(inShape[0] / c.groups * c.window.kh * c.window.kw))
                if case let .slot(t)? = temp { freeSlots.append(t) }
                releaseDead(after: i, keep: dstBuffer)
                valueMD[out] = dstMD; valueBuffer[out] = dstBuffer

            case let .pool(x, alg, win):
                var src = valueMD[x]!, dst = try md(outDims, dnnl_format_tag_any, src.data_type)
                let kind: dnnl_alg_kind_t = switch alg {
                case .max: dnnl_pooling_max
                case .averageExcludingPadding: dnnl_pooling_avg_exclude_padding
                case .averageIncludingPadding: dnnl_pooling_avg_include_padding
                }
                let attr = try makeAttr(post: [], sum: false, postSum: [])
                var desc = dnnl_pooling_desc_t()
                try dnnlCheck(dnnl_pooling_forward_desc_init(&desc, dnnl_forward_inference, kind, &src, &dst,
                                                             [Int64(win.sh), Int64(win.sw)], [Int64(win.kh), Int64(win.kw)],
                                                             [Int64(win.top), Int64(win.left)], [Int64(win.bottom), Int64(win.right)]),
                              "pooling_desc_init op \(i)")
                guard let pd = makePD(&desc, attr) else { throw DNNLInferenceError.unavailable("no pooling for op \(i)") }
                let dstMD = try query(pd, dnnl_query_dst_md)
                let dstBuffer = allocate(Self.bytes(dstMD))
                try addStep(pd, [Arg(id: DNNL_ARG_SRC, md: src, buffer: valueBuffer[x]!), Arg(id: DNNL_ARG_DST, md: dstMD, buffer: dstBuffer)],
                            "op \(i) pool \(alg) \(win.kh)x\(win.kw)/\(win.sh) \(DNNLConvPrimitive.layoutName(dstMD))")
                releaseDead(after: i)
                valueMD[out] = dstMD; valueBuffer[out] = dstBuffer

            case let .eltwise(x, fs):
                let m = valueMD[x]!
                let dstBuffer = inPlace(x, at: i, m) ?? allocate(Self.bytes(m))
                var from = valueBuffer[x]!
                for f in fs {
                    let (alg, alpha, beta) = Self.eltwiseParameters(f)
                    var d = m, desc = dnnl_eltwise_desc_t()
                    try dnnlCheck(dnnl_eltwise_forward_desc_init(&desc, dnnl_forward_inference, alg, &d, alpha, beta), "eltwise op \(i)")
                    let attr = try makeAttr(post: [], sum: false, postSum: [])
                    guard let pd = makePD(&desc, attr) else { throw DNNLInferenceError.unavailable("no eltwise for op \(i)") }
                    try addStep(pd, [Arg(id: DNNL_ARG_SRC, md: m, buffer: from), Arg(id: DNNL_ARG_DST, md: m, buffer: dstBuffer)],
                                "op \(i) eltwise \(f)")
                    from = dstBuffer
                }
                releaseDead(after: i, keep: dstBuffer)
                valueMD[out] = m; valueBuffer[out] = dstBuffer

            case let .add(a, b, post):
                var s0 = valueMD[a]!, s1 = valueMD[b]!, d = valueMD[a]!
                let dstBuffer = inPlace(a, at: i, d) ?? allocate(Self.bytes(d))
                let attr = try makeAttr(post: post, sum: false, postSum: [])
                var desc = dnnl_binary_desc_t()
                try dnnlCheck(dnnl_binary_desc_init(&desc, dnnl_binary_add, &s0, &s1, &d), "binary op \(i)")
                guard let pd = makePD(&desc, attr) else { throw DNNLInferenceError.unavailable("no binary add for op \(i)") }
                try addStep(pd, [Arg(id: DNNL_ARG_SRC_0, md: s0, buffer: valueBuffer[a]!), Arg(id: DNNL_ARG_SRC_1, md: s1, buffer: valueBuffer[b]!),
                                 Arg(id: DNNL_ARG_DST, md: d, buffer: dstBuffer)], "op \(i) add")
                releaseDead(after: i, keep: dstBuffer)
                valueMD[out] = d; valueBuffer[out] = dstBuffer

            case let .concat(xs):
                // oneDNN concatenates one number format: inputs in another (a mixed-precision plan) are
                // reordered to the first input's.
                let dataType = valueMD[xs[0]]!.data_type
                var temps: [Int] = []
                let srcs = try xs.map { x -> (dnnl_memory_desc_t, Buffer) in
                    let m = valueMD[x]!
                    guard m.data_type != dataType else { return (m, valueBuffer[x]!) }
                    let want = DNNLInferencePrecision.retyped(m, dataType), buffer = allocate(Self.bytes(want))
                    try addReorder(from: m, valueBuffer[x]!, to: want, buffer, "op \(i) concat input")
                    if case let .slot(t) = buffer { temps.append(t) }
                    return (want, buffer)
                }
                let (dstMD, dstBuffer) = try addConcat(srcs, at: i, outDims: outDims, allocate: allocate)
                valueMD[out] = dstMD; valueBuffer[out] = dstBuffer
                freeSlots += temps
                releaseDead(after: i, keep: valueBuffer[out])
            }
        }
        // Exit: the output value to plain NCHW in the caller's buffer.
        try addReorder(from: valueMD[output]!, valueBuffer[output]!, to: try md([n] + graph.shapes[output], dnnl_nchw), .output, "exit")
        try materialize()
    }

    /// A oneDNN concat of `inputs` (one number format) along the channels into a new buffer, in the
    /// layout oneDNN picks.
    private func addConcat(_ inputs: [(dnnl_memory_desc_t, Buffer)], at i: Int, outDims: [Int],
                           allocate: (Int) -> Buffer) throws -> (dnnl_memory_desc_t, Buffer) {
        let srcs = inputs.map(\.0)
        var dst = try md(outDims, dnnl_format_tag_any, srcs[0].data_type)
        let attr = try makeAttr(post: [], sum: false, postSum: [])
        let engine = context.engine
        let count = Int32(srcs.count)
        let pd = try PrimitiveDesc("concat op \(i)") { (h: inout dnnl_primitive_desc_t?) -> dnnl_status_t in
            srcs.withUnsafeBufferPointer { (p: UnsafeBufferPointer<dnnl_memory_desc_t>) -> dnnl_status_t in
                dnnl_concat_primitive_desc_create(&h, &dst, count, 1, p.baseAddress, attr.handle, engine)
            }
        }
        let dstMD = try query(pd, dnnl_query_dst_md)
        let dstBuffer = allocate(Self.bytes(dstMD))
        let args = inputs.enumerated().map { k, x in Arg(id: DNNL_ARG_MULTIPLE_SRC + Int32(k), md: x.0, buffer: x.1) }
        try addStep(pd, args + [Arg(id: DNNL_ARG_DST, md: dstMD, buffer: dstBuffer)],
                    "op \(i) concat \(inputs.count) \(DNNLConvPrimitive.layoutName(dstMD))")
        return (dstMD, dstBuffer)
    }

    /// Allocates the activation buffers and scratchpad and wraps every argument in a memory object.
    private func materialize() throws {
        for b in slotBytes {
            let p = UnsafeMutableRawPointer.allocate(byteCount: max(64, b), alignment: 4096)
            memset(p, 0, b)   // fault the pages in now, not in the first timed call
            slots.append(p)
        }
        if scratchBytes > 0 {
            scratch = UnsafeMutableRawPointer.allocate(byteCount: scratchBytes, alignment: 4096)
            memset(scratch!, 0, scratchBytes)
        }
        let placeholder = slots.first ?? owned.first?.pointer ?? scratch
        for s in steps {
            var args: [dnnl_exec_arg_t] = []
            for a in s.args {
                let handle: UnsafeMutableRawPointer? = switch a.buffer {
                case .input, .output: placeholder
                case let .slot(k): slots[k]
                case let .owned(k): owned[k].pointer
                case .scratchpad: scratch
                }
                let mem = try Memory(a.md, engine: context.engine, buffer: handle)
                memories.append(mem)
                if case .input = a.buffer { inputMemories.append(mem.handle) }
                if case .output = a.buffer { outputMemories.append(mem.handle) }
                args.append(dnnl_exec_arg_t(arg: a.id, memory: mem.handle))
            }
            execArgs.append(args)
        }
    }

    /// Bytes of activation buffers and scratchpad this program holds (weights are the net's).
    var heldBytes: Int { slotBytes.reduce(0, +) + scratchBytes }

    // MARK: Running

    /// input: [batch, C, H, W] plain; output: the output value's [batch, C', H', W'] plain.
    /// With `stepSeconds`, each step is timed (one entry per line of `lines`).
    func run(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, stepSeconds: UnsafeMutablePointer<Double>? = nil) {
        context.setOMPThreads?(Int32(ompThreads))
        for m in inputMemories { dnnl_memory_set_data_handle(m, UnsafeMutableRawPointer(mutating: input)) }
        for m in outputMemories { dnnl_memory_set_data_handle(m, UnsafeMutableRawPointer(output)) }
        for (i, (s, args)) in zip(steps, execArgs).enumerated() {
            let t0 = stepSeconds == nil ? 0 : DispatchTime.now().uptimeNanoseconds
            let st = dnnl_primitive_execute(s.prim.handle, context.stream, Int32(args.count), args)
            check(st == dnnl_success, "DNNLInference \(s.what) failed: \(String(cString: dnnl_status2str(st)))")
            if let t = stepSeconds {
                dnnl_stream_wait(context.stream)
                t[i] += Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
            }
        }
        dnnl_stream_wait(context.stream)
    }
}
