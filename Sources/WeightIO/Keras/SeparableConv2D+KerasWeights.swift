import NN
import Zoo

extension SeparableConv2DKind: KerasWeighted {
    /// Keras: `depthwise_kernel` (kh, kw, C, m), `pointwise_kernel` (1, 1, C·m, F), `bias`.
    public func kerasWeight(_ param: String, _ c: KerasWeightContext) -> (KerasWeightName, KerasLayout)? {
        switch param {
        case "depthwiseWeight": (.depthwiseKernel, .depthwiseToOihw(multiplier: depthMultiplier))
        case "pointwiseWeight": (.pointwiseKernel, .hwioToOihw)
        case "bias": (.bias, .asIs)
        default: nil
        }
    }
}
