import NN
import Zoo

extension KerasModelConfig {
    /// The model as a graph of zoo kinds, read through the `KerasLayers` table: one node per Keras
    /// layer with its name and inbound layers (a Sequential's layers read the one before). Nested
    /// models are inlined (see `ModelGraph`): their input layer stands for what feeds them and their
    /// last layer for their output. Throws naming the first layer no kind reads.
    /// `inputSize`: height and width where the file leaves them open (`(None, None, 3)`).
    public func graph(file: String = "", inputSize: Int? = nil) throws -> ModelGraph {
        // A channels_first model (every layer that states a data format says channels_first): Graft's own
        // layout, with the input shape read (C, H, W), channel axes 1 and Flatten in CHW order.
        let formats = layers.compactMap(\.dataFormat)
        let channelsFirst = formats.contains("channels_first")
        if channelsFirst, let l = layers.first(where: { $0.dataFormat == "channels_last" }) {
            throw WeightIOError(.malformed, file: file, "layer '\(l.name)' (\(l.className)) cannot be built: the model mixes channels_first and channels_last layers")
        }
        // Sequential configs without an InputLayer state the input shape on their first layer.
        let explicit = layers.first(where: { $0.className == "InputLayer" && $0.parent == nil })
        // Else a first layer's `batch_input_shape`, a nested model's input layer (Teachable Machine's
        // Sequential of Sequentials) or build shape.
        let known = { (l: KerasLayerConfig) in l.inputShape.map { $0.count == 3 } ?? false }
        guard let shaped = explicit ?? layers.first(where: { $0.parent == nil && known($0) })
                ?? layers.first(where: { $0.className == "InputLayer" && known($0) }) ?? layers.first(where: known),
              let dims = shaped.inputShape, dims.count == 3, let c = dims[channelsFirst ? 0 : 2] else {
            throw WeightIOError(.malformed, file: file, "model_config has no input layer of known (H, W, C)")
        }
        guard let h = dims[channelsFirst ? 1 : 0] ?? inputSize, let w = dims[channelsFirst ? 2 : 1] ?? inputSize else {
            throw WeightIOError(.malformed, file: file, "the model's input size is not fixed in the file "
                                + "(\(dims.map { $0.map(String.init) ?? "None" }.joined(separator: ", "))): give --input-size N")
        }
        let inputName = explicit?.name ?? "input"
        if channelsFirst, let l = layers.first(where: { !channelsFirstClasses.contains($0.className) }) {
            throw WeightIOError(.malformed, file: file, "layer '\(l.name)' (\(l.className)) cannot be built: data_format channels_first is not supported for this class")
        }
        var nodes: [Node] = []
        var rename: [String: String] = [:]   // nested input/container name -> the node it stands for
        func resolve(_ n: String) -> String { rename[n].map(resolve) ?? n }

        func visit(_ parent: String?, feeding: String?, sequential: Bool) throws -> String? {
            var previous = feeding
            for l in layers where l.parent == parent {
                if l.className == "InputLayer" {
                    if parent == nil { previous = l.name } else if let feeding { rename[l.name] = feeding }
                    continue
                }
                let inbound = l.inbound.map(resolve)
                if ["Functional", "Sequential", "Model"].contains(l.className) {
                    let out = try visit(l.name, feeding: inbound.first ?? previous, sequential: l.className == "Sequential")
                    if let out { rename[l.name] = out }
                    previous = out ?? previous
                    continue
                }
                var l = l
                if channelsFirst {   // channels are axis 1; a Flatten (Keras 1 states no ordering on it) flattens CHW
                    l.axis = l.axis == 1 ? -1 : l.axis == -1 ? 1 : l.axis
                    l.dataFormat = "channels_first"
                }
                guard let kind = KerasLayers.kind(l) else {
                    throw WeightIOError(.malformed, file: file, "layer '\(l.name)' (\(l.className)) cannot be built: \(unbuildableReason(l))")
                }
                let inputs = (sequential || inbound.isEmpty) ? previous.map { [$0] } ?? [] : inbound
                nodes.append(Node(name: l.name, layer: kind, inputs: inputs))
                previous = l.name
            }
            return previous
        }
        let output = try visit(nil, feeding: explicit == nil ? inputName : nil, sequential: className == "Sequential")
        return try ModelGraph(input: inputName, inputShape: [c, h, w], nodes: nodes, output: output.map(resolve))
    }
}

/// Classes whose channels_first form Graft builds (their options do not depend on the layout beyond
/// the channel axis and Flatten's order).
private let channelsFirstClasses: Set<String> = [
    "InputLayer", "Functional", "Sequential", "Model", "Conv2D", "DepthwiseConv2D", "SeparableConv2D", "BatchNormalization",
    "Activation", "ReLU", "LeakyReLU", "ELU", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D",
    "GlobalMaxPooling2D", "Flatten", "Dense", "Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "ZeroPadding2D",
    "Cropping2D", "UpSampling2D", "Add", "Subtract", "Multiply", "Average", "Maximum", "Concatenate",
]

/// Why no kind reads a layer config: the first option Graft cannot build, named.
func unbuildableReason(_ l: KerasLayerConfig) -> String {
    if l.className == "Lambda" || l.className == "TFOpLambda" { return "it holds Python code" }
    if let m = l.mergeMode { return "merge mode '\(m)' is not supported" }
    guard KerasLayers.byClassName[l.className] != nil else { return "Graft has no layer kind for this class" }
    if let a = l.activation, kerasActivation(a, keras3: l.keras3) == nil { return "activation '\(a)' is not supported" }
    if let p = l.padding, kerasPaddingKind(p) == nil { return "padding '\(p)' is not supported" }
    if let d = l.dilationRate, d.count == 2, d[0] != d[1] { return "dilation_rate \(d) is not supported (square dilation only)" }
    if let s = l.strides, s.count == 2, s[0] != s[1] { return "strides \(s) are not supported (square strides only)" }
    if let i = l.interpolation, i != "nearest" { return "interpolation '\(i)' is not supported (nearest only)" }
    if l.className == "Softmax" || l.className == "Concatenate", let a = l.axis, a != -1 { return "axis \(a) is not supported (channels, -1, only)" }
    return "an option is not supported (\(l.summary))"
}
