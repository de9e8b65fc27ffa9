import Foundation
import TensorCore

// Writers: Graft's native checkpoint and the Keras 2 legacy weights layout. Both write atomically:
// the file is built at `<dest>.tmp-<pid>` and renamed over the destination only when complete.

/// Runs `body` with a temporary path next to `destination`, then renames it into place. On any error
/// the temporary file is removed and the destination is left as it was.
public func writeAtomically(to destination: String, _ body: (_ temporaryPath: String) throws -> Void) throws {
    let temporary = "\(destination).tmp-\(getpid())"
    unlink(temporary)
    do {
        try body(temporary)
        let fd = open(temporary, O_RDONLY)
        if fd >= 0 { _ = fsync(fd); close(fd) }
        if rename(temporary, destination) != 0 {
            let reason = String(cString: strerror(errno))
            throw WeightIOError(.writeFailed, file: destination, "cannot move the finished file into place (\(reason))")
        }
    } catch let error as WeightIOError {
        unlink(temporary)
        throw error.file == temporary
            ? WeightIOError(error.kind, file: destination, layer: error.layer, tensor: error.tensor, error.detail)
            : error
    } catch {
        unlink(temporary)
        throw error
    }
}

// MARK: native checkpoint

/// A native checkpoint: root string attributes and parameters in saved order.
public struct NativeCheckpoint: Sendable {
    public var attributes: [String: String]
    /// `name` is the full parameter path (`features.0.weight`), `shape` as stored.
    public var parameters: [NamedTensor]

    public subscript(path: String) -> Tensor? { parameters.first { $0.name == path }?.value }
}

/// The current native format version, written as root attribute `graft_format`.
public let graftNativeFormatVersion = "1"

/// Writes a Graft checkpoint: one float32 dataset per parameter, named exactly by its path, under
/// `/params` (`/params/block1_conv1.weight`), the order in `/params@order` (split into `order0`, ... when
/// large), and the given root string attributes (`graft_format` = "1" is added when absent).
public func writeNativeCheckpoint(path: String, parameters: [(path: String, value: Tensor)],
                                  attributes: [String: String] = [:]) throws {
    var seen = Set<String>()
    for (name, _) in parameters {
        guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else {
            throw WeightIOError(.malformed, file: path, tensor: name, "parameter path must be non-empty and contain no '/'")
        }
        guard seen.insert(name).inserted else {
            throw WeightIOError(.malformed, file: path, tensor: name, "parameter path given twice")
        }
    }
    var attributes = attributes
    if attributes["graft_format"] == nil { attributes["graft_format"] = graftNativeFormatVersion }
    try writeAtomically(to: path) { temporary in
        let file = try HDF5File.create(temporary)
        do {
            let root = try file.root()
            for key in attributes.keys.sorted() { try root.setAttribute(key, string: attributes[key]!) }
            let params = try root.createGroup("params")
            try setChunkedStringArray(params, "order", parameters.map(\.path))
            for (name, value) in parameters { try params.writeDataset(name, value) }
        }
        try file.close()
    }
}

/// Reads a native checkpoint written by `writeNativeCheckpoint`.
public func readNativeCheckpoint(path: String) throws -> NativeCheckpoint {
    let file = try HDF5File.open(path)
    let root = try file.root()
    guard root.hasAttribute("graft_format") else {
        throw WeightIOError(.unrecognizedFormat, file: path, "not a Graft checkpoint (no root attribute 'graft_format')")
    }
    return try readNativeCheckpoint(root)
}

func readNativeCheckpoint(_ root: HDF5Group) throws -> NativeCheckpoint {
    let path = root.file.path
    var attributes: [String: String] = [:]
    for name in try root.attributeNames() {
        if let value = try? root.stringAttribute(name) { attributes[name] = value }
    }
    guard root.kind(of: "params") == .group else {
        throw WeightIOError(.missingObject, file: path, "Graft checkpoint has no '/params' group")
    }
    let params = try root.group("params")
    let names = try params.chunkedStringArrayAttribute("order")
        ?? params.children().filter { $0.kind == .dataset }.map(\.name)
    let parameters = try names.map { name in
        NamedTensor(name: name, value: try readTensor(params, name, layer: nativeLayerName(name), tensor: name))
    }
    return NativeCheckpoint(attributes: attributes, parameters: parameters)
}

/// `layer2.0.conv1.weight` -> `layer2.0.conv1`.
func nativeLayerName(_ path: String) -> String {
    guard let dot = path.lastIndex(of: ".") else { return path }
    return String(path[..<dot])
}

/// Groups native parameters by the path before the last `.`; tensor names are the last segment.
func nativeLayers(_ parameters: [NamedTensor]) -> [LayerWeights] {
    var layers: [LayerWeights] = []
    var index: [String: Int] = [:]
    for p in parameters {
        let layer = nativeLayerName(p.name)
        let tensorName = layer == p.name ? p.name : String(p.name[p.name.index(after: p.name.lastIndex(of: ".")!)...])
        if index[layer] == nil {
            index[layer] = layers.count
            layers.append(LayerWeights(name: layer, className: nil, tensors: []))
        }
        layers[index[layer]!].tensors.append(NamedTensor(name: tensorName, shape: p.shape, value: p.value))
    }
    return layers
}

// MARK: Keras 2 legacy weights

/// tf_keras's limit for one attribute before it splits it into `name0`, `name1`, ...
let kerasAttributeLimit = 64512

/// Writes a string array the way tf_keras does: one attribute if it fits in 64512 bytes (counted as
/// count × longest UTF-8 length, numpy's 'S' size), otherwise `name0`, `name1`, ... split like
/// `np.array_split`. Empty arrays become float64[0].
func setChunkedStringArray(_ object: HDF5Object, _ name: String, _ values: [String]) throws {
    let longest = values.map { $0.utf8.count }.max() ?? 0
    var chunks = 1
    func split(_ k: Int) -> [[String]] {
        let base = values.count / k, extra = values.count % k
        var out: [[String]] = [], start = 0
        for i in 0..<k {
            let n = base + (i < extra ? 1 : 0)
            out.append(Array(values[start..<(start + n)]))
            start += n
        }
        return out
    }
    while chunks < max(values.count, 1) && split(chunks).contains(where: { $0.count * longest > kerasAttributeLimit }) {
        chunks += 1
    }
    if chunks == 1 {
        try object.setAttribute(name, strings: values)
    } else {
        for (i, chunk) in split(chunks).enumerated() { try object.setAttribute("\(name)\(i)", strings: chunk) }
    }
}

/// Writes a tf_keras legacy weights file (`save_weights('x.h5')` layout) that `model.load_weights`
/// accepts: root `layer_names` (every given layer, in order), `backend`, `keras_version`; per layer a
/// group with `weight_names` = [`<layer>/<tensor>:0`, ...] (float64[0] when the layer has none) and
/// datasets at `<layer>/<layer>/<tensor>:0`. Tensors are written as given (Keras layouts: HWIO
/// kernels, (in, out) dense kernels) with `NamedTensor.shape` as the stored shape.
public func writeKeras2Weights(path: String, layers: [LayerWeights], backend: String = "tensorflow",
                               kerasVersion: String = "2.21.0") throws {
    var seen = Set<String>()
    for layer in layers {
        guard !layer.name.isEmpty, !layer.name.contains("/"), seen.insert(layer.name).inserted else {
            throw WeightIOError(.malformed, file: path, layer: layer.name,
                                "layer names must be unique, non-empty and contain no '/'")
        }
        var tensorNames = Set<String>()
        for tensor in layer.tensors {
            guard !tensor.name.isEmpty, tensorNames.insert(tensor.name).inserted else {
                throw WeightIOError(.malformed, file: path, layer: layer.name, tensor: tensor.name,
                                    "tensor names must be unique and non-empty within a layer")
            }
            guard tensor.shape.reduce(1, *) == tensor.value.count else {
                throw WeightIOError(.malformed, file: path, layer: layer.name, tensor: tensor.name,
                                    "shape \(tensor.shape) does not hold the tensor's \(tensor.value.count) values")
            }
        }
    }
    try writeAtomically(to: path) { temporary in
        let file = try HDF5File.create(temporary)
        do {
            let root = try file.root()
            try root.setAttribute("backend", string: backend)
            try root.setAttribute("keras_version", string: kerasVersion)
            try setChunkedStringArray(root, "layer_names", layers.map(\.name))
            for layer in layers {
                let group = try root.createGroup(layer.name)
                let weightNames = layer.tensors.map { "\(layer.name)/\($0.name)" + ($0.name.contains(":") ? "" : ":0") }
                try setChunkedStringArray(group, "weight_names", weightNames)
                for (tensor, weightName) in zip(layer.tensors, weightNames) {
                    try group.writeDataset(weightName, tensor.value, shape: tensor.shape)
                }
            }
        }
        try file.close()
    }
}
