import Foundation

/// The one reader of the process environment (and of the core count) in Graft. Only the executables
/// (`finetune`, `graft-bench`) call `variables` and `RuntimeOptions(environment:)`; library code is
/// given the resulting values. `processorCount` is the one hardware query: the default worker count.
public enum RuntimeEnvironment {
    /// The process environment, as the executables pass it on (to `RuntimeOptions`, child processes).
    public static var variables: [String: String] { ProcessInfo.processInfo.environment }

    /// Logical CPUs available to this process.
    public static var processorCount: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

    /// This executable's absolute path (child processes run it again).
    public static var executablePath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// Physical memory in bytes (the default cache budget is a quarter of it, at most 2 GiB).
    public static var physicalMemory: Int { Int(clamping: ProcessInfo.processInfo.physicalMemory) }
}

extension RuntimeOptions {
    /// The defaults, changed by the `GRAFT_*` variables in `environment`. A variable with a value it
    /// does not know keeps the default (as it always has); flags, checked strictly, go on top.
    ///
    /// | variable | values | default |
    /// |---|---|---|
    /// | GRAFT_CONV | im2col, dnnl, auto, rule | rule |
    /// | GRAFT_TRAIN_CONV | direct, winograd | winograd |
    /// | GRAFT_DNNL_THREADING | openmp, batch | batch |
    /// | GRAFT_INFER_PLAN | 0 turns it off | on |
    /// | GRAFT_INFER_CONV | direct, auto, winograd | winograd |
    /// | GRAFT_INFER_LAYOUT | automatic, any, nchw16c, nchw8c, nhwc | automatic |
    /// | GRAFT_INFER_THREADING | openmp, batch | batch |
    /// | GRAFT_INFER_SLICE_IMAGES | images per slice, 0: no limit | 4 |
    /// | GRAFT_INFER_DW_FUSION | 0 turns it off | on |
    /// | GRAFT_INFER_PRECISION | fp32, bf16 | fp32 |
    /// | GRAFT_INFER_BF16_LAYERS | fastest, all | fastest |
    /// | GRAFT_TENSOR_POOL | 0 turns it off | on |
    /// | GRAFT_AUGMENT_FUSED | 0 turns it off | on |
    /// | GRAFT_CACHE_MEMORY | a size (`2GiB`, `512MiB`, bytes) | min(2 GiB, 25% of RAM) |
    /// | GRAFT_CONTAIN_HDF5 | 0 reads weight files in-process | on |
    public init(environment: [String: String]) {
        self.init()
        cacheMemory = RuntimeOptions.defaultCacheMemory(physicalMemory: RuntimeEnvironment.physicalMemory)
        if let v = environment["GRAFT_CACHE_MEMORY"].flatMap(ByteCount.parse) { cacheMemory = v }
        func value<T: RawRepresentable>(_ key: String, _ type: T.Type) -> T? where T.RawValue == String {
            environment[key].flatMap { T(rawValue: $0.lowercased()) }
        }
        if let v = value("GRAFT_CONV", ConvPath.self) { conv = v }
        if let v = value("GRAFT_TRAIN_CONV", TrainConvAlgorithm.self) { trainConv = v }
        if let v = value("GRAFT_DNNL_THREADING", DNNLThreading.self) { dnnlThreading = v }
        if environment["GRAFT_INFER_PLAN"] == "0" { inference.plan = false }
        if let v = value("GRAFT_INFER_CONV", InferenceConvAlgorithm.self) { inference.conv = v }
        if let v = value("GRAFT_INFER_LAYOUT", InferenceLayout.self) { inference.layout = v }
        if let v = value("GRAFT_INFER_THREADING", DNNLThreading.self) { inference.threading = v }
        if let v = environment["GRAFT_INFER_SLICE_IMAGES"].flatMap({ Int($0) }) { inference.maxSliceImages = max(0, v) }
        if environment["GRAFT_INFER_DW_FUSION"] == "0" { inference.fuseDepthwise = false }
        if let v = value("GRAFT_INFER_PRECISION", InferencePrecision.self) { inference.precision = v }
        if let v = value("GRAFT_INFER_BF16_LAYERS", InferenceBF16Layers.self) { inference.bf16Layers = v }
        if environment["GRAFT_TENSOR_POOL"] == "0" { tensorPool = false }
        if environment["GRAFT_AUGMENT_FUSED"] == "0" { fusedAugment = false }
        if environment["GRAFT_CONTAIN_HDF5"] == "0" { containHDF5 = false }
    }
}
