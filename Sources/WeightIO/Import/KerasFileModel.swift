import Foundation
import NN
import Zoo

// A model built from the architecture a Keras file carries (its `model_config`), not from the zoo:
// the graph is the file's, so its weights load by the file's own layer names.

/// The `ZooModel` a Keras `model_config` describes: the trunk is every node before the last Dense (the
/// classifier), the head that Dense and what follows it (a separate softmax Activation, say). Throws
/// naming the first layer that cannot be built.
public func kerasModel(_ config: KerasModelConfig, file: String, inputSize: Int? = nil) throws -> ZooModel {
    let file = config.source ?? file   // an architecture sidecar's problems name the sidecar
    let g = try config.graph(file: file, inputSize: inputSize).flattened()
    let split = g.nodes.lastIndex { $0.layer is DenseKind } ?? g.nodes.count
    let headNodes = Array(g.nodes[split...])
    let trunkOutput = headNodes.first?.inputs.first ?? g.output
    let trunk = try ModelGraph(input: g.input, inputShape: g.inputShape, nodes: Array(g.nodes[..<split]), output: trunkOutput)
    let known = Set(headNodes.map(\.name) + [trunkOutput])
    if let n = headNodes.first(where: { !$0.inputs.allSatisfy(known.contains) }) {
        throw WeightIOError(.malformed, file: file, layer: n.name, "cannot be built: the classifier's layers read layers before it other than '\(trunkOutput)'")
    }
    let head = try ModelGraph(input: trunkOutput, inputShape: trunk.outputShape, nodes: headNodes, output: g.output)
    let dense = headNodes.first?.layer as? DenseKind
    // ZooActivation's raw values are Keras's activation names.
    let activation = ZooActivation(rawValue: kerasActivationName(dense?.activation) ?? "linear") ?? .linear
    let recipe = HeadRecipe(defaultPooling: .flatten, outputName: headNodes.first?.name ?? "predictions", outputActivation: activation)
    let eps = g.nodes.compactMap { ($0.layer as? BatchNormKind)?.epsilon }.first
    let spec = ModelSpec(architecture: "keras:" + (config.name ?? "model"), trunk: trunk, head: head, headRecipe: recipe,
                         bnEpsilon: eps, preprocessing: .none)
    return ZooModel(spec: spec)
}

/// Reads a Keras model file, its kind found from its content: a Keras 2 / tf.keras or Keras 3 legacy
/// full-model `.h5` (`model_config`), a Keras 3 `.keras` archive, or a weights-only `.h5` (Keras 2
/// `save_weights`, Keras 3 `.weights.h5`) with `architecture` (what `to_json()`/`to_yaml()` wrote;
/// it also overrides a full-model file's own). The model is built, or refused naming the first layer
/// it cannot build, before any weight is read; the weights then load all-or-nothing by layer name.
/// `inputSize`: height and width where the file leaves them open.
public func loadKerasModel(path: String, architecture: KerasModelConfig? = nil, inputSize: Int? = nil) throws
    -> (model: ZooModel, report: ImportReport) {
    let (config, weights) = try readKerasModelFile(path: path, architecture: architecture)
    let model = try kerasModel(config, file: path, inputSize: inputSize)
    return (model, try importKerasFileWeights(try weights(), into: model, config: config))
}

/// A Keras model file's architecture (read first, cheaply) and a reader of its weights.
func readKerasModelFile(path: String, architecture: KerasModelConfig?) throws -> (config: KerasModelConfig, weights: () throws -> WeightFile) {
    switch try modelFileContainer(path: path) {
    case .zip:
        let archive = try readKerasArchive(path: path)
        return (try architecture ?? parseKerasModelConfig(archive.configJSON, file: path), { archive.weights })
    case .hdf5:
        if let architecture { return (architecture, { try readWeightFile(path: path) }) }
        // One read under the installed policy (a damaged file's libhdf5 crash stays in the child
        // process), which also brings the model_config.
        let file = try readWeightFile(path: path)
        let format = file.format
        if format == .keras2FullModel, let json = file.modelConfigJSON {
            return (try parseKerasModelConfig(json, file: path), { file })
        }
        throw WeightIOError(.missingObject, file: path, format == .keras2Weights || format == .keras3Weights
            ? "a weights-only Keras file: give its architecture too (--architecture model.json|model.yaml)"
            : "not a Keras model file: it has no model_config (a weights-only file needs its architecture)")
    case .json, .text:
        throw WeightIOError(.notHDF5, file: path, "an architecture file, not a model: pass it as --architecture with the weights file as --model")
    }
}

/// A Keras model file set up for fine-tuning on `classCount` classes: the last Dense emits logits (its
/// activation, and the Activation/Softmax layers after it, become linear: the losses apply softmax)
/// and has `classCount` units. When that differs from the file's, the Dense starts fresh and its file
/// weights are ignored (`newHead`); every other weight loads as for `loadKerasModel`.
public func loadKerasModelForTraining(path: String, architecture: KerasModelConfig? = nil, classCount: Int, inputSize: Int? = nil) throws
    -> (model: ZooModel, report: ImportReport, newHead: Bool) {
    var (config, weights) = try readKerasModelFile(path: path, architecture: architecture)
    guard let last = config.layers.lastIndex(where: { $0.className == "Dense" }) else {
        throw WeightIOError(.malformed, file: config.source ?? path, "the model has no Dense layer to train as its classifier")
    }
    let newHead = config.layers[last].units != classCount
    config.layers[last].units = classCount
    config.layers[last].activation = "linear"
    for i in config.layers.indices.dropFirst(last + 1) where ["Activation", "Softmax"].contains(config.layers[i].className) {
        config.layers[i].className = "Activation"
        config.layers[i].activation = "linear"
    }
    let model = try kerasModel(config, file: path, inputSize: inputSize)
    var file = try weights()
    if newHead {   // the old classifier's tensors are not the new one's
        file.layers.removeAll { $0.name == config.layers[last].name }
    }
    return (model, try importKerasFileWeights(file, into: model, config: config, skipping: newHead ? config.layers[last].name : nil), newHead)
}

/// Whether the file at `path` carries its architecture (a Keras full-model `.h5` or a `.keras` archive).
public func isKerasModelFile(path: String) throws -> Bool {
    switch try modelFileContainer(path: path) {
    case .zip: return true
    case .hdf5: return try detectWeightFileFormat(path: path) == .keras2FullModel
    case .json, .text: return false
    }
}

/// Keras 3 variable names by class for the classes whose `.weights.h5` groups the reader cannot name
/// from the group name alone.
private let keras3VariablesByClass: [String: [String]] = ["PReLU": ["alpha"], "Normalization": ["mean", "variance", "count"]]

/// Imports a Keras file's weights into the model its own architecture describes (nothing to compare).
func importKerasFileWeights(_ file: WeightFile, into model: ZooModel, config: KerasModelConfig, skipping: String? = nil) throws -> ImportReport {
    var file = file
    // Keras 1 'th' ordering: convolution kernels stored OIHW (transposed to Keras 2's HWIO here), and
    // Theano's (flipped by the importer) when the file names no backend, as Keras 1.0/1.1 files.
    if config.layers.contains(where: \.theanoOrdering) {
        if file.backend == nil { file.backend = "theano" }
        for i in file.layers.indices {
            guard let l = config.layer(file.layers[i].name), l.className == "Conv2D", let f = l.filters, let ks = l.kernelSize else { continue }
            for j in file.layers[i].tensors.indices where file.layers[i].tensors[j].name == "kernel" {
                let k = file.layers[i].tensors[j].value
                if k.shape.count == 4, k.shape[0] == f, Array(k.shape[2...]) == ks {   // (F, C, kh, kw)
                    file.layers[i].tensors[j] = NamedTensor(name: "kernel", value: KerasLayout.hwioToOihw.toKeras(k))
                }
            }
        }
    }
    // Keras 3 `.weights.h5` stores variables by index (`vars/0`): name them from the layer's class.
    for i in file.layers.indices {
        guard let cls = config.layer(file.layers[i].name)?.className else { continue }
        if cls == "DepthwiseConv2D" {   // Keras 3 names its depthwise kernel `kernel`
            for j in file.layers[i].tensors.indices where file.layers[i].tensors[j].name == "kernel" {
                file.layers[i].tensors[j].name = "depthwise_kernel"
            }
        }
        guard let names = keras3VariablesByClass[cls] else { continue }
        for j in file.layers[i].tensors.indices where j < names.count && Int(file.layers[i].tensors[j].name) == j {
            file.layers[i].tensors[j].name = names[j]
        }
    }
    // Keras 3 legacy `.h5` names a Sequential's weights by path: `sequential/conv2d/kernel` in group
    // `conv2d`; the tensor is the last segment.
    for i in file.layers.indices {
        let layer = file.layers[i].name
        for j in file.layers[i].tensors.indices {
            let parts = file.layers[i].tensors[j].name.split(separator: "/").map(String.init)
            if parts.count >= 2, parts[parts.count - 2] == layer {
                file.layers[i].tensors[j].name = canonicalTensorName(parts[parts.count - 1], layer: layer)
            }
        }
    }
    return try model.importWeights(file, options: ImportOptions(checkArchitecture: false, skip: { path in
        skipping.map { path.hasPrefix($0 + ".") } ?? false
    }))
}
