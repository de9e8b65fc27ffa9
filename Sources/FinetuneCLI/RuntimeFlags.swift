import ArgumentParser
import DNNL
import TensorCore

extension ConvPath: ExpressibleByArgument {}
extension TrainConvAlgorithm: ExpressibleByArgument {}
extension DNNLThreading: ExpressibleByArgument {}
extension InferenceConvAlgorithm: ExpressibleByArgument {}
extension InferenceLayout: ExpressibleByArgument {}

/// How the kernels run (`RuntimeOptions`): the `GRAFT_*` environment variables, then these flags.
struct RuntimeFlags: ParsableArguments {
    @Option(help: "Training convolutions: rule (default) | im2col | dnnl | auto (GRAFT_CONV).") var conv: ConvPath?
    @Option(name: .customLong("train-conv"), help: "oneDNN training algorithm: winograd (default) | direct (GRAFT_TRAIN_CONV).")
    var trainConv: TrainConvAlgorithm?
    @Option(name: .customLong("dnnl-threading"), help: "oneDNN training threading: batch (default) | openmp (GRAFT_DNNL_THREADING).")
    var dnnlThreading: DNNLThreading?
    @Flag(name: .customLong("no-plan"), help: "Run inference through the module forward, not the oneDNN plan (GRAFT_INFER_PLAN=0).")
    var noPlan = false
    @Option(name: .customLong("infer-conv"), help: "Inference convolutions: winograd (default) | direct | auto (GRAFT_INFER_CONV).")
    var inferConv: InferenceConvAlgorithm?
    @Option(name: .customLong("infer-layout"), help: "Inference layout: automatic (default) | any | nchw16c | nchw8c | nhwc (GRAFT_INFER_LAYOUT).")
    var inferLayout: InferenceLayout?
    @Option(name: .customLong("infer-threading"), help: "Inference threading: batch (default) | openmp (GRAFT_INFER_THREADING).")
    var inferThreading: DNNLThreading?
    @Option(name: .customLong("infer-slice-images"), help: "Images per inference slice, 0: no limit (default 4; GRAFT_INFER_SLICE_IMAGES).")
    var inferSliceImages: Int?
    @Flag(name: .customLong("no-dw-fusion"), help: "Inference: 1x1 and depthwise convolutions as two primitives (GRAFT_INFER_DW_FUSION=0).")
    var noDWFusion = false
    @Flag(name: .customLong("no-tensor-pool"), help: "Allocate every tensor afresh (GRAFT_TENSOR_POOL=0).") var noTensorPool = false
    @Flag(name: .customLong("no-fused-augment"), help: "Step-by-step augmentation (same result; GRAFT_AUGMENT_FUSED=0).")
    var noFusedAugment = false
    @Option(name: .customLong("cache-memory"), help: "Memory for the decoded-image and feature caches, e.g. 2GiB, 512MiB (default min(2 GiB, 25% of RAM); GRAFT_CACHE_MEMORY). Beyond it images stream from disk and features go to a file in the run folder.")
    var cacheMemory: String?

    func validate() throws {
        if let cacheMemory, ByteCount.parse(cacheMemory) == nil {
            throw ValidationError("--cache-memory \(cacheMemory): expected a size such as 2GiB, 512MiB or a byte count")
        }
    }

    /// The options of this process: environment first, flags on top.
    func options() -> RuntimeOptions {
        var o = RuntimeOptions(environment: RuntimeEnvironment.variables)
        if let conv { o.conv = conv }
        if let trainConv { o.trainConv = trainConv }
        if let dnnlThreading { o.dnnlThreading = dnnlThreading }
        if noPlan { o.inference.plan = false }
        if let inferConv { o.inference.conv = inferConv }
        if let inferLayout { o.inference.layout = inferLayout }
        if let inferThreading { o.inference.threading = inferThreading }
        if let inferSliceImages { o.inference.maxSliceImages = max(0, inferSliceImages) }
        if noDWFusion { o.inference.fuseDepthwise = false }
        if noTensorPool { o.tensorPool = false }
        if noFusedAugment { o.fusedAugment = false }
        if let v = cacheMemory.flatMap(ByteCount.parse) { o.cacheMemory = v }
        return o
    }

    /// `options()`, with its process-wide parts applied (call first thing in a command's `run`).
    func applied() -> RuntimeOptions {
        let o = options()
        o.apply()
        return o
    }

    /// The flags that reproduce these settings in a child process (bench runs).
    var arguments: [String] {
        var a: [String] = []
        if let conv { a += ["--conv", conv.rawValue] }
        if let trainConv { a += ["--train-conv", trainConv.rawValue] }
        if let dnnlThreading { a += ["--dnnl-threading", dnnlThreading.rawValue] }
        if noPlan { a.append("--no-plan") }
        if let inferConv { a += ["--infer-conv", inferConv.rawValue] }
        if let inferLayout { a += ["--infer-layout", inferLayout.rawValue] }
        if let inferThreading { a += ["--infer-threading", inferThreading.rawValue] }
        if let inferSliceImages { a += ["--infer-slice-images", String(inferSliceImages)] }
        if noDWFusion { a.append("--no-dw-fusion") }
        if noTensorPool { a.append("--no-tensor-pool") }
        if noFusedAugment { a.append("--no-fused-augment") }
        if let cacheMemory { a += ["--cache-memory", cacheMemory] }
        return a
    }
}
