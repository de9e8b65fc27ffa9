import DNNL
import TensorCore
import NN

// The separable convolution, the extra merges, resampling and per-channel kinds have no oneDNN
// lowering yet: the plan runs them as their modules (the protocol's default), between native chains.

extension SeparableConv2DKind: DNNLLowerable {}
extension SubtractKind: DNNLLowerable {}
extension AverageKind: DNNLLowerable {}
extension MaximumKind: DNNLLowerable {}
extension Cropping2DKind: DNNLLowerable {}
extension UpSampling2DKind: DNNLLowerable {}
extension RescalingKind: DNNLLowerable {}
extension NormalizationKind: DNNLLowerable {}
extension PReLUKind: DNNLLowerable {}
