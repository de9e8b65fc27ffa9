import CDNNL
import TensorCore

/// Which number format and algorithm each inference convolution tries, in order, for an
/// `InferencePrecision`, and the data-type helpers of the programs.
///
/// bf16: oneDNN 2.6 has no bf16 Winograd, so a 3x3 stride-1 convolution chooses between fp32
/// Winograd and bf16 direct (`winogradBeatsBF16`); everything else runs bf16 direct. A layer whose
/// bf16 primitive is not jitted (oneDNN's reference kernel) runs fp32 instead. Values change format
/// only through reorders the program inserts (entry, exit, and where neighbours differ).
enum DNNLInferencePrecision {
    typealias Path = (algorithm: dnnl_alg_kind_t, dataType: dnnl_data_type_t)

    /// Whether the CPU runs bf16 dot products natively (AVX512-BF16); elsewhere oneDNN emulates them
    /// on AVX-512 (slower than fp32) or has only reference kernels, so bf16 falls back to fp32.
    static var nativeBF16: Bool {
        let isa = dnnl_get_effective_cpu_isa().rawValue, bf16 = dnnl_cpu_isa_avx512_core_bf16.rawValue
        return isa & bf16 == bf16
    }

    /// fp32 Winograd F(4x4,3x3) instead of bf16 direct for a 3x3 stride-1 convolution with these
    /// channels and output size (Winograd itself already requires `DNNLConv.winogradPays`).
    /// Measured per layer (`finetune bench --profile`, 2 cores, batch 16 in 4-image slices): Winograd
    /// does ~2.2x fewer multiplies here, bf16 runs them ~1.9x faster, so the two are close; Winograd
    /// wins where its transforms are cheap relative to the product: many channels.
    static func winogradBeatsBF16(inChannels: Int, outChannels: Int, outHeight: Int, outWidth: Int) -> Bool {
        false
    }

    /// Candidate paths of one convolution, best first.
    static func paths(_ precision: InferencePrecision, algorithm: InferenceConvAlgorithm, kernel: (Int, Int), stride: (Int, Int),
                      groups: Int, inChannels: Int, outChannels: Int, outHeight: Int, outWidth: Int) -> [Path] {
        let pays = DNNLConv.winogradPays(outHeight: outHeight, outWidth: outWidth)
        let fp32 = (pays ? algorithm.kinds : algorithm.kinds.filter { $0 != dnnl_convolution_winograd }).map { ($0, dnnl_f32) }
        guard precision == .bf16, nativeBF16 else { return fp32 }
        let winograd3x3 = algorithm == .winograd && pays && kernel == (3, 3) && stride == (1, 1) && groups == 1
            && winogradBeatsBF16(inChannels: inChannels, outChannels: outChannels, outHeight: outHeight, outWidth: outWidth)
        let bf16 = algorithm.kinds.filter { $0 != dnnl_convolution_winograd }.map { ($0, dnnl_bf16) }
        return (winograd3x3 ? [(dnnl_convolution_winograd, dnnl_f32)] : []) + bf16 + fp32
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
