import NN
import Zoo

// Keras weight names and layouts of the core kinds (one extension per kind; weightless kinds take
// the protocol's default).

extension Conv2DKind: KerasWeighted {
    public func kerasWeight(_ param: String, _ c: KerasWeightContext) -> (KerasWeightName, KerasLayout)? {
        switch param { case "weight": (.kernel, .hwioToOihw); case "bias": (.bias, .asIs); default: nil }
    }
}

extension DenseKind: KerasWeighted {
    public func kerasWeight(_ param: String, _ c: KerasWeightContext) -> (KerasWeightName, KerasLayout)? {
        switch param {
        case "weight":
            if let f = c.flattenedFrom { (.kernel, .flattenedDense(channels: f[0], height: f[1], width: f[2])) } else { (.kernel, .inOutToOutIn) }
        case "bias": (.bias, .asIs)
        default: nil
        }
    }
}

extension BatchNormKind: KerasWeighted {
    public func kerasWeight(_ param: String, _ c: KerasWeightContext) -> (KerasWeightName, KerasLayout)? {
        switch param {
        case "weight": (.gamma, .asIs)
        case "bias": (.beta, .asIs)
        case "runningMean": (.movingMean, .asIs)
        case "runningVar": (.movingVariance, .asIs)
        default: nil
        }
    }
}

extension ActivationKind: KerasWeighted {}
extension ZeroPadding2DKind: KerasWeighted {}
extension Pool2DKind: KerasWeighted {}
extension GlobalPool2DKind: KerasWeighted {}
extension FlattenKind: KerasWeighted {}
extension ReshapeKind: KerasWeighted {}
extension DropoutKind: KerasWeighted {}
extension LocalResponseNormKind: KerasWeighted {}
extension AddKind: KerasWeighted {}
extension MultiplyKind: KerasWeighted {}
