import Foundation
import TensorCore
import NN
import Zoo

// `finetune export --format keras-h5` for a whole model: a tf_keras full-model `.h5` (root
// `model_config`, `model_weights/`) that `tf_keras.models.load_model()` loads. The config is written
// from the graph, one Keras layer per node (`KerasConfigWritable`), with weightless layers added where
// Keras needs them: a fused activation tf_keras has no function name for becomes a layer after its
// node, explicit convolution padding a ZeroPadding2D before it.

/// One Keras layer of an exported config.
public struct KerasConfigLayer {
    public var className: String
    /// The layer's `config`, without `name` (the writer adds it).
    public var config: [String: Any]
    public init(_ className: String, _ config: [String: Any]) { self.className = className; self.config = config }
}

/// A node as Keras layers: `main` carries the node's name and weights; `before`/`after` are weightless
/// layers named `<node>_<suffix>`.
public struct KerasConfigNode {
    public var before: [(suffix: String, layer: KerasConfigLayer)] = []
    public var main: KerasConfigLayer
    public var after: [(suffix: String, layer: KerasConfigLayer)] = []
    public init(_ main: KerasConfigLayer) { self.main = main }
}

/// A kind whose Keras layer config can be written (`module`: the node's module now, for its fused activation).
public protocol KerasConfigWritable {
    func kerasConfigNode(_ module: Module?) throws -> KerasConfigNode
}

/// Why a model cannot be written as a Keras model.
func notExportable(_ what: String) -> WeightIOError {
    WeightIOError(.writeFailed, file: "", "cannot be written as a Keras model: \(what)")
}

/// Names tf_keras's `activations.get` knows, for `activation=` arguments and Activation layers.
func tfKerasActivationName(_ a: Activation?) -> String? {
    switch a {
    case nil, .linear?: "linear"
    case .relu?: "relu"
    case .tanh?: "tanh"
    case .sigmoid?: "sigmoid"
    case .softmax?: "softmax"
    case .elu(alpha: 1)?: "elu"
    case .selu?: "selu"
    case .swish?: "swish"
    case .gelu?: "gelu"
    case .softplus?: "softplus"
    case .softsign?: "softsign"
    case .exponential?: "exponential"
    case .hardSigmoid(slope: 0.2)?: "hard_sigmoid"
    default: nil
    }
}

/// A standalone Keras layer computing `a`.
func kerasActivationLayer(_ a: Activation) throws -> KerasConfigLayer {
    if let name = tfKerasActivationName(a) { return KerasConfigLayer("Activation", ["activation": name]) }
    switch a {
    case .relu6: return KerasConfigLayer("ReLU", ["max_value": 6.0, "negative_slope": 0.0, "threshold": 0.0])
    case let .thresholdedReLU(m, s, t):
        return KerasConfigLayer("ReLU", ["max_value": m.map { Double($0) as Any } ?? NSNull(), "negative_slope": Double(s), "threshold": Double(t)])
    case let .leakyReLU(alpha): return KerasConfigLayer("LeakyReLU", ["alpha": Double(alpha)])
    case let .elu(alpha): return KerasConfigLayer("ELU", ["alpha": Double(alpha)])
    default: throw notExportable("activation \(a) has no Keras equivalent")
    }
}

/// A windowed layer's node: `activation` as the `activation=` argument where tf_keras names it, else a
/// layer after; explicit padding as a ZeroPadding2D before and 'valid'.
func kerasWindowedNode(_ className: String, _ config: [String: Any], padding: SpecPadding, activation: Activation?) throws -> KerasConfigNode {
    var c = config
    var node = KerasConfigNode(KerasConfigLayer(className, c))
    switch padding {
    case .valid: c["padding"] = "valid"
    case .same: c["padding"] = "same"
    case let .explicit(t, b, l, r):
        c["padding"] = "valid"
        if t + b + l + r > 0 { node.before = [("pad", KerasConfigLayer("ZeroPadding2D", ["padding": [[t, b], [l, r]], "data_format": "channels_last"]))] }
    }
    if let name = tfKerasActivationName(activation) { c["activation"] = name } else {
        c["activation"] = "linear"
        if let a = activation { node.after = [("activation", try kerasActivationLayer(a))] }
    }
    node.main.config = c
    return node
}

extension ZooModel {
    /// The model as a tf_keras Functional `model_config` (JSON) and its layers' weights in the same
    /// `model.layers` order. `outputActivation` (a model trained on logits) is appended as a layer.
    public func kerasModelConfig(outputActivation: Activation? = nil) throws -> (json: String, layers: [LayerWeights]) {
        let g = try graph.flattened()
        if g.nodes.contains(where: { ($0.layer as? FlattenKind)?.channelsFirst == true }) {
            throw notExportable("the model came from a channels_first file (Flatten order)")
        }
        let modules = Dictionary(namedNodes.map { ($0.node.name, $0.module) }, uniquingKeysWith: { a, _ in a })
        var entries: [(name: String, layer: KerasConfigLayer, inputs: [String])] = []
        var rename: [String: String] = [:]   // node -> the Keras layer standing for its output
        for n in g.nodes {
            guard let w = n.layer as? any KerasConfigWritable else {
                throw notExportable("layer '\(n.name)' (\(String(describing: type(of: n.layer)))) has no Keras class")
            }
            let node = try w.kerasConfigNode(modules[n.name])
            var inputs = n.inputs.map { rename[$0] ?? $0 }
            for (suffix, layer) in node.before {
                entries.append(("\(n.name)_\(suffix)", layer, inputs))
                inputs = ["\(n.name)_\(suffix)"]
            }
            entries.append((n.name, node.main, inputs))
            var last = n.name
            for (suffix, layer) in node.after {
                entries.append(("\(n.name)_\(suffix)", layer, [last]))
                last = "\(n.name)_\(suffix)"
            }
            rename[n.name] = last
        }
        var output = rename[g.output] ?? g.output
        if let a = outputActivation, a != .linear {
            entries.append(("\(g.output)_probabilities", try kerasActivationLayer(a), [output]))
            output = "\(g.output)_probabilities"
        }
        let inputName = g.input
        let order = WeightIO.kerasLayerOrder(nodes: [(inputName, [])] + entries.map { ($0.name, $0.inputs) }, output: output)
        let byName = Dictionary(entries.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let (c, h, w) = (inputShape[0], inputShape[1], inputShape[2])
        var layers: [[String: Any]] = []
        for name in order {
            if name == inputName {
                layers.append(["class_name": "InputLayer", "name": name, "inbound_nodes": [] as [Any],
                               "config": ["batch_input_shape": [NSNull(), h, w, c], "dtype": "float32", "sparse": false, "ragged": false, "name": name]])
                continue
            }
            guard let e = byName[name] else { continue }
            var config = e.layer.config
            config["name"] = name
            config["trainable"] = true
            config["dtype"] = "float32"
            layers.append(["class_name": e.layer.className, "name": name, "config": config,
                           "inbound_nodes": [e.inputs.map { [$0, 0, 0, [String: Any]()] as [Any] }]])
        }
        let root: [String: Any] = [
            "class_name": "Functional",
            "config": ["name": architecture.hasPrefix("keras:") ? String(architecture.dropFirst(6)) : architecture, "layers": layers,
                       "input_layers": [[inputName, 0, 0]], "output_layers": [[output, 0, 0]]] as [String: Any],
            "keras_version": "2.21.0", "backend": "tensorflow",
        ]
        let data = try JSONSerialization.data(withJSONObject: root, options: [.sortedKeys])
        // Weights: the model's Keras layers, in the config's order; Normalization statistics are in its config.
        let weights = Dictionary(try kerasLayerWeights().map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let fixedStatistics = Set(g.nodes.filter { $0.layer is NormalizationKind }.map(\.name))
        let ordered = order.map { name -> LayerWeights in
            var l = weights[name] ?? LayerWeights(name: name, className: byName[name]?.layer.className, tensors: [])
            if fixedStatistics.contains(name) { l.tensors = [] }
            l.className = name == inputName ? "InputLayer" : byName[name]?.layer.className
            return l
        }
        return (String(decoding: data, as: UTF8.self), ordered)
    }

    /// Writes the whole model as a tf_keras full-model `.h5` (atomically): `tf_keras.models.load_model()`
    /// builds it and reproduces Graft's outputs (with `outputActivation` appended for a logits model).
    public func exportKerasModel(to path: String, outputActivation: Activation? = nil) throws {
        let (json, layers) = try kerasModelConfig(outputActivation: outputActivation)
        try writeAtomically(to: path) { temporary in
            let file = try HDF5File.create(temporary)
            do {
                let root = try file.root()
                try root.setAttribute("backend", string: "tensorflow")
                try root.setAttribute("keras_version", string: "2.21.0")
                try root.setAttribute("model_config", string: json)
                let weights = try root.createGroup("model_weights")
                try weights.setAttribute("backend", string: "tensorflow")
                try weights.setAttribute("keras_version", string: "2.21.0")
                try setChunkedStringArray(weights, "layer_names", layers.map(\.name))
                for layer in layers {
                    let group = try weights.createGroup(layer.name)
                    let names = layer.tensors.map { "\(layer.name)/\($0.name):0" }
                    try setChunkedStringArray(group, "weight_names", names)
                    for (t, n) in zip(layer.tensors, names) { try group.writeDataset(n, t.value, shape: t.shape) }
                }
            }
            try file.close()
        }
    }
}

/// `kerasLayerOrder` over plain (name, inputs) nodes.
func kerasLayerOrder(nodes: [(String, [String])], output: String) -> [String] {
    let inputs = Dictionary(nodes.map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a })
    var index: [String: Int] = [:]
    var order: [String] = []
    func visit(_ name: String) {
        if index[name] != nil { return }
        index[name] = -1
        for i in inputs[name] ?? [] { visit(i) }
        index[name] = order.count
        order.append(name)
    }
    visit(output)
    for n in nodes { visit(n.0) }
    var depth: [String: Int] = [:]
    for name in order.reversed() {
        let d = depth[name, default: 0]
        for i in inputs[name] ?? [] { depth[i] = max(depth[i, default: 0], d + 1) }
    }
    return order.sorted { a, b in
        let da = depth[a, default: 0], db = depth[b, default: 0]
        return da != db ? da > db : index[a]! < index[b]!
    }
}
