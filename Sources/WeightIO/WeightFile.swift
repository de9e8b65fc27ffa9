import Foundation
import TensorCore

/// What a weight file is, decided from its content (never from its extension).
public enum WeightFileFormat: String, Sendable, CaseIterable {
    /// tf_keras / Keras 2 `save_weights('x.h5')`: root attribute `layer_names` (or `layer_names0`, ...).
    case keras2Weights
    /// tf_keras / Keras 2 `model.save('x.h5')`: root attribute `model_config` and group `model_weights`.
    case keras2FullModel
    /// Keras 3 `save_weights('x.weights.h5')`: group `layers/<class>[_k]/vars/0, 1, ...`.
    case keras3Weights
    /// Caffe HDF5 snapshot: `data/<layer>/0, 1, ...` (OIHW kernels, (out, in) inner products).
    case caffe
    /// Graft's own checkpoint: root attribute `graft_format`, one float32 dataset per parameter path.
    case graftNative
}

/// One tensor of a layer. `name` is canonical where the source allows it (`kernel`, `bias`, `gamma`,
/// `beta`, `moving_mean`, `moving_variance`, `depthwise_kernel`, `pointwise_kernel`, `embeddings`;
/// native files use the last path segment, e.g. `weight`), otherwise the raw stored name.
/// `shape` is as stored (Keras HWIO / (in, out); Caffe OIHW / (out, in)); no layout is changed here.
public struct NamedTensor: Sendable {
    public var name: String
    public var shape: [Int]
    public var value: Tensor

    public init(name: String, shape: [Int], value: Tensor) {
        self.name = name
        self.shape = shape
        self.value = value
    }

    /// Shape taken from the tensor.
    public init(name: String, value: Tensor) { self.init(name: name, shape: value.shape, value: value) }
}

/// The tensors of one layer, in file order.
public struct LayerWeights: Sendable {
    public var name: String
    /// As the file states it: Keras 2 `model_config` class (`Conv2D`), Keras 3 snake-case group class
    /// (`conv2d`), Caffe blob-shape guess (`Convolution`, `InnerProduct`, `BatchNorm`, `Scale`); nil if unknown.
    public var className: String?
    public var tensors: [NamedTensor]

    public init(name: String, className: String? = nil, tensors: [NamedTensor]) {
        self.name = name
        self.className = className
        self.tensors = tensors
    }

    public subscript(tensor name: String) -> NamedTensor? { tensors.first { $0.name == name } }
}

/// A weight file read into a neutral form: layers in file order, tensors in file order.
public struct WeightFile: Sendable {
    public var format: WeightFileFormat
    public var path: String
    /// Root `keras_version` (Keras 2 files); nil for Keras 3, Caffe and native files.
    public var kerasVersion: String?
    /// Root `backend` (`tensorflow`, `theano`, ...). A Theano file's conv kernels need a spatial flip;
    /// this layer reports it and leaves the flip to the importer.
    public var backend: String?
    /// Root `model_config` JSON of a Keras 2 full-model file.
    public var modelConfigJSON: String?
    /// Root string attributes of a native file (`graft_format`, `architecture`, ...); empty otherwise.
    public var attributes: [String: String]
    public var layers: [LayerWeights]

    public init(format: WeightFileFormat, path: String, kerasVersion: String? = nil, backend: String? = nil,
                modelConfigJSON: String? = nil, attributes: [String: String] = [:], layers: [LayerWeights]) {
        self.format = format
        self.path = path
        self.kerasVersion = kerasVersion
        self.backend = backend
        self.modelConfigJSON = modelConfigJSON
        self.attributes = attributes
        self.layers = layers
    }

    public func layer(_ name: String) -> LayerWeights? { layers.first { $0.name == name } }

    /// Only the layers that hold tensors.
    public var layersWithWeights: [LayerWeights] { layers.filter { !$0.tensors.isEmpty } }
}

/// Detects the format of a weight file from its content (under the installed `WeightReadPolicy`).
public func detectWeightFileFormat(path: String) throws -> WeightFileFormat {
    try detectWeightFileFormat(path: path, policy: .installed)
}

/// Reads any supported weight file under the installed `WeightReadPolicy` (in a child process when
/// the executable asked for containment; NaN and infinite weights refused unless allowed). Throws
/// `WeightIOError` (one line naming the file, and the layer and tensor where relevant) for missing,
/// non-HDF5, truncated, damaged or unrecognised files, missing datasets and non-float weights.
public func readWeightFile(path: String) throws -> WeightFile {
    try readWeightFile(path: path, policy: .installed)
}

/// `readWeightFile(path:)` in this process, with no non-finite check.
func readWeightFileInProcess(path: String) throws -> WeightFile {
    let file = try HDF5File.open(path)
    let root = try file.root()
    let format = try detectFormat(root)
    switch format {
    case .keras2Weights:
        return WeightFile(format: format, path: path,
                          kerasVersion: try? root.stringAttribute("keras_version"),
                          backend: try? root.stringAttribute("backend"),
                          layers: try readKeras2Layers(root, classes: [:]))
    case .keras2FullModel:
        let weights = try root.group("model_weights")
        let config = try? root.stringAttribute("model_config")
        return WeightFile(format: format, path: path,
                          kerasVersion: (try? root.stringAttribute("keras_version")) ?? (try? weights.stringAttribute("keras_version")),
                          backend: (try? root.stringAttribute("backend")) ?? (try? weights.stringAttribute("backend")),
                          modelConfigJSON: config,
                          layers: try readKeras2Layers(weights, classes: config.map(layerClasses(fromModelConfig:)) ?? [:]))
    case .keras3Weights:
        return WeightFile(format: format, path: path, layers: try readKeras3Layers(root))
    case .caffe:
        return WeightFile(format: format, path: path, layers: try readCaffeLayers(try root.group("data")))
    case .graftNative:
        let checkpoint = try readNativeCheckpoint(root)
        return WeightFile(format: format, path: path, attributes: checkpoint.attributes,
                          layers: nativeLayers(checkpoint.parameters))
    }
}

func detectFormat(_ root: HDF5Group) throws -> WeightFileFormat {
    if root.hasAttribute("graft_format") { return .graftNative }
    if root.hasAttribute("layer_names") || root.hasAttribute("layer_names0") { return .keras2Weights }
    if root.kind(of: "model_weights") == .group {
        if root.hasAttribute("model_config") { return .keras2FullModel }
        let weights = try root.group("model_weights")
        if weights.hasAttribute("layer_names") || weights.hasAttribute("layer_names0") { return .keras2FullModel }
    }
    if root.kind(of: "layers") == .group {
        let layers = try root.group("layers")
        let children = try layers.children()
        if children.isEmpty || children.contains(where: { $0.kind == .group && (layers.kind(of: $0.name + "/vars") == .group
                                                                             || layers.kind(of: $0.name + "/layers") == .group) }) {
            return .keras3Weights
        }
    }
    if root.kind(of: "data") == .group {
        let data = try root.group("data")
        let children = try data.children()
        if !children.isEmpty && children.allSatisfy({ $0.kind == .group }) { return .caffe }
    }
    let names = (try? root.childNames()) ?? []
    let attributes = (try? root.attributeNames()) ?? []
    throw WeightIOError(.unrecognizedFormat, file: root.file.path,
                        "HDF5 file is not a known weight layout (Keras 2/3, Caffe, Graft); root groups/datasets \(names.prefix(8)), "
                        + "root attributes \(attributes.prefix(8))")
}

// MARK: canonical tensor names

private let canonicalNames: [String: String] = [
    "kernel": "kernel", "bias": "bias", "gamma": "gamma", "beta": "beta",
    "moving_mean": "moving_mean", "moving_variance": "moving_variance",
    "depthwise_kernel": "depthwise_kernel", "pointwise_kernel": "pointwise_kernel", "embeddings": "embeddings",
    // Keras 1
    "W": "kernel", "b": "bias", "running_mean": "moving_mean", "running_std": "moving_variance",
    "running_var": "moving_variance", "depthwise_W": "depthwise_kernel", "pointwise_W": "pointwise_kernel",
]

/// `kernel:0` -> kernel; Keras 1 `block1_conv1_W_1:0` (layer block1_conv1) -> kernel;
/// `bn2a_branch2a_running_std:0` -> moving_variance. Unknown names come back without the `:N` suffix.
public func canonicalTensorName(_ raw: String, layer: String) -> String {
    var base = stripOutputIndex(raw)
    if !base.contains("/") && base.hasPrefix(layer + "_") && base.count > layer.count + 1 {
        base = String(base.dropFirst(layer.count + 1))
    }
    if let known = canonicalNames[base] { return known }
    if let range = base.range(of: #"_[0-9]+$"#, options: .regularExpression),
       let known = canonicalNames[String(base[..<range.lowerBound])] {
        return known
    }
    return base
}

/// `kernel:0` -> `kernel` (any `:N`).
func stripOutputIndex(_ name: String) -> String {
    if let range = name.range(of: #":[0-9]+$"#, options: .regularExpression) { return String(name[..<range.lowerBound]) }
    return name
}

/// Appends a tensor to the layer with the given name, creating the layer (in order) if needed.
struct LayerAccumulator {
    var layers: [LayerWeights] = []
    var index: [String: Int] = [:]
    let file: String

    mutating func ensure(_ name: String, className: String?) {
        if index[name] == nil {
            index[name] = layers.count
            layers.append(LayerWeights(name: name, className: className, tensors: []))
        } else if let className, layers[index[name]!].className == nil {
            layers[index[name]!].className = className
        }
    }

    mutating func add(_ tensor: NamedTensor, to name: String, className: String?, rawName: String) throws {
        ensure(name, className: className)
        let i = index[name]!
        if layers[i].tensors.contains(where: { $0.name == tensor.name }) {
            throw WeightIOError(.malformed, file: file, layer: name, tensor: rawName,
                                "two tensors of this layer map to the name '\(tensor.name)'")
        }
        layers[i].tensors.append(tensor)
    }
}

/// Reads a tensor, attaching layer and tensor names to any error.
func readTensor(_ group: HDF5Group, _ path: String, layer: String, tensor: String) throws -> Tensor {
    guard group.kind(of: path) == .dataset else {
        throw WeightIOError(.missingObject, file: group.file.path, layer: layer, tensor: tensor,
                            "dataset '\(group.childPath(path))' is missing (file truncated or written incompletely?)")
    }
    do {
        return try group.dataset(path).readTensor()
    } catch let error as WeightIOError {
        throw error.located(layer: layer, tensor: tensor)
    }
}
