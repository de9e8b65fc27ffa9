import Foundation
import TensorCore
import NN
import Zoo

/// Graft's version, recorded in native files.
public let graftVersion = "0.1.0"

/// What a native model file says about itself, besides the parameters: enough to rebuild the model
/// through the zoo registry (`loadNativeModel`).
public struct NativeModelMetadata: Sendable, Equatable {
    /// Zoo registry name (`resnet18`).
    public var architecture: String
    /// The options the model is rebuilt with; `inputSize`, `inputChannels`, `classCount`, `includeTop`,
    /// `bnEpsilon` and `classifierActivation` always describe the saved model (its current head).
    public var options: ZooOptions
    /// [C, H, W].
    public var inputShape: [Int]
    /// Class names in output order (index i is output i), when known.
    public var classNames: [String]?
    public var preprocessing: Preprocessing
    public var graftVersion: String
    /// Keras names of the saved head's layers, in order (`avg_pool`, `predictions`).
    public var headLayers: [String]
    /// Any further string attributes (free-form, e.g. `recipe`, `trained_epochs`).
    public var extra: [String: String]

    public init(architecture: String, options: ZooOptions, inputShape: [Int], classNames: [String]? = nil,
                preprocessing: Preprocessing, graftVersion: String = WeightIO.graftVersion, headLayers: [String] = [],
                extra: [String: String] = [:]) {
        self.architecture = architecture; self.options = options; self.inputShape = inputShape
        self.classNames = classNames; self.preprocessing = preprocessing; self.graftVersion = graftVersion
        self.headLayers = headLayers; self.extra = extra
    }
}

/// Root attribute keys of a native model file (all strings; JSON where structured).
enum NativeKey {
    static let architecture = "architecture"
    static let options = "zoo_options"          // ZooOptions as JSON
    static let inputShape = "input_shape"       // JSON [C, H, W]
    static let classNames = "class_names"       // JSON [String]
    static let preprocessing = "preprocessing"
    static let version = "graft_version"
    static let headLayers = "head_layers"       // JSON [String]
    static let bnEpsilon = "bn_epsilon"
    /// A model built from a Keras file (architecture `keras:NAME`): its graph as a Keras model_config.
    static let kerasModelConfig = "keras_model_config"
    static let reserved: Set<String> = ["graft_format", architecture, options, inputShape, classNames, preprocessing,
                                        version, headLayers, bnEpsilon, kerasModelConfig]
}

private func json<T: Encodable>(_ value: T) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

extension ZooModel {
    /// The options that rebuild this model as it is now: `base` with the size, channel, class count,
    /// top, epsilon and head pooling taken from the model itself.
    public func effectiveOptions(_ base: ZooOptions = ZooOptions()) -> ZooOptions {
        var o = base
        o.inputChannels = inputShape[0]
        o.inputSize = inputShape[1]
        o.bnEpsilon = bnEpsilon ?? base.bnEpsilon
        o.includeTop = headPath != nil
        if let name = headPath {
            switch head[name] {
            case let d as Dense: o.classCount = d.outputSize; o.classifierActivation = zooActivation(d.fusedActivation) ?? o.classifierActivation
            case let d as ExtendedDense: o.classCount = d.outputSize; o.classifierActivation = zooActivation(d.fusedActivation) ?? o.classifierActivation
            case let c as Conv2D:   // MobileNet's conv_preds; its activation is the next layer's
                o.classCount = c.outChannels
                if let out = spec.headRecipe.convolutionalOutput, let a = head.graph.node(named: out.activationName)?.layer as? ActivationKind {
                    o.classifierActivation = zooActivation(a.activation) ?? o.classifierActivation
                }
            default: break
            }
        }
        if let p = headPooling { o.pooling = p }
        return o
    }
}

private func zooActivation(_ a: Activation?) -> ZooActivation? {
    switch a {
    case nil, .linear?: return .linear
    case .relu?: return .relu
    case .relu6?: return .relu6
    case .tanh?: return .tanh
    case .sigmoid?: return .sigmoid
    case .softmax?: return .softmax
    default: return nil
    }
}

/// Saves a zoo model as a self-describing Graft file (atomically): every parameter at `/params/<path>`
/// plus root attributes `architecture`, `zoo_options` (JSON), `input_shape`, `class_names` (JSON),
/// `preprocessing`, `graft_version`, `head_layers`, `bn_epsilon` and any `extra` ones.
/// `options` should be the options the model was built with (the defaults otherwise); what the model
/// itself says (size, classes, head) overrides them.
///
/// ```swift
/// try saveNativeModel(model, classNames: dataset.classNames, to: "runs/digits/model.h5")
/// let (again, metadata) = try loadNativeModel(path: "runs/digits/model.h5")
/// ```
///
/// - Parameters:
///   - model: the model to save, head as it is now (rebuilt or extended).
///   - options: the options it was built with.
///   - classNames: class names in output order (their count must equal the model's outputs).
///   - extra: further string attributes (`recipe`, `trained_epochs`); reserved keys throw.
///   - path: the file to write (replaced atomically).
/// - Throws: ``WeightIOError`` for a class-name count that does not fit, a reserved key, or a write error.
public func saveNativeModel(_ model: ZooModel, options: ZooOptions = ZooOptions(), classNames: [String]? = nil,
                            extra: [String: String] = [:], to path: String) throws {
    if let names = classNames, let n = model.effectiveOptions(options).classCount, model.headPath != nil, names.count != n {
        throw WeightIOError(.malformed, file: path, "\(names.count) class names for a model with \(n) outputs")
    }
    for key in extra.keys where NativeKey.reserved.contains(key) {
        throw WeightIOError(.malformed, file: path, "extra attribute '\(key)' is reserved")
    }
    var attributes = extra
    let o = model.effectiveOptions(options)
    attributes[NativeKey.architecture] = model.architecture
    attributes[NativeKey.options] = try json(o)
    attributes[NativeKey.inputShape] = try json(model.inputShape)
    if let classNames { attributes[NativeKey.classNames] = try json(classNames) }
    attributes[NativeKey.preprocessing] = model.preprocessing.rawValue
    attributes[NativeKey.version] = graftVersion
    attributes[NativeKey.headLayers] = try json(model.headLayerNames)
    if let e = model.bnEpsilon { attributes[NativeKey.bnEpsilon] = "\(e)" }
    if model.architecture.hasPrefix("keras:") {
        // Not a zoo architecture: the file carries the graph, as a Keras config (the node names and so
        // the parameter paths are kept; a layer Keras cannot express is refused here, naming it).
        do { attributes[NativeKey.kerasModelConfig] = try model.kerasModelConfig().json } catch let e as WeightIOError {
            throw WeightIOError(.writeFailed, file: path, "a model from a Keras file is saved with its architecture, which " + e.detail)
        }
    }
    try writeNativeCheckpoint(path: path, parameters: model.namedParameters().map { ($0.0, $0.1.value) },
                              attributes: attributes)
}

/// Reads the metadata of a native model file (no parameters are interpreted).
public func readNativeModelMetadata(_ file: WeightFile) throws -> NativeModelMetadata {
    let a = file.attributes
    func need(_ key: String) throws -> String {
        guard let v = a[key] else {
            throw WeightIOError(.missingObject, file: file.path,
                                "not a saved Graft model: root attribute '\(key)' is missing (a plain checkpoint? import it into a built model instead)")
        }
        return v
    }
    func decode<T: Decodable>(_ type: T.Type, _ key: String) throws -> T {
        do { return try JSONDecoder().decode(T.self, from: Data(try need(key).utf8)) }
        catch let e as WeightIOError { throw e }
        catch { throw WeightIOError(.malformed, file: file.path, "root attribute '\(key)' is not valid JSON for \(T.self): \(error)") }
    }
    guard file.format == .graftNative else {
        throw WeightIOError(.unrecognizedFormat, file: file.path, "not a Graft native file (detected \(file.format.rawValue))")
    }
    let architecture = try need(NativeKey.architecture)
    let options = try decode(ZooOptions.self, NativeKey.options)
    let inputShape = try decode([Int].self, NativeKey.inputShape)
    try checkNativeOptions(options, inputShape: inputShape, file: file.path)
    let classNames = a[NativeKey.classNames] == nil ? nil : try decode([String].self, NativeKey.classNames)
    let headLayers = a[NativeKey.headLayers] == nil ? [] : try decode([String].self, NativeKey.headLayers)
    guard let preprocessing = Preprocessing(rawValue: try need(NativeKey.preprocessing)) else {
        throw WeightIOError(.malformed, file: file.path, "unknown preprocessing '\(a[NativeKey.preprocessing]!)'")
    }
    var extra = a
    for k in NativeKey.reserved { extra[k] = nil }
    return NativeModelMetadata(architecture: architecture, options: options, inputShape: inputShape, classNames: classNames,
                               preprocessing: preprocessing, graftVersion: a[NativeKey.version] ?? "?",
                               headLayers: headLayers, extra: extra)
}

/// Rebuilds a model saved by `saveNativeModel` from the file alone: the zoo registry builds the
/// architecture with the saved options, a rebuilt head (other pooling, no hidden layers) is
/// reproduced, and every parameter is imported strictly (all-or-nothing).
///
/// - Returns: the model (in the saved state: frozen flags are not saved, every parameter trains) and
///   the file's ``NativeModelMetadata`` (class names, preprocessing, extra attributes).
/// - Throws: ``WeightIOError`` when the file is not a saved Graft model; ``WeightImportError`` when
///   its tensors do not fit the architecture it names.
public func loadNativeModel(path: String) throws -> (model: ZooModel, metadata: NativeModelMetadata) {
    let file = try readWeightFile(path: path)
    let metadata = try readNativeModelMetadata(file)
    if let config = file.attributes[NativeKey.kerasModelConfig] {   // built from a Keras file, not the zoo
        let model = try kerasModel(try parseKerasModelConfig(config, file: path), file: path)
        try model.importWeights(file, options: .strict)
        return (model, metadata)
    }
    let entry: ZooEntry
    do { entry = try Zoo.entry(named: metadata.architecture) }
    catch { throw WeightIOError(.malformed, file: path, "saved architecture '\(metadata.architecture)' is not in the zoo: \(error)") }
    let spec: ModelSpec
    do { spec = try entry.spec(metadata.options) }
    catch { throw WeightIOError(.malformed, file: path, "root attribute 'zoo_options' does not describe a valid \(entry.name): \(error)") }
    try checkNativeModelSize(spec, file: file)
    let model = ZooModel(spec: spec, seed: metadata.options.seed)
    if !metadata.headLayers.isEmpty && model.headLayerNames != metadata.headLayers, let classes = metadata.options.classCount {
        // The saved model's head was rebuilt (rebuildHead without hidden layers, other pooling): redo it.
        let hidden = model.spec.headRecipe.hidden.map(\.name)
        let keepHidden = !hidden.isEmpty && hidden.allSatisfy(metadata.headLayers.contains)
        let pooling = HeadPooling.allCases.first { model.spec.headRecipe.poolingName($0) == metadata.headLayers.first }
        try model.rebuildHead(classCount: classes, keepHidden: keepHidden, pooling: pooling,
                              classifierActivation: metadata.options.classifierActivation)
    }
    if model.headLayerNames != metadata.headLayers && !metadata.headLayers.isEmpty {
        throw WeightImportError(.architectureMismatch, file: path, model: model.architecture,
                                detail: "cannot rebuild the saved head \(metadata.headLayers) through the zoo (got \(model.headLayerNames))")
    }
    try model.importWeights(file, options: .strict)
    return (model, metadata)
}

/// Refuses options that would allocate far more than the file holds (`inputChannels` 2^31, say),
/// before the model is built: the trunk's parameters are all in the file, and the default head
/// (which a rebuilt one replaces) may add at most `headAllowance` values.
func checkNativeModelSize(_ spec: ModelSpec, file: WeightFile) throws {
    let headAllowance = 1 << 28
    func total(_ shapes: [(path: String, shape: [Int])]) -> Int? {
        var sum = 0
        for (_, shape) in shapes {
            guard let n = checkedProduct(shape) else { return nil }
            let (s, overflow) = sum.addingReportingOverflow(n)
            if overflow { return nil }
            sum = s
        }
        return sum
    }
    let held = file.layers.reduce(0) { $0 + $1.tensors.reduce(0) { $0 + $1.value.count } }
    let trunk = total(spec.trunk.parameterShapes)
    let all = total(spec.parameterShapes)
    guard let trunk, let all, trunk <= held, all <= held + headAllowance else {
        throw WeightIOError(.malformed, file: file.path, "root attribute 'zoo_options' describes a \(spec.architecture) with "
                            + "\(all.map(String.init) ?? "too many") parameters, but the file holds \(held) values (the file is damaged)")
    }
}

/// Bounds on the sizes a native file's options may state: far beyond any real CNN, small enough that
/// shape arithmetic cannot overflow and an image batch fits in memory.
func checkNativeOptions(_ o: ZooOptions, inputShape: [Int], file: String) throws {
    func bad(_ what: String) -> WeightIOError {
        WeightIOError(.malformed, file: file, "root attribute 'zoo_options': \(what) (the file is damaged)")
    }
    if let s = o.inputSize, !(1...8192).contains(s) { throw bad("inputSize \(s) is not in 1...8192") }
    if let c = o.inputChannels, !(1...4096).contains(c) { throw bad("inputChannels \(c) is not in 1...4096") }
    if let k = o.classCount, !(1...(1 << 24)).contains(k) { throw bad("classCount \(k) is not in 1...\(1 << 24)") }
    if let h = o.hiddenWidth, !(1...(1 << 20)).contains(h) { throw bad("hiddenWidth \(h) is not in 1...\(1 << 20)") }
    if let m = o.depthMultiplier, !(1...64).contains(m) { throw bad("depthMultiplier \(m) is not in 1...64") }
    if !(o.widthMultiplier > 0 && o.widthMultiplier <= 16) { throw bad("widthMultiplier \(o.widthMultiplier) is not in (0, 16]") }
    guard inputShape.count == 3, (1...4096).contains(inputShape[0]), inputShape.dropFirst().allSatisfy({ (1...8192).contains($0) }) else {
        throw WeightIOError(.malformed, file: file, "root attribute 'input_shape' \(inputShape) is not [C, H, W] within 4096 x 8192 x 8192 (the file is damaged)")
    }
}
