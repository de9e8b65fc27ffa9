import Foundation
import TensorCore

// Readers for the Keras 2 legacy layout, the Keras 3 `.weights.h5` layout and the Caffe HDF5 layout.
// See docs FORMATS.md for the layouts; HDF5 lists children alphabetically, so order always comes
// from attributes (Keras 2) or from object addresses (Keras 3, Caffe), never from iteration.

// MARK: Keras 2

private let nestedModelClasses: Set<String> = ["Functional", "Sequential", "Model"]

/// Layer name -> class name from a Keras 2 `model_config`, including layers of nested models.
func layerClasses(fromModelConfig json: String) -> [String: String] {
    guard let data = json.data(using: .utf8),
          let object = try? JSONSerialization.jsonObject(with: data) else { return [:] }
    var classes: [String: String] = [:]
    func visit(_ layer: Any) {
        guard let dict = layer as? [String: Any], let className = dict["class_name"] as? String else { return }
        let config = dict["config"] as? [String: Any]
        if let name = (config?["name"] as? String) ?? (dict["name"] as? String) { classes[name] = className }
        if let inner = config?["layers"] as? [Any] { inner.forEach(visit) }
    }
    if let root = object as? [String: Any] {
        if let inner = (root["config"] as? [String: Any])?["layers"] as? [Any] { inner.forEach(visit) }
        else if let inner = root["config"] as? [Any] { inner.forEach(visit) }   // very old Sequential configs
    }
    return classes
}

/// Reads `layer_names` (or its split form) and each layer's `weight_names`, in that order. Tensors of
/// a nested model's group (`vgg16/block1_conv1/kernel:0`) are assigned to their inner layers.
func readKeras2Layers(_ group: HDF5Group, classes: [String: String]) throws -> [LayerWeights] {
    let path = group.file.path
    guard let layerNames = try group.chunkedStringArrayAttribute("layer_names") else {
        throw WeightIOError(.missingObject, file: path, "group '\(group.name)' has no 'layer_names' attribute")
    }
    var result = LayerAccumulator(file: path)
    for layerName in layerNames {
        guard group.kind(of: layerName) == .group else {
            throw WeightIOError(.missingObject, file: path, layer: layerName,
                                "listed in layer_names but its group is missing (file truncated or written incompletely?)")
        }
        let layerGroup = try group.group(layerName)
        let weightNames: [String]
        do {
            weightNames = try layerGroup.chunkedStringArrayAttribute("weight_names") ?? []
        } catch let error as WeightIOError {
            throw error.located(layer: layerName, tensor: nil)
        }
        let groupClass = classes[layerName]
        let nested: Bool? = groupClass.map { nestedModelClasses.contains($0) }
        if weightNames.isEmpty {
            if nested != true { result.ensure(layerName, className: groupClass) }
            continue
        }
        for weightName in weightNames {
            let (inner, tensorName) = splitKeras2WeightName(weightName, group: layerName, nested: nested)
            let value = try readTensor(layerGroup, weightName, layer: layerName, tensor: weightName)
            let innerClass = inner == layerName ? groupClass : classes[inner]
            try result.add(NamedTensor(name: tensorName, value: value), to: inner, className: innerClass, rawName: weightName)
        }
    }
    return result.layers
}

/// Splits a Keras 2 weight name into (layer, canonical tensor name).
/// - `c1/kernel:0` in group `c1` -> (c1, kernel); `lstm/lstm_cell/kernel:0` in `lstm` -> (lstm, lstm_cell/kernel).
/// - Keras 1 `conv1_W_1:0` in `conv1` -> (conv1, kernel).
/// - Nested model group `vgg16` with `block1_conv1/kernel:0` or `vgg16/block1_conv1/kernel:0` ->
///   (block1_conv1, kernel). A group is nested when the model config says Functional/Sequential/Model,
///   or, with no config, when the weight name's first segment is not the group's name.
func splitKeras2WeightName(_ weightName: String, group: String, nested: Bool?) -> (layer: String, tensor: String) {
    var parts = stripOutputIndex(weightName).split(separator: "/").map(String.init)
    let isNested = nested ?? (parts.count >= 2 && parts[0] != group)
    if isNested {
        if parts.count >= 2 && parts[0] == group { parts.removeFirst() }
        guard parts.count >= 2 else { return (group, canonicalTensorName(parts.joined(separator: "/"), layer: group)) }
        let layer = parts[parts.count - 2]
        return (layer, canonicalTensorName(parts[parts.count - 1], layer: layer))
    }
    if parts.count >= 2 && parts[0] == group { parts.removeFirst() }
    return (group, canonicalTensorName(parts.joined(separator: "/"), layer: group))
}

// MARK: Keras 3

/// Canonical variable names by (snake-case) class, in `layer.weights` order.
private let keras3VariableNames: [String: [String]] = [
    "conv1d": ["kernel", "bias"], "conv2d": ["kernel", "bias"], "conv3d": ["kernel", "bias"],
    "conv1d_transpose": ["kernel", "bias"], "conv2d_transpose": ["kernel", "bias"], "conv3d_transpose": ["kernel", "bias"],
    "dense": ["kernel", "bias"],
    "depthwise_conv2d": ["depthwise_kernel", "bias"], "depthwise_conv1d": ["depthwise_kernel", "bias"],
    "separable_conv2d": ["depthwise_kernel", "pointwise_kernel", "bias"],
    "separable_conv1d": ["depthwise_kernel", "pointwise_kernel", "bias"],
    "batch_normalization": ["gamma", "beta", "moving_mean", "moving_variance"],
    "layer_normalization": ["gamma", "beta"],
    "embedding": ["embeddings"],
]

/// `conv2d_12` -> (conv2d, 12); `conv2d` -> (conv2d, 0).
func splitKeras3GroupName(_ name: String) -> (className: String, index: Int) {
    if let range = name.range(of: #"_[0-9]+$"#, options: .regularExpression),
       let k = Int(name[name.index(after: range.lowerBound)...]) {
        return (String(name[..<range.lowerBound]), k)
    }
    return (name, 0)
}

/// Children of a Keras 3 `layers` group in model order, as far as the file allows. Keras keeps no
/// order, but it names groups by class plus a per-class counter in model order (`conv2d`, `conv2d_1`,
/// ..., `conv2d_10`), so the order *within* a class is exact. Across classes, object-header addresses
/// approximate creation order (Keras writes layers in model order into a fresh file, but HDF5 reuses
/// freed space, so a few groups can land early): the address order decides which class comes at each
/// position, and each class's members fill its positions in counter order. Without usable addresses
/// the order is class name, then counter.
func keras3ModelOrder(_ children: [HDF5Child]) -> [HDF5Child] {
    let byCounter: (HDF5Child, HDF5Child) -> Bool = {
        let a = splitKeras3GroupName($0.name), b = splitKeras3GroupName($1.name)
        return a.className != b.className ? a.className < b.className : a.index < b.index
    }
    guard Set(children.map(\.address)).count == children.count, !children.contains(where: { $0.address == 0 }) else {
        return children.sorted(by: byCounter)
    }
    let byAddress = children.sorted { $0.address < $1.address }
    var queues: [String: [HDF5Child]] = [:]
    for child in children.sorted(by: byCounter) { queues[splitKeras3GroupName(child.name).className, default: []].append(child) }
    var next: [String: Int] = [:]
    return byAddress.map { slot in
        let cls = splitKeras3GroupName(slot.name).className
        let k = next[cls, default: 0]
        next[cls] = k + 1
        return queues[cls]![k]
    }
}

/// The groups a recursive read has entered, by object address: a hard link back to an enclosing
/// group (a cycle) or to a group already read is refused, and nesting is bounded, so a damaged file
/// cannot make a walk endless or exponential.
final class GroupWalk {
    static let maxDepth = 32
    private var visited: Set<UInt64> = []

    func enter(_ child: HDF5Child, of parent: HDF5Group, depth: Int) throws {
        guard depth < GroupWalk.maxDepth else {
            throw WeightIOError(.malformed, file: parent.file.path,
                                "groups nest deeper than \(GroupWalk.maxDepth) levels at '\(parent.childPath(child.name))' (the file is damaged)")
        }
        guard child.address == 0 || visited.insert(child.address).inserted else {
            throw WeightIOError(.malformed, file: parent.file.path,
                                "group '\(parent.childPath(child.name))' links back to a group already read (a link cycle; the file is damaged)")
        }
    }
}

/// Reads `layers/<class>[_k]/vars/<i>`; nested `functional`/`sequential` containers are recursed so
/// their inner layers appear by their own names.
func readKeras3Layers(_ container: HDF5Group, walk: GroupWalk = GroupWalk(), depth: Int = 0) throws -> [LayerWeights] {
    let path = container.file.path
    guard container.kind(of: "layers") == .group else { return [] }
    let layersGroup = try container.group("layers")
    var result = LayerAccumulator(file: path)
    for child in keras3ModelOrder(try layersGroup.children().filter { $0.kind == .group }) {
        try walk.enter(child, of: layersGroup, depth: depth)
        let group = try layersGroup.group(child.name)
        if group.kind(of: "layers") == .group {
            for layer in try readKeras3Layers(group, walk: walk, depth: depth + 1) {
                guard result.index[layer.name] == nil else {
                    throw WeightIOError(.malformed, file: path, layer: layer.name, "layer name appears twice")
                }
                result.ensure(layer.name, className: layer.className)
                result.layers[result.index[layer.name]!].tensors = layer.tensors
            }
            continue
        }
        let className = splitKeras3GroupName(child.name).className
        guard group.kind(of: "vars") == .group else {
            result.ensure(child.name, className: className)
            continue
        }
        let vars = try group.group("vars")
        let layerName = (try? vars.stringAttribute("name")).flatMap { $0.isEmpty ? nil : $0 } ?? child.name
        let indexed = try vars.children().filter { $0.kind == .dataset }.compactMap { c in Int(c.name).map { ($0, c.name) } }
            .sorted { $0.0 < $1.0 }
        let known = keras3VariableNames[className]
        let names: [String]
        if let known, indexed.count == known.count {
            names = known
        } else if let known, indexed.count == 1, known.first?.hasSuffix("kernel") == true || known.first == "embeddings" {
            names = [known[0]]                                   // use_bias=False
        } else if className == "batch_normalization", indexed.count == 3 {
            // scale=False (InceptionV3, the keras.applications case); center=False would be ambiguous.
            names = ["beta", "moving_mean", "moving_variance"]
        } else {
            names = indexed.map { $0.1 }                         // raw index names
        }
        result.ensure(layerName, className: className)
        for (position, (_, datasetName)) in indexed.enumerated() {
            let value = try readTensor(vars, datasetName, layer: layerName, tensor: "vars/" + datasetName)
            try result.add(NamedTensor(name: names[position], value: value), to: layerName, className: className,
                           rawName: "vars/" + datasetName)
        }
    }
    return result.layers
}

// MARK: Caffe

/// Reads `data/<layer>/<blob>`. Layer order: object addresses (Caffe creates the groups in net order),
/// falling back to name order when addresses are unavailable. Names: a blob 0 of rank >= 2 is `kernel`
/// (OIHW or (out, in)), blob 1 `bias`; a 3-blob BatchNorm gives `moving_mean` and `moving_variance`
/// already divided by the scale-factor blob; two 1-D blobs of equal length (Scale) give `gamma`, `beta`.
/// A layer name with `/` (BVLC GoogLeNet's `conv1/7x7_s2`) is a nested group, `data/conv1/7x7_s2/0`: a
/// group with subgroups and no blobs is read as the layers below it, named `parent/child`.
func readCaffeLayers(_ data: HDF5Group, prefix: String = "", walk: GroupWalk = GroupWalk(), depth: Int = 0) throws -> [LayerWeights] {
    let path = data.file.path
    let children = try data.children().filter { $0.kind == .group }
    let distinct = Set(children.map(\.address)).count == children.count && !children.contains { $0.address == 0 }
    let ordered = distinct ? children.sorted { $0.address < $1.address } : children
    var layers: [LayerWeights] = []
    for child in ordered {
        try walk.enter(child, of: data, depth: depth)
        let group = try data.group(child.name)
        let entries = try group.children()
        let blobs = entries.filter { $0.kind == .dataset }.compactMap { c in Int(c.name).map { ($0, c.name) } }
            .sorted { $0.0 < $1.0 }
        let name = prefix + child.name
        if blobs.isEmpty && entries.contains(where: { $0.kind == .group }) {
            layers += try readCaffeLayers(group, prefix: name + "/", walk: walk, depth: depth + 1)
            continue
        }
        var values: [Tensor] = []
        for (_, blob) in blobs { values.append(try readTensor(group, blob, layer: name, tensor: blob)) }
        layers.append(try caffeLayer(name, blobs: values, blobNames: blobs.map(\.1), file: path))
    }
    return layers
}

private func caffeLayer(_ name: String, blobs: [Tensor], blobNames: [String], file: String) throws -> LayerWeights {
    if blobs.count == 3 && blobs[2].count == 1 && blobs[0].shape == blobs[1].shape {
        let factor = blobs[2][flat: 0]
        let scale: Float = factor == 0 ? 0 : 1 / factor
        func scaled(_ t: Tensor) -> Tensor {
            Tensor(shape: t.shape, scalars: t.scalars.map { factor == 0 ? 0 : $0 * scale })
        }
        // Caffe itself multiplies by 1/s; doing the same keeps results bit-identical to Caffe's.
        return LayerWeights(name: name, className: "BatchNorm", tensors: [
            NamedTensor(name: "moving_mean", value: scaled(blobs[0])),
            NamedTensor(name: "moving_variance", value: scaled(blobs[1])),
        ])
    }
    if blobs.count >= 1 && blobs.count <= 2 && blobs[0].rank >= 2 {
        var tensors = [NamedTensor(name: "kernel", value: blobs[0])]
        if blobs.count == 2 { tensors.append(NamedTensor(name: "bias", value: blobs[1])) }
        return LayerWeights(name: name, className: blobs[0].rank == 2 ? "InnerProduct" : "Convolution", tensors: tensors)
    }
    if blobs.count == 2 && blobs[0].rank == 1 && blobs[1].shape == blobs[0].shape {
        return LayerWeights(name: name, className: "Scale", tensors: [
            NamedTensor(name: "gamma", value: blobs[0]), NamedTensor(name: "beta", value: blobs[1]),
        ])
    }
    return LayerWeights(name: name, className: nil,
                        tensors: zip(blobNames, blobs).map { NamedTensor(name: $0.0, value: $0.1) })
}
