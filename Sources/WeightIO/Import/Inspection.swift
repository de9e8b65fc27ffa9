import Foundation
import TensorCore
import Zoo

// `finetune inspect FILE`: what a weight file holds and which zoo architecture it fits.

/// How well a file fits one zoo architecture at given options (computed from specs: nothing is allocated).
public struct ZooMatch: Sendable, CustomStringConvertible {
    public var architecture: String
    public var options: ZooOptions
    /// Other input sizes that fit equally well (the weights do not pin the size down, e.g. GAP heads).
    public var alsoFitsInputSizes: [Int]
    public var matched: Int
    /// Model tensors the file lacks (`layer/weight`).
    public var missing: [String]
    /// File tensors the model lacks.
    public var unexpected: [String]
    /// `layer/weight: expected S, found T` (file layout).
    public var mismatched: [String]

    public var isExact: Bool { missing.isEmpty && unexpected.isEmpty && mismatched.isEmpty }
    var score: Int { matched * 4 - missing.count - unexpected.count - 2 * mismatched.count }

    public var description: String {
        var o: [String] = ["inputSize \(options.inputSize.map(String.init) ?? "?")"
                           + (alsoFitsInputSizes.isEmpty ? "" : alsoFitsInputSizes.count > 4 ? " (the weights fit any tried size)"
                              : " (also \(alsoFitsInputSizes.map(String.init).joined(separator: ", ")))")]
        if let c = options.inputChannels { o.append("inputChannels \(c)") }
        if options.widthMultiplier != 1 { o.append("widthMultiplier \(options.widthMultiplier)") }
        o.append(options.includeTop ? "classCount \(options.classCount.map(String.init) ?? "?")" : "includeTop false")
        if let e = options.bnEpsilon { o.append("bnEpsilon \(e)") }
        let head = "\(architecture) (\(o.joined(separator: ", ")))"
        if isExact { return "\(head): all \(matched) tensors match" }
        var parts = ["\(head): \(matched) tensors match"]
        if !mismatched.isEmpty { parts.append("\(mismatched.count) differ (\(mismatched.prefix(4).joined(separator: "; "))\(mismatched.count > 4 ? "; ..." : ""))") }
        if !missing.isEmpty { parts.append("\(missing.count) missing (\(missing.prefix(4).joined(separator: ", "))\(missing.count > 4 ? ", ..." : ""))") }
        if !unexpected.isEmpty { parts.append("\(unexpected.count) unexpected (\(unexpected.prefix(4).joined(separator: ", "))\(unexpected.count > 4 ? ", ..." : ""))") }
        return parts.joined(separator: ", ")
    }
}

/// The result of `inspectWeightFile`; `description` is the printable report.
public struct WeightFileInspection: Sendable, CustomStringConvertible {
    public var file: WeightFile
    public var parameterCount: Int
    public var architecture: KerasModelConfig?
    public var impliedBNEpsilon: Float?
    public var nativeMetadata: NativeModelMetadata?
    /// Best first; `matches.first` is the best match (exact or not).
    public var matches: [ZooMatch]

    public var bestMatch: ZooMatch? { matches.first }
    /// For an exact zoo match: how the file's own architecture differs from that zoo model (nil: it
    /// agrees, or the file has none; see `weightsOnly`).
    public var zooArchitectureDifference: String?
    /// The file holds weights only: a zoo match is by weights, its architecture not checked.
    public var weightsOnly = false
    /// For a file that carries its architecture: nil when Graft builds it (`--model FILE`), else why not.
    public var ownArchitectureProblem: String?

    public var description: String {
        let f = file
        var lines = [f.path]
        var fmt = "  format: \(f.format.rawValue)"
        if let v = f.kerasVersion { fmt += ", Keras \(v)" }
        if let b = f.backend { fmt += ", backend \(b)" }
        lines.append(fmt)
        let weighted = f.layersWithWeights
        lines.append("  layers: \(f.layers.count) (\(weighted.count) with weights), tensors: \(weighted.reduce(0) { $0 + $1.tensors.count }), "
                     + "parameters: \(parameterCount)")
        let width = min(max(f.layers.map(\.name.count).max() ?? 0, 8), 40)
        for l in f.layers {
            let cls = l.className.map { " (\($0))" } ?? ""
            let name = (l.name + cls).padding(toLength: max(width + 16, (l.name + cls).count), withPad: " ", startingAt: 0)
            let tensors = l.tensors.map { "\($0.name) \($0.shape.map(String.init).joined(separator: "x"))" }.joined(separator: ", ")
            lines.append("    \(name) \(tensors.isEmpty ? "-" : tensors)")
        }
        if let n = nativeMetadata {
            lines.append("  saved model: \(n.architecture), input \(n.inputShape), preprocessing \(n.preprocessing.rawValue), graft \(n.graftVersion)"
                         + (n.classNames.map { ", classes \($0)" } ?? ""))
        }
        if let a = architecture {
            lines.append("  architecture (model_config, \(a.className) '\(a.name ?? "?")'):")
            for l in a.layers { lines.append("    \(l.parent.map { "\($0)/" } ?? "")\(l.name): \(l.summary)") }
        }
        if let e = impliedBNEpsilon { lines.append("  BatchNorm epsilon implied by the file: \(e)") }
        if architecture != nil {
            lines.append(ownArchitectureProblem.map { "  its own architecture cannot be built: \($0)" }
                         ?? "  its own architecture builds: finetune predict --model \(f.path)")
        }
        if let best = matches.first {
            if !best.isExact { lines.append("  no exact zoo match; closest: \(best)") }
            else if let d = zooArchitectureDifference { lines.append("  weights fit zoo architecture \(best), but the architecture differs: \(d)") }
            else if weightsOnly { lines.append("  weights fit zoo architecture \(best) (weights only: activations, pooling and padding could not be checked)") }
            else { lines.append("  matches zoo architecture \(best)") }
            for other in matches.dropFirst().prefix(2) where other.matched > 0 { lines.append("    next: \(other)") }
        } else {
            lines.append("  no zoo architecture shares a tensor with this file")
        }
        return lines.joined(separator: "\n")
    }
}

/// Reads a weight file (format from its content) and describes it (`finetune inspect FILE`).
public func inspectWeightFile(path: String) throws -> WeightFileInspection {
    let file = try readWeightOrArchiveFile(path: path)
    var config: KerasModelConfig? = nil
    if let json = file.modelConfigJSON { config = try? parseKerasModelConfig(json, file: path) }
    let native = file.format == .graftNative ? try? readNativeModelMetadata(file) : nil
    var inspection = WeightFileInspection(file: file, parameterCount: file.layers.reduce(0) { $0 + $1.tensors.reduce(0) { $0 + $1.value.count } },
                                          architecture: config, impliedBNEpsilon: impliedBatchNormEpsilon(file), nativeMetadata: native,
                                          matches: matchZooArchitectures(file))
    // "matches" only where --base would accept the file: its own architecture must agree too.
    if let config {
        do { _ = try kerasModel(config, file: path) } catch { inspection.ownArchitectureProblem = "\(error)" }
    }
    if let best = inspection.bestMatch, best.isExact, file.format != .graftNative {
        if let config, let model = try? Zoo.build(best.architecture, best.options) {
            inspection.zooArchitectureDifference = model.architectureDisagreement(config)
        } else if config == nil {
            inspection.weightsOnly = true
        }
    }
    return inspection
}

/// One parameter of a spec with its Keras location.
private struct SpecRef {
    var path: String, layer: String, weight: KerasWeightName, graftShape: [Int], kerasShape: [Int]
}

private func specRefs(_ spec: ModelSpec) -> [SpecRef] {
    guard let refs = try? spec.graph.kerasWeightRefs() else { return [] }
    return refs.map { SpecRef(path: $0.path, layer: $0.layer, weight: $0.weight, graftShape: $0.graftShape, kerasShape: $0.kerasShape) }
}

/// Tries every registered zoo architecture at the sizes the file implies (channels and width from
/// the first convolution, class count from the output layer, a set of input sizes) and ranks them.
public func matchZooArchitectures(_ file: WeightFile) -> [ZooMatch] {
    var results: [ZooMatch] = []
    for entry in Zoo.all {
        guard let base = try? entry.spec() else { continue }
        var legacy: [String: String] = [:]
        var aliases = base.legacyAliases
        if file.format != .graftNative && file.format != .caffe {   // as the importer: auto-named layers by order
            aliases.merge(autoNameAliases(fileLayers: file.layersWithWeights.map(\.name),
                                          modelLayers: specRefs(base).map(\.layer))) { legacy, _ in legacy }
        }
        guard let sources = try? sourceTensors(file, aliases: aliases, modelName: entry.name, legacy: &legacy) else { continue }
        var byKey: [String: SourceTensor] = [:]
        for s in sources where byKey[s.key] == nil { byKey[s.key] = s }
        let native = file.format == .graftNative
        func lookup(_ r: SpecRef) -> SourceTensor? { byKey[native ? r.path : "\(r.layer)/\(r.weight.rawValue)"] }
        func fileShape(_ s: SourceTensor, _ r: SpecRef) -> [Int] { s.graftLayout ? r.graftShape : r.kerasShape }

        var o = ZooOptions()
        var firstOut: Int? = nil
        let baseRefs = specRefs(base)
        // Channels and width from the first kernel.
        if let first = baseRefs.first(where: { $0.weight == .kernel && $0.graftShape.count == 4 }), let s = lookup(first), s.value.rank == 4 {
            let shape = s.value.shape
            let (inC, outC) = s.graftLayout ? (shape[1], shape[0]) : (shape[2], shape[3])
            o.inputChannels = inC
            o.widthMultiplier = Double(outC) / Double(first.graftShape[0])
            firstOut = outC
        }
        // Class count from the output layer.
        let headName = base.headRecipe.outputName
        if let head = baseRefs.first(where: { $0.layer == headName && $0.weight == .kernel }) {
            if let s = lookup(head), s.value.rank == 2 {
                o.classCount = s.graftLayout ? s.value.shape[0] : s.value.shape[1]
            } else if let s = lookup(head), s.value.rank == 4, head.graftShape.count == 4 {   // MobileNet's 1x1 conv_preds
                o.classCount = s.graftLayout ? s.value.shape[0] : s.value.shape[3]
            } else {
                o.includeTop = false
            }
        }
        if let e = impliedBatchNormEpsilon(file), base.bnEpsilon != nil { o.bnEpsilon = e }
        var sizes = [entry.defaultInputSize, 28, 32, 48, 64, 96, 112, 128, 160, 192, 224, 227, 256, 299]
        if let s = file.modelConfigJSON.flatMap({ try? parseKerasModelConfig($0) })?.inputShape?.first, let h = s { sizes.insert(h, at: 0) }
        // The first kernel's ratio is the width where widths scale linearly; MobileNets round them
        // (int(c · alpha), _make_divisible), so Keras's published alphas are tried too, when the file has
        // this entry's layer names but not yet its shapes.
        var widths = [o.widthMultiplier]
        if let outC = firstOut {
            for w in [0.25, 0.35, 0.5, 0.75, 1.0, 1.3, 1.4] where !widths.contains(w) {
                var t = o
                t.widthMultiplier = w
                // Only alphas that give the file's first convolution width.
                if let s = try? entry.spec(t), s.trunk.parameterShapes.first(where: { $0.shape.count == 4 })?.shape[0] == outC { widths.append(w) }
            }
        }
        var seen = Set<[Double]>()
        var best: ZooMatch? = nil
        for width in widths { for size in sizes where seen.insert([width, Double(size)]).inserted {
            if width != widths[0], best.map({ $0.isExact || $0.matched + $0.mismatched.count == 0 }) ?? true { break }
            var opts = o
            opts.inputSize = size
            opts.widthMultiplier = width
            guard let spec = try? entry.spec(opts) else { continue }
            var m = ZooMatch(architecture: entry.name, options: opts, alsoFitsInputSizes: [], matched: 0, missing: [], unexpected: [], mismatched: [])
            var used = Set<String>()
            for r in specRefs(spec) {
                let key = native ? r.path : "\(r.layer)/\(r.weight.rawValue)"
                guard let s = lookup(r) else { m.missing.append(key); continue }
                used.insert(s.key)
                if s.value.shape == fileShape(s, r) { m.matched += 1 }
                else { m.mismatched.append("\(s.fileName): expected \(fileShape(s, r)), found \(s.value.shape)") }
            }
            m.unexpected = sources.filter { !used.contains($0.key) }.map(\.fileName)
            if let b = best {
                if m.score > b.score { best = m }
                else if m.score == b.score && m.isExact { best!.alsoFitsInputSizes.append(size) }
            } else {
                best = m
            }
        } }
        if let best { results.append(best) }
    }
    return results.sorted { a, b in
        if a.isExact != b.isExact { return a.isExact }
        return a.score > b.score
    }.filter { $0.matched > 0 }
}
