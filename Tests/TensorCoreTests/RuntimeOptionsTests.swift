import Testing
import TensorCore

/// `RuntimeOptions(environment:)` keeps every `GRAFT_*` variable working as before: known values
/// change their setting, unknown values keep the default.
@Test func environmentVariablesSetTheirOptions() {
    #expect(RuntimeOptions(environment: [:]) == RuntimeOptions())
    let o = RuntimeOptions(environment: [
        "GRAFT_CONV": "IM2COL", "GRAFT_TRAIN_CONV": "direct", "GRAFT_DNNL_THREADING": "openmp",
        "GRAFT_INFER_PLAN": "0", "GRAFT_INFER_CONV": "auto", "GRAFT_INFER_LAYOUT": "nhwc",
        "GRAFT_INFER_THREADING": "openmp", "GRAFT_INFER_SLICE_IMAGES": "-3", "GRAFT_INFER_DW_FUSION": "0", "GRAFT_TENSOR_POOL": "0",
        "GRAFT_AUGMENT_FUSED": "0", "GRAFT_INFER_PRECISION": "BF16", "GRAFT_INFER_BF16_LAYERS": "all",
    ])
    #expect(o.conv == .im2col && o.trainConv == .direct && o.dnnlThreading == .openmp)
    #expect(o.inference == InferenceOptions(plan: false, conv: .auto, layout: .nhwc, threading: .openmp, maxSliceImages: 0,
                                              fuseDepthwise: false, precision: .bf16, bf16Layers: .all))
    #expect(!o.tensorPool && !o.fusedAugment && o.threads == nil)
    let unknown = RuntimeOptions(environment: ["GRAFT_CONV": "fast", "GRAFT_INFER_PLAN": "1", "GRAFT_INFER_SLICE_IMAGES": "x",
                                               "GRAFT_INFER_PRECISION": "int8"])
    #expect(unknown == RuntimeOptions())
}
