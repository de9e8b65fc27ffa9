import Foundation
import NN
import Zoo

// Keras layer configs of every kind, for writing a model as a Keras model (KerasModelExport.swift).

private let channelsLast = "channels_last"
private func pair(_ v: Int) -> [Int] { [v, v] }

extension Conv2DKind: KerasConfigWritable {
    public func kerasConfigNode(_ module: Module?) throws -> KerasConfigNode {
        try kerasWindowedNode("Conv2D", ["filters": filters, "kernel_size": [kernelSize.0, kernelSize.1], "strides": pair(stride),
                                         "data_format": channelsLast, "dilation_rate": pair(dilation), "groups": groups, "use_bias": useBias],
                              padding: padding, activation: activation(module))
    }
    private func activation(_ m: Module?) -> Activation? {
        (m as? DilatedConv2D)?.fusedActivation ?? fusedActivation(m, activation)
    }
}

extension DepthwiseConv2DKind: KerasConfigWritable {
    public func kerasConfigNode(_ module: Module?) throws -> KerasConfigNode {
        try kerasWindowedNode("DepthwiseConv2D", ["kernel_size": pair(kernel), "strides": pair(stride), "depth_multiplier": depthMultiplier,
                                                  "data_format": channelsLast, "dilation_rate": pair(1), "use_bias": useBias],
                              padding: padding, activation: fusedActivation(module, activation))
    }
}

extension SeparableConv2DKind: KerasConfigWritable {
    public func kerasConfigNode(_ module: Module?) throws -> KerasConfigNode {
        try kerasWindowedNode("SeparableConv2D", ["filters": filters, "kernel_size": pair(kernel), "strides": pair(stride),
                                                  "depth_multiplier": depthMultiplier, "data_format": channelsLast,
                                                  "dilation_rate": pair(dilation), "use_bias": useBias],
                              padding: padding, activation: (module as? SeparableConv2D)?.fusedActivation ?? activation)
    }
}

extension DenseKind: KerasConfigWritable {
    public func kerasConfigNode(_ module: Module?) throws -> KerasConfigNode {
        var node = KerasConfigNode(KerasConfigLayer("Dense", ["units": units, "use_bias": module is ExtendedDense || useBias]))
        let a = fusedActivation(module, activation)
        if let name = tfKerasActivationName(a) { node.main.config["activation"] = name } else {
            node.main.config["activation"] = "linear"
            if let a { node.after = [("activation", try kerasActivationLayer(a))] }
        }
        return node
    }
}

extension BatchNormKind: KerasConfigWritable {
    public func kerasConfigNode(_ module: Module?) throws -> KerasConfigNode {
        KerasConfigNode(KerasConfigLayer("BatchNormalization", ["axis": -1, "momentum": Double((module as? BatchNorm)?.momentum ?? 0.99),
                                                                "epsilon": Double(epsilon), "center": true, "scale": scale]))
    }
}

extension ActivationKind: KerasConfigWritable {
    public func kerasConfigNode(_ module: Module?) throws -> KerasConfigNode {
        KerasConfigNode(try kerasActivationLayer((module as? ActivationLayer)?.activation ?? activation))
    }
}

extension ZeroPadding2DKind: KerasConfigWritable {
    public func kerasConfigNode(_ module: Module?) throws -> KerasConfigNode {
        KerasConfigNode(KerasConfigLayer("ZeroPadding2D", ["padding": [[top, bottom], [left, right]], "data_format": channelsLast]))
    }
}

extension Pool2DKind: KerasConfigWritable {
    public func kerasConfigNode(_ module: Module?) throws -> KerasConfigNode {
        guard !ceilMode else { throw notExportable("a ceil-mode pooling has no Keras equivalent") }
        let p: String
        switch padding {
        case .valid: p = "valid"
        case .same: p = "same"
        case let .explicit(t, b, l, r):
            guard t + b + l + r == 0 else { throw notExportable("a pooling with explicit padding has no Keras equivalent") }
            p = "valid"
        }
        return KerasConfigNode(KerasConfigLayer(kind == .max ? "MaxPooling2D" : "AveragePooling2D",
                                                ["pool_size": pair(kernel), "strides": pair(stride), "padding": p, "data_format": channelsLast]))
    }
}

extension GlobalPool2DKind: KerasConfigWritable {
    public func kerasConfigNode(_ module: Module?) throws -> KerasConfigNode {
        KerasConfigNode(KerasConfigLayer(kind == .max ? "GlobalMaxPooling2D" : "GlobalAveragePooling2D",
                                         ["data_format": channelsLast, "keepdims": keepDims]))
    }
}

extension FlattenKind: KerasConfigWritable {
    public func kerasConfigNode(_ module: Module?) throws -> KerasConfigNode {
        KerasConfigNode(KerasConfigLayer("Flatten", ["data_format": channelsLast]))
    }
}

extension ReshapeKind: KerasConfigWritable {
    public func kerasConfigNode(_ module: Module?) throws -> KerasConfigNode {
        KerasConfigNode(KerasConfigLayer("Reshape", ["target_shape": targetShape]))
    }
}

extension DropoutKind: KerasConfigWritable {
    public func kerasConfigNode(_ module: Module?) throws -> KerasConfigNode {
        KerasConfigNode(KerasConfigLayer("Dropout", ["rate": Double(rate), "noise_shape": NSNull(), "seed": NSNull()]))
    }
}

extension LocalResponseNormKind: KerasConfigWritable {
    public func kerasConfigNode(_ module: Module?) throws -> KerasConfigNode {
        throw notExportable("local response normalisation has no Keras layer")
    }
}

extension AddKind: KerasConfigWritable {
    public func kerasConfigNode(_ module: Module?) throws -> KerasConfigNode { KerasConfigNode(KerasConfigLayer("Add", [:])) }
}
extension MultiplyKind: KerasConfigWritable {
    public func kerasConfigNode(_ module: Module?) throws -> KerasConfigNode { KerasConfigNode(KerasConfigLayer("Multiply", [:])) }
}
extension SubtractKind: KerasConfigWritable {
    public func kerasConfigNode(_ module: Module?) throws -> KerasConfigNode { KerasConfigNode(KerasConfigLayer("Subtract", [:])) }
}
extension AverageKind: KerasConfigWritable {
    public func kerasConfigNode(_ module: Module?) throws -> KerasConfigNode { KerasConfigNode(KerasConfigLayer("Average", [:])) }
}
extension MaximumKind: KerasConfigWritable {
    public func kerasConfigNode(_ module: Module?) throws -> KerasConfigNode { KerasConfigNode(KerasConfigLayer("Maximum", [:])) }
}
extension ConcatenateKind: KerasConfigWritable {
    public func kerasConfigNode(_ module: Module?) throws -> KerasConfigNode { KerasConfigNode(KerasConfigLayer("Concatenate", ["axis": -1])) }
}

extension Cropping2DKind: KerasConfigWritable {
    public func kerasConfigNode(_ module: Module?) throws -> KerasConfigNode {
        KerasConfigNode(KerasConfigLayer("Cropping2D", ["cropping": [[top, bottom], [left, right]], "data_format": channelsLast]))
    }
}

extension UpSampling2DKind: KerasConfigWritable {
    public func kerasConfigNode(_ module: Module?) throws -> KerasConfigNode {
        KerasConfigNode(KerasConfigLayer("UpSampling2D", ["size": [height, width], "interpolation": "nearest", "data_format": channelsLast]))
    }
}

extension RescalingKind: KerasConfigWritable {
    public func kerasConfigNode(_ module: Module?) throws -> KerasConfigNode {
        func value(_ v: [Float]) -> Any { v.count == 1 ? Double(v[0]) as Any : v.map { Double($0) } }
        return KerasConfigNode(KerasConfigLayer("Rescaling", ["scale": value(scale), "offset": value(offset)]))
    }
}

extension NormalizationKind: KerasConfigWritable {
    /// The statistics in use go into the config (an adapted layer's too).
    public func kerasConfigNode(_ module: Module?) throws -> KerasConfigNode {
        guard let n = module as? Normalization else { throw notExportable("a Normalization without its module") }
        let (m, v) = n.statistics
        return KerasConfigNode(KerasConfigLayer("Normalization", ["axis": [-1], "mean": m.map { Double($0) }, "variance": v.map { Double($0) },
                                                                  "invert": invert]))
    }
}

extension PReLUKind: KerasConfigWritable {
    public func kerasConfigNode(_ module: Module?) throws -> KerasConfigNode {
        let axes = (sharedHeight ? [1] : []) + (sharedWidth ? [2] : []) + (sharedChannels ? [3] : [])
        return KerasConfigNode(KerasConfigLayer("PReLU", ["shared_axes": axes.isEmpty ? NSNull() as Any : axes]))
    }
}

