import NN
import Zoo

extension DepthwiseConv2DKind: KerasWeighted {
    /// Keras names the kernel `depthwise_kernel`, shaped (kh, kw, C, multiplier).
    public func kerasWeight(_ param: String, _ c: KerasWeightContext) -> (KerasWeightName, KerasLayout)? {
        switch param {
        case "weight": (.depthwiseKernel, .depthwiseToOihw(multiplier: depthMultiplier))
        case "bias": (.bias, .asIs)
        default: nil
        }
    }
}
