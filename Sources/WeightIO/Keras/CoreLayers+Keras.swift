import NN
import Zoo

// The Keras side of the core kinds: class names, config comparison, kinds from configs.

/// What a convolution-like layer (Conv2D, DepthwiseConv2D) can disagree on with its Keras config,
/// first the window (kernel, strides, padding), then `between` (the kind's own options), then bias
/// and the (fused) activation.
func kerasConvDisagreement(_ l: KerasLayerConfig, kernel: Int, kernelWidth: Int? = nil, stride: Int, padding: SpecPadding,
                           useBias: Bool, activation a: Activation?, between: () -> KerasDisagreement?) -> KerasDisagreement? {
    let size = [kernel, kernelWidth ?? kernel]
    if let k = l.kernelSize, k != size { return .init("kernel size", file: k, model: size) }
    if let s = l.strides, s != [stride, stride] { return .init("strides", file: s, model: [stride, stride]) }
    if let p = l.padding, p != kerasPadding(padding) { return .init("padding", file: p, model: kerasPadding(padding)) }
    if let d = between() { return d }
    if let b = l.useBias, b != useBias { return .init("use_bias", file: b, model: useBias) }
    if let name = l.activation, name != kerasActivationName(a) {
        return .init("activation", file: name, model: kerasActivationName(a) ?? "\(String(describing: a))")
    }
    return nil
}

extension Conv2DKind: KerasLayer {
    public static var kerasClassNames: [String] { ["Conv2D"] }

    public func kerasDisagreement(_ l: KerasLayerConfig, module: Module?) -> KerasDisagreement? {
        kerasConvDisagreement(l, kernel: kernel, kernelWidth: kernelWidth, stride: stride, padding: padding, useBias: useBias,
                              activation: fusedActivation(module, activation)) {
            if let f = l.filters, f != filters { return KerasDisagreement("filters", file: f, model: filters) }
            if let d = l.dilationRate, d != [dilation, dilation] { return KerasDisagreement("dilation_rate", file: d, model: [dilation, dilation]) }
            if let g = l.groups, g != groups { return KerasDisagreement("groups", file: g, model: groups) }
            return nil
        }
    }

    public static func fromKeras(_ l: KerasLayerConfig) -> Conv2DKind? {
        guard let f = l.filters, let k = l.kernelSize, k.count == 2, let p = kerasPaddingKind(l.padding),
              let a = kerasActivation(l.activation, keras3: l.keras3), let d = square(l.dilationRate ?? [1, 1]),
              d == 1 || k[0] == k[1] else { return nil }
        // Grouped Keras kernels are (kh, kw, C/g, F), filters in group order: the same transpose as groups 1.
        return Conv2DKind(filters: f, kernel: k[0], stride: square(l.strides) ?? 1, padding: p, useBias: l.useBias ?? true,
                          groups: l.groups ?? 1, activation: a, kernelWidth: k[1], dilation: d)
    }
}

extension DenseKind: KerasLayer {
    public static var kerasClassNames: [String] { ["Dense"] }

    public func kerasDisagreement(_ l: KerasLayerConfig, module: Module?) -> KerasDisagreement? {
        if let u = l.units, u != units { return .init("units", file: u, model: units) }
        if !(module is ExtendedDense), let b = l.useBias, b != useBias { return .init("use_bias", file: b, model: useBias) }
        let a = fusedActivation(module, activation)
        if let name = l.activation, name != kerasActivationName(a) {
            return .init("activation", file: name, model: kerasActivationName(a) ?? "?")
        }
        return nil
    }

    public static func fromKeras(_ l: KerasLayerConfig) -> DenseKind? {
        guard let u = l.units, let a = kerasActivation(l.activation, keras3: l.keras3) else { return nil }
        return DenseKind(units: u, useBias: l.useBias ?? true, activation: a)
    }
}

extension BatchNormKind: KerasLayer {
    public static var kerasClassNames: [String] { ["BatchNormalization"] }

    public func kerasDisagreement(_ l: KerasLayerConfig, module: Module?) -> KerasDisagreement? {
        if let e = l.epsilon, !epsilonsAgree(e, Double(epsilon)) {
            var d = KerasDisagreement("BatchNorm epsilon", file: e, model: epsilon)
            d.model += " (build the model with ZooOptions(bnEpsilon:))"
            return d
        }
        if let s = l.scale, s != scale { return .init("BatchNorm scale", file: s, model: scale) }
        return nil
    }

    public static func fromKeras(_ l: KerasLayerConfig) -> BatchNormKind? {
        BatchNormKind(epsilon: Float(l.epsilon ?? 1e-3), scale: l.scale ?? true)
    }
}

extension ActivationKind: KerasLayer {
    /// Keras `ReLU` layers are compared as `Activation`; LeakyReLU, ELU and Softmax layers are read as activations.
    public static var kerasClassNames: [String] { ["Activation", "ReLU", "LeakyReLU", "ELU", "Softmax"] }

    public func kerasDisagreement(_ l: KerasLayerConfig, module: Module?) -> KerasDisagreement? {
        var model = kerasActivationName(activation) ?? "\(activation)"
        if case let .thresholdedReLU(m, s, t) = activation {
            var own = KerasLayerConfig(name: "", className: "ReLU")
            own.maxValue = m.map { Double($0) }; own.negativeSlope = Double(s); own.threshold = Double(t)
            model = Self.reluActivationName(own)
        }
        if l.className == "ReLU" {
            let file = Self.reluActivationName(l)
            return file == model ? nil : .init("activation", file: file, model: model)
        }
        if l.className == "Activation", let name = l.activation, name != kerasActivationName(activation) {
            return .init("activation", file: name, model: model)
        }
        return nil
    }

    public static func fromKeras(_ l: KerasLayerConfig) -> ActivationKind? {
        switch l.className {
        case "ReLU":
            switch reluActivationName(l) {
            case "relu": return ActivationKind(.relu)
            case "relu6": return ActivationKind(.relu6)
            default:
                let slope = Float(l.negativeSlope ?? 0), t = Float(l.threshold ?? 0)
                if l.maxValue == nil, t == 0 { return ActivationKind(.leakyReLU(alpha: slope)) }
                return ActivationKind(.thresholdedReLU(maxValue: l.maxValue.map { Float($0) }, slope: slope, threshold: t))
            }
        case "LeakyReLU": return ActivationKind(.leakyReLU(alpha: Float(l.alpha ?? l.negativeSlope ?? 0.3)))
        case "ELU": return ActivationKind(.elu(alpha: Float(l.alpha ?? 1)))
        case "Softmax": return l.axis == nil || l.axis == -1 ? ActivationKind(.softmax) : nil
        default: break
        }
        guard let a = kerasActivation(l.activation, keras3: l.keras3) else { return nil }
        return ActivationKind(a ?? .linear)
    }

    /// A Keras `ReLU` layer's function as an activation name: `relu`, `relu6` (max_value 6), or the
    /// options spelled out when no Graft activation computes them.
    static func reluActivationName(_ l: KerasLayerConfig) -> String {
        let slope = l.negativeSlope ?? 0, threshold = l.threshold ?? 0
        guard slope == 0, threshold == 0 else {
            return "ReLU(max_value=\(l.maxValue.map { "\($0)" } ?? "None"), negative_slope=\(slope), threshold=\(threshold))"
        }
        switch l.maxValue { case nil: return "relu"; case 6?: return "relu6"; case let m?: return "ReLU(max_value=\(m))" }
    }
}

extension ZeroPadding2DKind: KerasLayer {
    public static var kerasClassNames: [String] { ["ZeroPadding2D"] }

    public func kerasDisagreement(_ l: KerasLayerConfig, module: Module?) -> KerasDisagreement? {
        let own = [top, bottom, left, right]
        if let p = l.zeroPadding, p != own { return .init("zero padding", file: p, model: own) }
        return nil
    }

    public static func fromKeras(_ l: KerasLayerConfig) -> ZeroPadding2DKind? {
        guard let p = l.zeroPadding, p.count == 4 else { return nil }
        return ZeroPadding2DKind(top: p[0], bottom: p[1], left: p[2], right: p[3])
    }
}

extension Pool2DKind: KerasLayer {
    public static var kerasClassNames: [String] { ["MaxPooling2D", "AveragePooling2D"] }

    /// The class name this kind writes: by pooling kind.
    public var kerasClassName: String? { kind == .max ? "MaxPooling2D" : "AveragePooling2D" }

    public func kerasDisagreement(_ l: KerasLayerConfig, module: Module?) -> KerasDisagreement? {
        if let k = l.poolSize, k != [kernel, kernel] { return .init("pool size", file: k, model: [kernel, kernel]) }
        if let s = l.strides, s != [stride, stride] { return .init("strides", file: s, model: [stride, stride]) }
        if let p = l.padding, p != kerasPadding(padding) { return .init("padding", file: p, model: kerasPadding(padding)) }
        // Keras has no ceil rounding (PyTorch/Caffe pools): a Keras config describes floor rounding.
        if ceilMode { return .init("output rounding", file: "floor", model: "ceil") }
        return nil
    }

    public static func fromKeras(_ l: KerasLayerConfig) -> Pool2DKind? {
        guard let k = square(l.poolSize), let p = kerasPaddingKind( l.padding) else { return nil }
        return Pool2DKind(l.className == "MaxPooling2D" ? .max : .average, kernel: k, stride: square(l.strides) ?? k, padding: p)
    }
}

extension GlobalPool2DKind: KerasLayer {
    public static var kerasClassNames: [String] { ["GlobalAveragePooling2D", "GlobalMaxPooling2D"] }
    public var kerasClassName: String? { kind == .max ? "GlobalMaxPooling2D" : "GlobalAveragePooling2D" }

    public func kerasDisagreement(_ l: KerasLayerConfig, module: Module?) -> KerasDisagreement? {
        if let k = l.keepDims, k != keepDims { return .init("keepdims", file: k, model: keepDims) }
        return nil
    }

    public static func fromKeras(_ l: KerasLayerConfig) -> GlobalPool2DKind? {
        GlobalPool2DKind(l.className == "GlobalMaxPooling2D" ? .max : .average, keepDims: l.keepDims ?? false)
    }
}

extension ReshapeKind: KerasLayer {
    public static var kerasClassNames: [String] { ["Reshape"] }

    public func kerasDisagreement(_ l: KerasLayerConfig, module: Module?) -> KerasDisagreement? {
        if let t = l.targetShape, t != targetShape { return .init("target_shape", file: t, model: targetShape) }
        return nil
    }

    /// Only reshapes to a vector (the ones whose element order does not depend on the layout).
    public static func fromKeras(_ l: KerasLayerConfig) -> ReshapeKind? {
        guard let t = l.targetShape, t.count == 1 else { return nil }
        return ReshapeKind(targetShape: t)
    }
}

extension FlattenKind: KerasLayer {
    public static var kerasClassNames: [String] { ["Flatten"] }
    public static func fromKeras(_ l: KerasLayerConfig) -> FlattenKind? { FlattenKind(channelsFirst: l.dataFormat == "channels_first") }
}

extension DropoutKind: KerasLayer {
    /// Noise and spatial dropout are identity at inference too; in training they drop as Dropout does.
    public static var kerasClassNames: [String] { ["Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout"] }
    public static func fromKeras(_ l: KerasLayerConfig) -> DropoutKind? { DropoutKind(rate: Float(l.rate ?? 0)) }
}

extension LocalResponseNormKind: KerasLayer {
    /// No Keras twin: nothing to compare, not written with a class name.
    public static var kerasClassNames: [String] { [] }
    public static func fromKeras(_ l: KerasLayerConfig) -> LocalResponseNormKind? { nil }
}

extension AddKind: KerasLayer {
    public static var kerasClassNames: [String] { ["Add"] }
    public static func fromKeras(_ l: KerasLayerConfig) -> AddKind? { AddKind() }
}

extension MultiplyKind: KerasLayer {
    public static var kerasClassNames: [String] { ["Multiply"] }
    public static func fromKeras(_ l: KerasLayerConfig) -> MultiplyKind? { MultiplyKind() }
}
