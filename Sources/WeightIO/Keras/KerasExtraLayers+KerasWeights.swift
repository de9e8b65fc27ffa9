import NN
import Zoo

// Keras weight names of the merges, resampling and per-channel kinds (most have none).

extension SubtractKind: KerasWeighted {}
extension AverageKind: KerasWeighted {}
extension MaximumKind: KerasWeighted {}
extension Cropping2DKind: KerasWeighted {}
extension UpSampling2DKind: KerasWeighted {}
extension RescalingKind: KerasWeighted {}

extension NormalizationKind: KerasWeighted {
    /// An adapted Normalization's `mean` and `variance` ([C]).
    public func kerasWeight(_ param: String, _ c: KerasWeightContext) -> (KerasWeightName, KerasLayout)? {
        switch param { case "mean": (.mean, .asIs); case "variance": (.variance, .asIs); default: nil }
    }
}

extension PReLUKind: KerasWeighted {
    /// Keras `alpha` is (H, W, C) with shared axes of size 1 (or (C,) after a Dense).
    public func kerasWeight(_ param: String, _ c: KerasWeightContext) -> (KerasWeightName, KerasLayout)? {
        guard param == "alpha" else { return nil }
        return (.alpha, c.inputs.first?.count == 3 ? .hwcToChw : .asIs)
    }
}
