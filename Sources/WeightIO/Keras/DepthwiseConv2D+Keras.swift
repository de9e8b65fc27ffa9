import NN
import Zoo

extension DepthwiseConv2DKind: KerasLayer {
    public static var kerasClassNames: [String] { ["DepthwiseConv2D"] }

    public func kerasDisagreement(_ l: KerasLayerConfig, module: Module?) -> KerasDisagreement? {
        kerasConvDisagreement(l, kernel: kernel, stride: stride, padding: padding, useBias: useBias,
                              activation: fusedActivation(module, activation)) {
            l.depthMultiplier.flatMap { $0 != depthMultiplier ? KerasDisagreement("depth_multiplier", file: $0, model: depthMultiplier) : nil }
        }
    }

    public static func fromKeras(_ l: KerasLayerConfig) -> DepthwiseConv2DKind? {
        guard let k = square(l.kernelSize), let p = kerasPaddingKind( l.padding), let a = kerasActivation(l.activation, keras3: l.keras3) else { return nil }
        return DepthwiseConv2DKind(kernel: k, stride: square(l.strides) ?? 1, padding: p, depthMultiplier: l.depthMultiplier ?? 1,
                                   useBias: l.useBias ?? true, activation: a)
    }
}
