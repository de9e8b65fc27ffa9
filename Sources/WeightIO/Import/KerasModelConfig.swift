import Foundation

/// One layer of a Keras 2 `model_config` (full-model `.h5`), reduced to what an importer must check:
/// everything the weights themselves do not say (activation, padding, strides, epsilon, ...).
public struct KerasLayerConfig: Sendable, Equatable {
    public var name: String
    public var className: String
    /// Name of the nested model (`Functional`/`Sequential`) this layer sits in; nil at the top level.
    public var parent: String?
    public var activation: String?
    public var padding: String?
    /// ZeroPadding2D: ((top, bottom), (left, right)) flattened to [top, bottom, left, right].
    public var zeroPadding: [Int]?
    public var strides: [Int]?
    public var kernelSize: [Int]?
    public var poolSize: [Int]?
    public var filters: Int?
    public var units: Int?
    public var useBias: Bool?
    public var epsilon: Double?
    public var momentum: Double?
    /// BatchNormalization `scale` (false: no gamma, InceptionV3).
    public var scale: Bool?
    public var rate: Double?
    public var trainable: Bool?
    public var dataFormat: String?
    /// ReLU `max_value` (6 for MobileNet's ReLU6), `negative_slope` and `threshold`.
    public var maxValue: Double?
    public var negativeSlope: Double?
    public var threshold: Double?
    /// GlobalAveragePooling2D / GlobalMaxPooling2D `keepdims`.
    public var keepDims: Bool?
    /// Reshape `target_shape`.
    public var targetShape: [Int]?
    /// DepthwiseConv2D `depth_multiplier`.
    public var depthMultiplier: Int?
    /// LeakyReLU / ELU `alpha` (Keras 3 LeakyReLU: `negative_slope`, read into `negativeSlope`).
    public var alpha: Double?
    /// Conv2D `dilation_rate` and `groups` (only 1 is built).
    public var dilationRate: [Int]?
    public var groups: Int?
    /// Concatenate (and BatchNormalization) `axis`; -1 is the channels of channels-last data.
    public var axis: Int?
    /// InputLayer `batch_input_shape` / `batch_shape` without the batch axis (nil entries: unknown).
    public var inputShape: [Int?]?
    /// Cropping2D `cropping` flattened to [top, bottom, left, right].
    public var cropping: [Int]?
    /// UpSampling2D `size` and `interpolation`.
    public var upSize: [Int]?
    public var interpolation: String?
    /// Rescaling `scale` and `offset` (one value, or one per channel).
    public var scaleValues: [Double]?
    public var offsetValues: [Double]?
    /// Normalization `mean` / `variance` given in the config (nil: adapted, stored as weights) and `invert`.
    public var mean: [Double]?
    public var variance: [Double]?
    public var invert: Bool?
    /// PReLU `shared_axes` (Keras axes: 1, 2 are H, W).
    public var sharedAxes: [Int]?
    /// BatchNormalization `center` (false: no beta).
    public var center: Bool?
    /// Keras 1 `Merge` `mode` (sum, mul, concat, ave, max).
    public var mergeMode: String?
    /// True for a Keras 3 config (layers carry `module`): some functions differ (hard_sigmoid).
    public var keras3 = false
    /// Keras 1 `dim_ordering: th`: OIHW kernels in the file, and Theano's unless the file says otherwise.
    public var theanoOrdering = false
    /// Names of the layers feeding this one (first node).
    public var inbound: [String]

    public init(name: String, className: String, parent: String? = nil, inbound: [String] = []) {
        self.name = name
        self.className = className
        self.parent = parent
        self.inbound = inbound
    }

    /// A one-line summary: `Conv2D 5x5/1 same tanh filters=6`.
    public var summary: String {
        var parts = [className]
        if let k = kernelSize { parts.append(k.map(String.init).joined(separator: "x") + "/" + (strides?.map(String.init).joined(separator: "x") ?? "1")) }
        else if let p = poolSize { parts.append("pool " + p.map(String.init).joined(separator: "x") + "/" + (strides?.map(String.init).joined(separator: "x") ?? "?")) }
        if let p = padding { parts.append(p) }
        if let z = zeroPadding { parts.append("pad \(z)") }
        if let a = activation { parts.append(a) }
        if let f = filters { parts.append("filters=\(f)") }
        if let u = units { parts.append("units=\(u)") }
        if useBias == false { parts.append("no bias") }
        if let e = epsilon { parts.append("epsilon=\(e)") }
        if scale == false { parts.append("no scale") }
        if let r = rate { parts.append("rate=\(r)") }
        if trainable == false { parts.append("frozen") }
        return parts.joined(separator: " ")
    }
}

/// The architecture recorded in a Keras 2 full-model file's `model_config`.
public struct KerasModelConfig: Sendable, Equatable {
    /// `Functional`, `Sequential` or `Model`.
    public var className: String
    public var name: String?
    /// Every layer in file order; the layers of nested models are listed in place of (after) their container.
    public var layers: [KerasLayerConfig]
    /// The file the config was read from (an architecture sidecar), for messages.
    public var source: String? = nil

    public func layer(_ name: String) -> KerasLayerConfig? { layers.first { $0.name == name } }

    /// The model's input shape (H, W, C) without the batch axis, when the config states it.
    public var inputShape: [Int?]? { layers.first { $0.className == "InputLayer" && $0.parent == nil }?.inputShape }

    /// Distinct BatchNormalization epsilons, in first-seen order.
    public var batchNormEpsilons: [Double] {
        var seen: [Double] = []
        for l in layers where l.className == "BatchNormalization" {
            if let e = l.epsilon, !seen.contains(e) { seen.append(e) }
        }
        return seen
    }
}

/// Keras 1 class names -> the Keras 2 names the kinds read (their options are read under both spellings).
private let keras1ClassNames = ["Convolution2D": "Conv2D", "AtrousConvolution2D": "Conv2D",
                                "SeparableConvolution2D": "SeparableConv2D", "Deconvolution2D": "Conv2DTranspose"]

/// Parses a Keras `model_config` / `to_json()` / Keras 3 `config.json` string (Functional, Sequential,
/// nested models).
public func parseKerasModelConfig(_ json: String, file: String = "") throws -> KerasModelConfig {
    // Python's json.dumps writes NaN and Infinity (a constraint's max_value, say), which JSON has not.
    func object(_ text: String) -> [String: Any]? {
        text.data(using: .utf8).flatMap { try? JSONSerialization.jsonObject(with: $0) } as? [String: Any]
    }
    let pythonTokens = #"(?<=[:\[,]\s?)(-?Infinity|NaN)(?=\s*[,\]\}])"#
    guard let root = object(json) ?? object(json.replacingOccurrences(of: pythonTokens, with: "null", options: .regularExpression)) else {
        throw WeightIOError(.malformed, file: file, "model_config is not a JSON object")
    }
    return try parseKerasModelConfig(object: root, file: file)
}

/// Parses an architecture already read into JSON-like values (dictionaries, arrays, strings, numbers,
/// booleans, NSNull): what a YAML `to_yaml()` file holds too.
public func parseKerasModelConfig(object root: [String: Any], file: String = "") throws -> KerasModelConfig {
    // A `{"model_config": ...}` wrapper (some exporters) or a tf.keras SavedModel-style `{"config": ...}`.
    if root["class_name"] == nil, let inner = root["model_config"] as? [String: Any] {
        return try parseKerasModelConfig(object: inner, file: file)
    }
    let className = root["class_name"] as? String ?? "?"
    // Keras 3 (some functions differ): its version, or its config's spellings (tf_keras's to_json()
    // writes `module` keys too, but not `batch_shape` nor dtype policies).
    let keras3 = (root["keras_version"] as? String).map { $0.hasPrefix("3") }
        ?? ((try? JSONSerialization.data(withJSONObject: root)).map { d in
            let t = String(decoding: d, as: UTF8.self)
            return t.contains("\"batch_shape\"") || t.contains("\"DTypePolicy\"")
        } ?? false)
    var layers: [KerasLayerConfig] = []
    func visit(_ list: [Any], parent: String?) {
        for item in list {
            guard let dict = item as? [String: Any], let cls = dict["class_name"] as? String else { continue }
            let config = dict["config"] as? [String: Any] ?? [:]
            let name = (config["name"] as? String) ?? (dict["name"] as? String) ?? "?"
            var l = KerasLayerConfig(name: name, className: keras1ClassNames[cls] ?? cls, parent: parent, inbound: inboundNames(dict["inbound_nodes"]))
            l.keras3 = keras3
            l.activation = config["activation"] as? String
            if l.activation == nil, let a = config["activation"] as? [String: Any] {   // Keras 3 serialised function
                l.activation = (a["config"] as? String) ?? (a["class_name"] as? String).map { "<\($0)>" }
            }
            l.padding = (config["padding"] ?? config["border_mode"]) as? String   // Keras 1: border_mode
            if cls == "ZeroPadding2D" { l.padding = nil; l.zeroPadding = zeroPadding(config["padding"]) }
            l.strides = ints(config["strides"] ?? config["subsample"])
            l.kernelSize = ints(config["kernel_size"])
            if l.kernelSize == nil, let r = config["nb_row"] as? Int, let c = config["nb_col"] as? Int { l.kernelSize = [r, c] }
            l.poolSize = ints(config["pool_size"])
            l.filters = (config["filters"] ?? config["nb_filter"]) as? Int
            l.units = (config["units"] ?? config["output_dim"]) as? Int
            l.alpha = (config["alpha"] as? NSNumber)?.doubleValue
            l.dilationRate = ints(config["dilation_rate"])
            l.groups = config["groups"] as? Int
            l.useBias = (config["use_bias"] ?? config["bias"]) as? Bool   // Keras 1: bias
            l.epsilon = (config["epsilon"] as? NSNumber)?.doubleValue
            l.momentum = (config["momentum"] as? NSNumber)?.doubleValue
            if cls == "BatchNormalization" { l.scale = config["scale"] as? Bool }
            l.rate = ((config["rate"] ?? config["p"]) as? NSNumber)?.doubleValue   // Keras 1 Dropout: p
            if cls == "BatchNormalization" { l.center = config["center"] as? Bool }
            if cls == "Cropping2D" { l.cropping = zeroPadding(config["cropping"]) }
            if cls == "UpSampling2D" { l.upSize = ints(config["size"]); l.interpolation = config["interpolation"] as? String }
            if cls == "Rescaling" { l.scaleValues = doubles(config["scale"]); l.offsetValues = doubles(config["offset"] ?? 0.0) }
            if cls == "Normalization" {
                l.mean = doubles(config["mean"]); l.variance = doubles(config["variance"]); l.invert = config["invert"] as? Bool
            }
            if cls == "PReLU" { l.sharedAxes = config["shared_axes"].flatMap { $0 is NSNull ? nil : ints($0) ?? [] } }
            if cls == "Merge" {   // Keras 1: one class for every merge
                l.mergeMode = config["mode"] as? String
                let merges = ["sum": "Add", "mul": "Multiply", "concat": "Concatenate", "ave": "Average", "max": "Maximum"]
                if let m = l.mergeMode, let c = merges[m] { l.className = c; l.mergeMode = nil }
            }
            l.trainable = config["trainable"] as? Bool
            l.dataFormat = config["data_format"] as? String
            if let d = config["dim_ordering"] as? String {   // Keras 1: th (channels first) / tf
                l.dataFormat = d == "th" ? "channels_first" : d == "tf" ? "channels_last" : l.dataFormat
                l.theanoOrdering = d == "th"
            }
            l.depthMultiplier = config["depth_multiplier"] as? Int
            l.maxValue = (config["max_value"] as? NSNumber)?.doubleValue
            l.negativeSlope = (config["negative_slope"] as? NSNumber)?.doubleValue
            l.threshold = (config["threshold"] as? NSNumber)?.doubleValue
            l.keepDims = config["keepdims"] as? Bool
            if let t = config["target_shape"] as? [Any] { l.targetShape = t.compactMap { ($0 as? NSNumber)?.intValue } }
            l.axis = (config["axis"] as? Int) ?? (config["axis"] as? [Int])?.first ?? (config["concat_axis"] as? Int)
            // A container (nested Sequential) may state its input only as its build shape.
            let built = (config["build_input_shape"] ?? (dict["build_config"] as? [String: Any])?["input_shape"]) as? [Any]
            if let shape = (config["batch_input_shape"] ?? config["batch_shape"]) as? [Any] ?? (config["layers"] != nil ? built : nil) {
                l.inputShape = shape.dropFirst().map { ($0 as? NSNumber)?.intValue }
            }
            layers.append(l)
            if let inner = config["layers"] as? [Any] { visit(inner, parent: name) }
        }
    }
    let config = root["config"]
    if let dict = config as? [String: Any], let list = dict["layers"] as? [Any] {
        visit(list, parent: nil)
        return KerasModelConfig(className: className, name: dict["name"] as? String, layers: layers, source: file.isEmpty ? nil : file)
    }
    if let list = config as? [Any] {                       // very old Sequential configs: a bare list
        visit(list, parent: nil)
        return KerasModelConfig(className: className, name: nil, layers: layers, source: file.isEmpty ? nil : file)
    }
    throw WeightIOError(.malformed, file: file, "model_config has no 'config.layers' list")
}

private func doubles(_ value: Any?) -> [Double]? {
    if let n = value as? NSNumber { return [n.doubleValue] }
    guard let list = value as? [Any] else { return nil }
    let flat = list.flatMap { ($0 as? [Any]) ?? [$0] }   // [[m0, m1]] broadcast forms
    let r = flat.compactMap { ($0 as? NSNumber)?.doubleValue }
    return r.count == flat.count ? r : nil
}

private func ints(_ value: Any?) -> [Int]? {
    if let n = value as? NSNumber { return [n.intValue, n.intValue] }
    guard let list = value as? [Any] else { return nil }
    let r = list.compactMap { ($0 as? NSNumber)?.intValue }
    return r.count == list.count ? r : nil
}

private func zeroPadding(_ value: Any?) -> [Int]? {
    if let n = value as? NSNumber { return Array(repeating: n.intValue, count: 4) }
    guard let list = value as? [Any], list.count == 2 else { return nil }
    if let pair = ints(list), pair.count == 2 { return [pair[0], pair[0], pair[1], pair[1]] }
    let rows = list.compactMap { ints($0) }
    guard rows.count == 2, rows.allSatisfy({ $0.count == 2 }) else { return nil }
    return rows[0] + rows[1]
}

/// `[[["conv1", 0, 0, {}], ...]]` (tf_keras) or Keras-3-style `[{"args": [...], "kwargs": ...}]`, whose
/// tensors name their layer in `config.keras_history` -> names of the first node.
private func inboundNames(_ value: Any?) -> [String] {
    guard let nodes = value as? [Any], let first = nodes.first else { return [] }
    if let entries = first as? [Any] {
        return entries.compactMap { ($0 as? [Any])?.first as? String }
    }
    if let node = first as? [String: Any] {
        var names: [String] = []
        func collect(_ v: Any?) {
            if let d = v as? [String: Any] {
                if let h = (d["config"] as? [String: Any])?["keras_history"] as? [Any], let n = h.first as? String {
                    names.append(n)
                } else { d.values.forEach(collect) }
            } else if let list = v as? [Any] { list.forEach(collect) }
        }
        collect(node["args"])
        return names
    }
    return []
}
