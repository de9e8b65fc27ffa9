import NN
import Zoo

extension SeparableConv2DKind: KerasLayer {
    public static var kerasClassNames: [String] { ["SeparableConv2D"] }

    public func kerasDisagreement(_ l: KerasLayerConfig, module: Module?) -> KerasDisagreement? {
        kerasConvDisagreement(l, kernel: kernel, stride: stride, padding: padding, useBias: useBias, activation: activation) {
            if let f = l.filters, f != filters { return KerasDisagreement("filters", file: f, model: filters) }
            if let m = l.depthMultiplier, m != depthMultiplier { return KerasDisagreement("depth_multiplier", file: m, model: depthMultiplier) }
            if let d = l.dilationRate, d != [dilation, dilation] { return KerasDisagreement("dilation_rate", file: d, model: [dilation, dilation]) }
            return nil
        }
    }

    public static func fromKeras(_ l: KerasLayerConfig) -> SeparableConv2DKind? {
        guard let f = l.filters, let k = square(l.kernelSize), let p = kerasPaddingKind(l.padding),
              let a = kerasActivation(l.activation, keras3: l.keras3), let d = square(l.dilationRate ?? [1, 1]) else { return nil }
        return SeparableConv2DKind(filters: f, kernel: k, stride: square(l.strides) ?? 1, padding: p, depthMultiplier: l.depthMultiplier ?? 1,
                                   dilation: d, useBias: l.useBias ?? true, activation: a)
    }
}
