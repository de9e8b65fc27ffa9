import CDNNL
import Foundation
import TensorCore

/// Which number format and algorithm each inference convolution tries, in order, for an
/// `InferencePrecision`, and the helpers a bf16 program uses to choose and describe its layers.
///
/// bf16 paths are direct (oneDNN 2.6 has no bf16 Winograd); behind them come the fp32 paths (a layer
/// whose bf16 primitive is not jitted runs fp32). With `InferenceBF16Layers.fastest` the program then
/// times the layer's bf16 primitive against its fp32 one (Winograd for 3x3 stride-1 layers) and keeps
/// the faster (`DNNLPrecisionChoice`). Values change number format only through reorders the program
/// inserts (entry, exit, and where neighbours differ).
enum DNNLInferencePrecision {
    typealias Path = (algorithm: dnnl_alg_kind_t, dataType: dnnl_data_type_t)

    /// Whether the CPU has bf16 dot-product instructions (AVX512-BF16); elsewhere oneDNN has only
    /// reference or emulated bf16 kernels, and bf16 plans stay fp32.
    static var nativeBF16: Bool {
        let isa = dnnl_get_effective_cpu_isa().rawValue, bf16 = dnnl_cpu_isa_avx512_core_bf16.rawValue
        return isa & bf16 == bf16
    }

    /// bf16 must beat fp32 by this factor to be chosen (it rounds, and may add reorders).
    static let bf16Margin = 1.05

    /// Candidate paths of one convolution, best first. Winograd also needs a whole 16-channel input
    /// block: oneDNN pads a 3-channel input to 16, and VGG16's first layer then ran at 12.6 GFLOP/s
    /// (direct-equivalent; `bench --profile`, 0.22 of 2.06 s of convolution per batch) where direct
    /// runs it at well over 100.
    static func paths(_ precision: InferencePrecision, algorithm: InferenceConvAlgorithm, inChannels: Int,
                      outHeight: Int, outWidth: Int) -> [Path] {
        let pays = inChannels >= 16 && DNNLConv.winogradPays(outHeight: outHeight, outWidth: outWidth)
        let fp32 = (pays ? algorithm.kinds : algorithm.kinds.filter { $0 != dnnl_convolution_winograd }).map { ($0, dnnl_f32) }
        guard precision == .bf16, nativeBF16 else { return fp32 }
        return algorithm.kinds.filter { $0 != dnnl_convolution_winograd }.map { ($0, dnnl_bf16) } + fp32
    }

    /// Data types of the 1x1 + depthwise fusion, tried in order.
    static func fusedDataTypes(_ precision: InferencePrecision) -> [dnnl_data_type_t] {
        precision == .bf16 && nativeBF16 ? [dnnl_bf16, dnnl_f32] : [dnnl_f32]
    }

    /// `m` with the same dimensions and layout holding `dataType` values.
    static func retyped(_ m: dnnl_memory_desc_t, _ dataType: dnnl_data_type_t) -> dnnl_memory_desc_t {
        var r = m
        r.data_type = dataType
        return r
    }

    static func name(_ t: dnnl_data_type_t) -> String {
        switch t {
        case dnnl_f32: "fp32"
        case dnnl_bf16: "bf16"
        case dnnl_s8: "s8"
        case dnnl_u8: "u8"
        default: "dt\(t.rawValue)"
        }
    }
}

/// A bf16 program's choice for one convolution (or fused 1x1 + depthwise pair), with the timings it
/// rests on: thread CPU seconds of one image, best of two runs after a warm-up, on zeroed buffers.
struct DNNLPrecisionChoice: Sendable {
    let bf16: Bool
    let bf16Seconds: Double, fp32Seconds: Double

    /// Times `bf16` and `fp32` (primitive descriptors of the layer for one image, made on demand)
    /// and picks bf16 when it is `bf16Margin` faster.
    static func timed(bf16: () throws -> PrimitiveDesc?, fp32: () throws -> PrimitiveDesc?, arguments: [Int32],
                      context: DNNLContext) throws -> DNNLPrecisionChoice? {
        guard let b = try bf16(), let f = try fp32() else { return nil }
        let tb = try cpuSeconds(b, arguments, context), tf = try cpuSeconds(f, arguments, context)
        return DNNLPrecisionChoice(bf16: tb * DNNLInferencePrecision.bf16Margin < tf, bf16Seconds: tb, fp32Seconds: tf)
    }

    /// " [bf16 1.20 ms < fp32 2.31 ms]": what the choice rested on, for the program's description.
    var note: String {
        String(format: " [bf16 %.2f ms %@ fp32 %.2f ms]", bf16Seconds * 1e3, bf16 ? "<" : ">=", fp32Seconds * 1e3)
    }

    private static func threadSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    /// Thread CPU seconds of `pd`'s primitive (best of two runs after a warm-up) on zeroed buffers for
    /// the `arguments` it has and its scratchpad. CPU time, not wall time: other processes on the
    /// cores do not decide the choice. The buffers are anonymous mappings, unmapped afterwards, so the
    /// timing leaves no heap behind (peak RSS stays the plan's own).
    private static func cpuSeconds(_ pd: PrimitiveDesc, _ arguments: [Int32], _ context: DNNLContext) throws -> Double {
        let primitive = try Primitive(pd, "primitive_create (timing)")
        var buffers: [(UnsafeMutableRawPointer, Int)] = [], memories: [Memory] = [], args: [dnnl_exec_arg_t] = []
        defer { for (p, bytes) in buffers { munmap(p, bytes) } }
        for id in arguments + [DNNL_ARG_SCRATCHPAD] {
            guard var md = pd.memoryDesc(dnnl_query_exec_arg_md, id), md.ndims > 0 else { continue }
            let bytes = max(64, dnnl_memory_desc_get_size(&md))
            guard let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED else {
                throw DNNLInferenceError.unavailable("no memory to time op candidates")
            }
            buffers.append((p, bytes))
            memset(p, 0, bytes)   // own pages: unwritten ones would all read the one shared zero page
            memories.append(try Memory(md, engine: context.engine, buffer: p))
            args.append(dnnl_exec_arg_t(arg: id, memory: memories.last!.handle))
        }
        var best = Double.infinity
        for run in 0..<3 {
            let t0 = threadSeconds()
            try dnnlCheck(dnnl_primitive_execute(primitive.handle, context.stream, Int32(args.count), args), "execute (timing)")
            dnnl_stream_wait(context.stream)
            if run > 0 { best = min(best, threadSeconds() - t0) }
        }
        return withExtendedLifetime(memories) { best }
    }
}

/// Convolutions of a program by number format and algorithm, e.g. "bf16 direct 49, fp32 winograd 4".
struct DNNLConvPathCounts: Sendable {
    private(set) var counts: [String: Int] = [:]

    mutating func add(_ dataType: dnnl_data_type_t, winograd: Bool) {
        counts["\(DNNLInferencePrecision.name(dataType)) \(winograd ? "winograd" : "direct")", default: 0] += 1
    }

    var description: String {
        counts.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }.map { "\($0.key) \($0.value)" }
            .joined(separator: ", ")
    }
}
