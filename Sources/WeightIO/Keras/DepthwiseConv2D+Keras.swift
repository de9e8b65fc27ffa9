import NN
import Zoo

extension DepthwiseConv2DKind: KerasLayer {
    public static var kerasClassNames: [String] { ["DepthwiseConv2D"] }

    public func kerasDisagreement(_ l: KerasLayerConfig, module: Module?) -> KerasDisagreement? {
        if let k = l.kernelSize, k != [kernel, kernel] { return .init("kernel size", file: k, model: [kernel, kernel]) }
        if let s = l.strides, s != [stride, stride] { return .init("strides", file: s, model: [stride, stride]) }
        if let p = l.padding, p != kerasPadding(padding) { return .init("padding", file: p, model: kerasPadding(padding)) }
        if let m = l.depthMultiplier, m != depthMultiplier { return .init("depth_multiplier", file: m, model: depthMultiplier) }
        if let b = l.useBias, b != useBias { return .init("use_bias", file: b, model: useBias) }
        let a = fusedActivation(module, activation)
        if let name = l.activation, name != kerasActivationName(a) {
            return .init("activation", file: name, model: kerasActivationName(a) ?? "\(String(describing: a))")
        }
        return nil
    }

    public static func fromKeras(_ l: KerasLayerConfig) -> DepthwiseConv2DKind? {
        guard let k = square(l.kernelSize), let p = kerasPaddingKind( l.padding), let a = kerasActivation( l.activation) else { return nil }
        return DepthwiseConv2DKind(kernel: k, stride: square(l.strides) ?? 1, padding: p, depthMultiplier: l.depthMultiplier ?? 1,
                                   useBias: l.useBias ?? true, activation: a)
    }
}
