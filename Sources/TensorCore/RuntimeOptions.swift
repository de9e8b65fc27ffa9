import Foundation

/// How a process runs its kernels: thread count, convolution rules, inference plan settings, memory
/// pooling. None of it changes what a model computes beyond float rounding (except `conv = .auto`,
/// whose timing-based choice can differ run to run). Made once by an executable, from its flags and
/// the `GRAFT_*` environment variables (`RuntimeOptions(environment:)`, the one place they are read),
/// and passed to what needs it; tests construct it directly. `init()` gives the defaults.
public struct RuntimeOptions: Sendable, Equatable {
    /// Worker threads for the kernels (nil: one per core).
    public var threads: Int?
    /// Which convolution implementation training uses per pass (`GRAFT_CONV`, `--conv`).
    public var conv: ConvPath = .rule
    /// oneDNN convolution algorithm in training (`GRAFT_TRAIN_CONV`, `--train-conv`).
    public var trainConv: TrainConvAlgorithm = .winograd
    /// How oneDNN training convolutions share the cores (`GRAFT_DNNL_THREADING`, `--dnnl-threading`).
    public var dnnlThreading: DNNLThreading = .batch
    /// The inference plan (prediction, evaluation, feature caches, benchmarks).
    public var inference = InferenceOptions()
    /// Reuse tensor buffers across steps (`GRAFT_TENSOR_POOL=0`, `--no-tensor-pool` turn it off).
    public var tensorPool = true
    /// The fused crop/flip/colour/normalise augmentation path (`GRAFT_AUGMENT_FUSED=0`,
    /// `--no-fused-augment` turn it off; the result is bit-identical either way).
    public var fusedAugment = true
    /// Bytes the decoded-image and feature caches may hold in memory (`GRAFT_CACHE_MEMORY`,
    /// `--cache-memory`); beyond it images stream from disk and features go to a file in the run
    /// folder. `init()` gives 2 GiB; `init(environment:)` min(2 GiB, 25% of physical memory).
    public var cacheMemory = RuntimeOptions.cacheMemoryCap
    /// Read weight files the user names in a child process, so a crash or endless loop inside
    /// libhdf5 on a damaged file becomes one error line (`GRAFT_CONTAIN_HDF5=0` reads in-process).
    public var containHDF5 = true

    public static let cacheMemoryCap = 2 << 30

    /// min(2 GiB, a quarter of `physicalMemory`).
    public static func defaultCacheMemory(physicalMemory: Int) -> Int { min(cacheMemoryCap, max(0, physicalMemory / 4)) }

    public init() {}
}

/// Byte sizes as people write them: `2GiB`, `512MiB`, `1.5G`, `800MB`, `4096` (bytes). K/M/G/T and
/// KiB/MiB/GiB/TiB are powers of 1024, KB/MB/GB/TB powers of 1000.
public enum ByteCount {
    public static func parse(_ text: String) -> Int? {
        let t = text.trimmingCharacters(in: .whitespaces)
        let digits = t.prefix { $0.isNumber || $0 == "." }
        guard let value = Double(digits), value >= 0 else { return nil }
        let unit = t.dropFirst(digits.count).trimmingCharacters(in: .whitespaces).lowercased()
        let scale: Double
        switch unit {
        case "", "b": scale = 1
        case "k", "kib": scale = 1024
        case "m", "mib": scale = 1024 * 1024
        case "g", "gib": scale = 1024 * 1024 * 1024
        case "t", "tib": scale = 1024 * 1024 * 1024 * 1024
        case "kb": scale = 1e3
        case "mb": scale = 1e6
        case "gb": scale = 1e9
        case "tb": scale = 1e12
        default: return nil
        }
        let bytes = value * scale
        return bytes < Double(Int.max) ? Int(bytes) : nil
    }

    /// `1.5 GiB`, `320.0 MiB`, `12 KiB`.
    public static func describe(_ bytes: Int) -> String {
        let b = Double(bytes)
        if bytes >= 1 << 30 { return String(format: "%.1f GiB", b / Double(1 << 30)) }
        if bytes >= 1 << 20 { return String(format: "%.1f MiB", b / Double(1 << 20)) }
        return "\(Int((b / 1024).rounded())) KiB"
    }
}

/// Settings of `InferencePlan` and the oneDNN inference chains it compiles. Measured defaults: see
/// `DNNLInferenceNet`.
public struct InferenceOptions: Sendable, Equatable {
    /// Run inference through the plan (`GRAFT_INFER_PLAN=0`, `--no-plan`: the module forward instead).
    public var plan = true
    /// Convolution algorithm (`GRAFT_INFER_CONV`, `--infer-conv`).
    public var conv: InferenceConvAlgorithm = .winograd
    /// Activation layout (`GRAFT_INFER_LAYOUT`, `--infer-layout`).
    public var layout: InferenceLayout = .automatic
    /// How the cores share one batch (`GRAFT_INFER_THREADING`, `--infer-threading`).
    public var threading: DNNLThreading = .batch
    /// At most this many images per slice in `batch` threading; 0: one slice per worker
    /// (`GRAFT_INFER_SLICE_IMAGES`, `--infer-slice-images`).
    public var maxSliceImages = 4
    /// Fuse a 1x1 convolution and the 3x3 depthwise convolution reading it into one oneDNN primitive
    /// (the depthwise post-op), so the expanded activation is never written out
    /// (`GRAFT_INFER_DW_FUSION=0`, `--no-dw-fusion`: two primitives).
    public var fuseDepthwise = true
    /// Number format of the native chains' convolutions and activations (`GRAFT_INFER_PRECISION`,
    /// `--precision`); input and output stay fp32.
    public var precision: InferencePrecision = .fp32
    /// Which convolutions `precision = .bf16` runs in bf16 (`GRAFT_INFER_BF16_LAYERS`, `--bf16-layers`).
    public var bf16Layers: InferenceBF16Layers = .fastest

    public init(plan: Bool = true, conv: InferenceConvAlgorithm = .winograd, layout: InferenceLayout = .automatic,
                threading: DNNLThreading = .batch, maxSliceImages: Int = 4, fuseDepthwise: Bool = true,
                precision: InferencePrecision = .fp32, bf16Layers: InferenceBF16Layers = .fastest) {
        self.plan = plan; self.conv = conv; self.layout = layout; self.threading = threading
        self.maxSliceImages = maxSliceImages; self.fuseDepthwise = fuseDepthwise; self.precision = precision
        self.bf16Layers = bf16Layers
    }
}

/// Number format of inference through the plan.
public enum InferencePrecision: String, Sendable, CaseIterable {
    case fp32
    /// bf16 weights and activations with fp32 accumulation (oneDNN bf16 primitives) in the
    /// convolutions `InferenceBF16Layers` picks; the others stay fp32. Entry and exit reorders
    /// convert from and to fp32.
    case bf16
}

/// Which convolutions a bf16 plan runs in bf16.
public enum InferenceBF16Layers: String, Sendable, CaseIterable {
    /// Per convolution the faster of bf16 direct and the fp32 path (Winograd where it applies), timed
    /// once per net on one image when the plan compiles; bf16 must be at least 5% faster. (On CPUs whose
    /// bf16 dot products run at half the fp32 FMA rate, such as this Sapphire Rapids VM, that is fp32
    /// everywhere.)
    case fastest
    /// Every convolution that has a jitted bf16 kernel.
    case all
}

/// Which convolution implementation the CPU backend uses.
public enum ConvPath: String, Sendable, CaseIterable {
    /// im2col (or plain sgemm for pointwise 1x1) + OpenBLAS, batch-parallel with 1-thread BLAS per worker.
    case im2col
    /// oneDNN with `tag=any` blocked layouts, reordering from/to NCHW at every call, threaded as
    /// `DNNLThreading` says (falls back to im2col where oneDNN has no primitive).
    case dnnl
    /// Per (geometry, pass, bias), learned online (`ConvAutotune`): the first 8 calls alternate between
    /// oneDNN (+reorders) and im2col/sgemm, then the faster by median is kept, with a 10% bias towards
    /// the prior (oneDNN for non-pointwise forward and backward-data and for backward-weights with at
    /// least 8x8 outputs; im2col for smaller backward-weights;
    /// plain sgemm for pointwise 1x1). The winner depends on the CPU (AVX2 Zen3 vs AVX-512 Zen4).
    case auto
    /// The default: the measured-fastest path per pass as a fixed rule (`ConvAutotune.prior`), so every
    /// run computes bit-identically (a resumed run must end with the same weights as an uninterrupted
    /// one, which online timing cannot promise).
    case rule
}

/// Training convolution algorithm: oneDNN's Winograd F(4x4,3x3) in all three passes where
/// `DNNLConv.winogradShape` holds, direct otherwise (and wherever oneDNN has no Winograd kernel).
public enum TrainConvAlgorithm: String, Sendable, CaseIterable { case direct, winograd }

/// How oneDNN work is spread over `Threads.count` cores.
public enum DNNLThreading: String, Sendable, CaseIterable {
    /// One call on the whole batch; oneDNN's OpenMP team of `Threads.count` threads splits it.
    case openmp
    /// The batch is cut into slices of a few images, each run by a GCD worker as a single-threaded
    /// oneDNN call (dynamic load balance, no OpenMP barriers: robust when other processes share the
    /// cores).
    case batch
}

/// Convolution algorithm oneDNN is asked for in inference.
public enum InferenceConvAlgorithm: String, Sendable, CaseIterable {
    case direct
    /// oneDNN picks (Winograd where it has a kernel and thinks it faster), direct otherwise.
    case auto
    /// Winograd where available (3x3 stride 1), outputs are at least 7x7 (`DNNLConv.winogradPays`) and
    /// inputs have at least 16 channels; direct elsewhere.
    case winograd
}

/// Activation layout of the inference convolutions' outputs.
public enum InferenceLayout: String, Sendable, CaseIterable {
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
}
