import Foundation
import TensorCore
import NN
import Zoo

// The importer: rules (the model's KerasMapping) + transforms (KerasLayout) + strict validation.
// All-or-nothing: every tensor is located and shape-checked, and every conversion is done, before the
// first parameter is assigned; any problem throws `WeightImportError` listing all of them.

extension ZooModel {
    /// Reads a weight file (format detected from its content) and imports it. Throws `WeightIOError`
    /// for file-level problems (missing, not HDF5, truncated, integer weights) and `WeightImportError`
    /// when the file does not fit the model; in both cases no parameter has changed.
    @discardableResult
    public func importWeights(from path: String, options: ImportOptions = .strict) throws -> ImportReport {
        try importWeights(readWeightFile(path: path), options: options)
    }

    /// Imports an already-read weight file (see `importWeights(from:options:)`).
    @discardableResult
    public func importWeights(_ file: WeightFile, options: ImportOptions = .strict) throws -> ImportReport {
        let mapping = try kerasWeightMap()
        var config: KerasModelConfig? = nil
        if file.format == .keras2FullModel, let json = file.modelConfigJSON {
            config = options.checkArchitecture ? try parseKerasModelConfig(json, file: file.path)
                                               : try? parseKerasModelConfig(json, file: file.path)
            if options.checkArchitecture, let config, let problem = architectureDisagreement(config, skipHead: options.skipHead) {
                throw WeightImportError(.architectureMismatch, file: file.path, model: architecture,
                                        detail: "the file's architecture does not match \(architecture): \(problem)")
            }
        }
        if file.format == .graftNative, options.checkArchitecture, let arch = file.attributes["architecture"],
           let entry = try? Zoo.entry(named: arch), entry.name != architecture {
            throw WeightImportError(.architectureMismatch, file: file.path, model: architecture,
                                    detail: "the file was saved from a \(entry.name), not a \(architecture)")
        }
        var report = try importMappedWeights(file, into: self, mapping: mapping, modelName: architecture,
                                             headLayer: headPath ?? spec.headRecipe.outputName, options: options)
        report.architecture = config
        report.architectureNotChecked = options.checkArchitecture && config == nil && file.format != .graftNative
        return report
    }
}

/// Imports `file` into any module whose parameters `mapping` describes (`ZooModel.kerasWeightMap()`).
/// `headLayer` is the Keras name of the output layer that `skipHead` skips. All-or-nothing.
@discardableResult
public func importMappedWeights(_ file: WeightFile, into module: Module, mapping: KerasMapping, modelName: String,
                                headLayer: String? = "predictions", options: ImportOptions = .strict) throws -> ImportReport {
    let plan = try planImport(file, into: module, mapping: mapping, modelName: modelName, headLayer: headLayer, options: options)
    for (parameter, value) in plan.assignments { parameter.value = value }
    return plan.report
}

struct ImportPlan {
    var assignments: [(Parameter, Tensor)]
    var report: ImportReport
}

/// One tensor of the file, resolved to a model layer name.
struct SourceTensor {
    /// `layer/weight` (Keras names, aliases resolved) or the Graft path for native files.
    var key: String
    /// The name as in the file, for messages.
    var fileName: String
    var value: Tensor
    /// Caffe and native tensors are already in Graft's layout (OIHW, (out, in), CHW flatten order).
    var graftLayout: Bool
    /// The resolved model layer.
    var layer: String
}

func planImport(_ file: WeightFile, into module: Module, mapping: KerasMapping, modelName: String,
                headLayer: String?, options: ImportOptions) throws -> ImportPlan {
    var report = ImportReport(file: file.path, format: file.format, kerasVersion: file.kerasVersion, backend: file.backend)
    report.impliedBNEpsilon = impliedBatchNormEpsilon(file)
    report.modelBNEpsilon = mapping.bnEpsilon
    var aliases = mapping.legacyAliases
    if file.format != .graftNative && file.format != .caffe {
        let auto = autoNameAliases(fileLayers: file.layers.filter { !$0.tensors.isEmpty }.map(\.name),
                                   modelLayers: mapping.weights.map(\.layer))
        if !auto.isEmpty {
            aliases.merge(auto) { legacy, _ in legacy }
            report.warnings.append("\(auto.count) auto-named layers (conv2d_N, batch_normalization_N, ...) are numbered "
                                   + "differently in the file and were matched by their order, as Keras's load_weights does")
        }
    }
    let sources = try sourceTensors(file, aliases: aliases, modelName: modelName, legacy: &report.legacyNames)
    var byKey: [String: Int] = [:]
    var duplicates: [String] = []
    for (i, s) in sources.enumerated() {
        if let j = byKey[s.key] { duplicates.append("\(sources[j].fileName) and \(s.fileName) both map to \(s.key)") }
        else { byKey[s.key] = i }
    }
    if !duplicates.isEmpty {
        throw WeightImportError(.unsupported, file: file.path, model: modelName,
                                detail: "ambiguous file: " + duplicates.joined(separator: "; "))
    }
    let native = file.format == .graftNative
    let theano = file.backend?.lowercased() == "theano"
    let parameters = Dictionary(module.namedParameters(), uniquingKeysWith: { a, _ in a })
    var used = Set<Int>()
    var missing: [WeightImportError.Missing] = []
    var mismatches: [WeightImportError.ShapeMismatch] = []
    var assignments: [(Parameter, Tensor)] = []
    let resolvedHead = headLayer.map { mapping.legacyAliases[$0] ?? $0 }

    for ref in mapping.weights {
        let key = native ? ref.path : "\(ref.layer)/\(ref.weight.rawValue)"
        let index = byKey[key]
        if options.skip(ref.path) || (options.skipHead && ref.layer == resolvedHead) {
            report.skipped.append(ref.path)
            if let index { used.insert(index); report.ignored.append(sources[index].fileName) }
            continue
        }
        guard let parameter = parameters[ref.path] else {
            throw WeightImportError(.unsupported, file: file.path, model: modelName,
                                    detail: "the model's Keras mapping names \(ref.path), which the model does not have")
        }
        guard let index else {
            missing.append(.init(path: ref.path, fileName: native ? ref.path : key,
                                 expectedShape: native ? ref.graftShape : ref.kerasShape))
            continue
        }
        used.insert(index)
        var source = sources[index]
        // Keras-1 Theano files with 'th' dim ordering store conv kernels OIHW; Keras 2 transposed them
        // (3, 2, 0, 1) when the shape did not fit. Same here, before the spatial flip below.
        if theano && ref.layout == .hwioToOihw && !source.graftLayout && source.value.shape != ref.kerasShape
            && source.value.shape == ref.graftShape {
            source.value = KerasLayout.hwioToOihw.toKeras(source.value)
            report.warnings.append("\(source.fileName): OIHW ('th' ordering) kernel transposed to HWIO")
        }
        let expected = source.graftLayout ? ref.graftShape : ref.kerasShape
        guard source.value.shape == expected,
              source.graftLayout || ref.layout.graftShape(forKeras: source.value.shape) == ref.graftShape else {
            mismatches.append(.init(path: ref.path, fileName: source.fileName, expected: expected, found: source.value.shape))
            continue
        }
        var value = source.value
        if !source.graftLayout {
            if theano && ref.layout == .hwioToOihw {
                value = flipKernelSpatially(value)
                report.flippedTheanoKernels.append(ref.path)
            }
            value = ref.layout.toGraft(value)
        } else {
            value = value.copy()
        }
        guard value.shape == parameter.shape else {
            mismatches.append(.init(path: ref.path, fileName: source.fileName, expected: parameter.shape, found: value.shape))
            continue
        }
        assignments.append((parameter, value))
        report.loaded.append(ref.path)
    }
    // Tensors of the skipped head under a name the mapping does not know (a differently-typed head).
    var unexpected: [WeightImportError.Unexpected] = []
    for (i, s) in sources.enumerated() where !used.contains(i) {
        if options.skipHead && s.layer == resolvedHead {
            report.ignored.append(s.fileName)
        } else if options.allowUnexpected {
            report.ignored.append(s.fileName)
        } else {
            unexpected.append(.init(fileName: s.fileName, shape: s.value.shape))
        }
    }
    if !missing.isEmpty || !mismatches.isEmpty || !unexpected.isEmpty {
        throw WeightImportError(.incompatibleWeights, file: file.path, model: modelName, missing: missing,
                                unexpected: unexpected, shapeMismatches: mismatches)
    }
    if let implied = report.impliedBNEpsilon, let own = mapping.bnEpsilon, !epsilonsAgree(Double(implied), Double(own)) {
        report.warnings.append("the file implies BatchNorm epsilon \(implied) but the model uses \(own); "
                               + "build it with ZooOptions(bnEpsilon: \(implied)) to reproduce the original outputs")
    }
    return ImportPlan(assignments: assignments, report: report)
}

func epsilonsAgree(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-4 * max(abs(a), abs(b)) }

/// The file's tensors with their model-side keys.
func sourceTensors(_ file: WeightFile, aliases: [String: String], modelName: String,
                   legacy: inout [String: String]) throws -> [SourceTensor] {
    var result: [SourceTensor] = []
    func resolve(_ name: String) -> String {
        if let a = aliases[name] { legacy[name] = a; return a }
        return name
    }
    switch file.format {
    case .graftNative:
        for layer in file.layers {
            for t in layer.tensors {
                let path = "\(layer.name).\(t.name)"
                result.append(SourceTensor(key: path, fileName: path, value: t.value, graftLayout: true, layer: layer.name))
            }
        }
    case .caffe:
        for layer in file.layers where !layer.tensors.isEmpty {
            var name = layer.name
            // Caffe keeps BatchNorm's gamma/beta in the following Scale layer: scale_conv1 -> bn_conv1,
            // scale2a_branch2a -> bn2a_branch2a.
            if layer.className == "Scale", name.hasPrefix("scale") { name = "bn" + name.dropFirst(5) }
            let resolved = resolve(name)
            for t in layer.tensors {
                result.append(SourceTensor(key: "\(resolved)/\(t.name)", fileName: "\(layer.name)/\(t.name)",
                                           value: t.value, graftLayout: true, layer: resolved))
            }
        }
    case .keras2Weights, .keras2FullModel, .keras3Weights:
        for layer in file.layers {
            let resolved = resolve(layer.name)
            for t in layer.tensors {
                result.append(SourceTensor(key: "\(resolved)/\(t.name)", fileName: "\(layer.name)/\(t.name)",
                                           value: t.value, graftLayout: false, layer: resolved))
            }
        }
    }
    return result
}

/// Reverses kh and kw of an HWIO kernel (Theano computed true convolution; Keras 2 flipped on load).
func flipKernelSpatially(_ t: Tensor) -> Tensor {
    let s = t.shape
    let (kh, kw, inner) = (s[0], s[1], s[2] * s[3])
    var out = Tensor(uninitializedShape: s)
    out.withUnsafeMutableBufferPointer { dst in
        t.withUnsafeBufferPointer { src in
            for y in 0..<kh {
                for x in 0..<kw {
                    let from = ((kh - 1 - y) * kw + (kw - 1 - x)) * inner, to = (y * kw + x) * inner
                    for k in 0..<inner { dst[to + k] = src[from + k] }
                }
            }
        }
    }
    return out
}

private let legacyBNPattern = #"^(bn_conv1|bn[0-9]+[a-z][a-z0-9]*_branch[0-9][a-c]?)$"#

/// The BatchNorm epsilon a file implies: a full-model file's `model_config` (when all BN layers
/// agree), a native file's `bn_epsilon` attribute, Caffe's 1e-5 when it has BatchNorm layers, the
/// Keras default 1e-3 for the legacy Keras-1 ResNet names (`bn_conv1`, `bn2a_branch2a`); else nil.
public func impliedBatchNormEpsilon(_ file: WeightFile) -> Float? {
    switch file.format {
    case .keras2FullModel:
        if let json = file.modelConfigJSON, let config = try? parseKerasModelConfig(json) {
            let eps = config.batchNormEpsilons
            if eps.count == 1 { return Float(eps[0]) }
            if eps.count > 1 { return nil }
        }
    case .graftNative:
        return file.attributes["bn_epsilon"].flatMap(Float.init)
    case .caffe:
        return file.layers.contains { $0.className == "BatchNorm" } ? 1e-5 : nil
    case .keras2Weights, .keras3Weights:
        break
    }
    let legacy = file.layers.contains { $0.name.range(of: legacyBNPattern, options: .regularExpression) != nil && !$0.tensors.isEmpty }
    return legacy ? 1e-3 : nil
}

/// Builds a zoo model and imports a weight file into it: the usual first step of a fine-tune.
///
/// ```swift
/// let (model, report) = try loadPretrained("vgg16", options: ZooOptions(inputSize: 224),
///                                          weights: "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
///                                          importOptions: .transfer)
/// print(report)   // what was loaded, skipped and ignored
/// ```
///
/// The format is detected from the file's content: Keras 2 `save_weights` and full-model `.h5`
/// (Keras 1 names and Theano kernels included), Keras 3 `.weights.h5`, Caffe HDF5, Graft native.
/// When `options.bnEpsilon` is nil and the file implies an epsilon (legacy ResNet50 1e-3, a full
/// model's config), the model is built with it. The import is all-or-nothing.
///
/// - Parameters:
///   - architecture: a zoo name or alias (`Zoo.names`).
///   - options: the options the file's network was built with (input size, width, classes, top).
///   - path: the weight file.
///   - importOptions: `.strict` (default: every tensor both ways) or `.transfer` (skip the head,
///     ignore tensors the model does not have).
/// - Returns: the model with the file's weights, and the ``ImportReport``.
/// - Throws: `ZooError` for unknown names or bad options; ``WeightIOError`` when the file cannot be
///   read; ``WeightImportError`` (listing every missing, unexpected and mis-shaped tensor) when it
///   does not fit the model.
public func loadPretrained(_ architecture: String, options: ZooOptions = ZooOptions(), weights path: String,
                           importOptions: ImportOptions = .strict) throws -> (model: ZooModel, report: ImportReport) {
    let file = try readWeightFile(path: path)
    var o = options
    if o.bnEpsilon == nil, let e = impliedBatchNormEpsilon(file) {
        let probe = try Zoo.entry(named: architecture).spec(o)
        if probe.bnEpsilon != nil { o.bnEpsilon = e }
    }
    let model = try Zoo.build(architecture, o)
    let report = try model.importWeights(file, options: importOptions)
    return (model, report)
}
