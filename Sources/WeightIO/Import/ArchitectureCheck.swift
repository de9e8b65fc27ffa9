import Foundation
import NN
import Zoo

// Compares a Keras 2 full-model `model_config` with a zoo model, layer by layer (by name; functional
// models have no unique layer order, so order is not compared).

private let containerClasses: Set<String> = ["Functional", "Sequential", "Model"]
/// Layers a head may have that a skipped head need not match.
private let headClasses: Set<String> = ["Dense", "Dropout", "Flatten", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Activation", "Softmax", "Reshape"]

/// Weightless layers keras.applications leaves to Keras's automatic names.
private let autoNamedClasses: Set<String> = ["GlobalAveragePooling2D", "GlobalMaxPooling2D"]

/// `name_12` -> `name` (nil without a numeric suffix).
private func withoutNumberSuffix(_ name: String) -> String? {
    guard let i = name.lastIndex(of: "_"), name[name.index(after: i)...].allSatisfy(\.isNumber), name.index(after: i) < name.endIndex else { return nil }
    return String(name[..<i])
}

extension ZooModel {
    /// The first way a Keras `model_config` disagrees with this model, or nil when they agree.
    /// With `skipHead`, the output layer (and head layers missing on either side) are not compared.
    public func architectureDisagreement(_ config: KerasModelConfig, skipHead: Bool = false) -> String? {
        // Whole-model options first: the layout the file was made in, and its input channels.
        if let l = config.layers.first(where: { $0.dataFormat == "channels_first" }) {
            return "layer '\(l.name)': data_format channels_first in the file, channels_last in \(architecture)"
        }
        if let shape = config.inputShape, shape.count == 3, let c = shape[2], c != inputShape[0] {
            return "input channels \(c) in the file, \(inputShape[0]) in \(architecture)"
        }
        let nodes = namedNodes
        var byName: [String: (node: Node, module: Module)] = [:]
        for n in nodes where byName[n.node.name] == nil { byName[n.node.name] = n }
        let headNames = Set(headLayerNames)
        let output = headPath ?? spec.headRecipe.outputName
        var seen = Set<String>()
        // Auto-named layers numbered otherwise (a Keras 2 InceptionV3) compare by order, as weights load.
        let auto = autoNameAliases(fileLayers: config.layers.map(\.name), modelLayers: nodes.map(\.node.name))
        for l in config.layers where l.className != "InputLayer" && !containerClasses.contains(l.className) {
            var name = legacyAliases[l.name] ?? auto[l.name] ?? l.name
            // keras.applications leaves MobileNet's global pooling unnamed, and Keras numbers the automatic
            // name per session (`global_average_pooling2d_3`): match it to the unnumbered node.
            if byName[name] == nil, autoNamedClasses.contains(l.className), let base = withoutNumberSuffix(name), byName[base] != nil {
                name = base
            }
            guard let entry = byName[name] else {
                if l.className == "Dropout" { continue }
                if skipHead && headClasses.contains(l.className) { continue }
                return "file layer '\(l.name)' (\(l.className)) has no counterpart in \(architecture)"
            }
            seen.insert(name)
            // A skipped head's reshape (MobileNet's reshape_2) holds the file's class count, and its
            // activation layer (MobileNet's predictions) the file's classifier activation.
            if skipHead && (name == output || (headNames.contains(name) && ["Reshape", "Activation", "Softmax"].contains(l.className))) { continue }
            guard let kind = entry.node.layer as? any KerasLayer, let cls = kind.kerasClassName else { continue }   // no Keras twin (LRN)
            let fileClass = l.className == "ReLU" ? "Activation" : l.className
            guard fileClass == cls else {
                return "layer '\(l.name)' is \(l.className) in the file but \(cls) in \(architecture)"
            }
            if let d = kind.kerasDisagreement(l, module: entry.module) {
                return "layer '\(l.name)': \(d.what) \(d.file) in the file, \(d.model) in \(architecture)"
            }
        }
        for n in nodes where !seen.contains(n.node.name) {
            if n.node.layer is DropoutKind { continue }
            if skipHead && headNames.contains(n.node.name) { continue }
            return "\(architecture) layer '\(n.node.name)' (\(KerasLayers.className(of: n.node.layer) ?? "?")) is not in the file's architecture"
        }
        return nil
    }
}
