import Foundation
import NN
import Zoo

// Compares a Keras 2 full-model `model_config` with a zoo model, layer by layer (by name; functional
// models have no unique layer order, so order is not compared).

private let containerClasses: Set<String> = ["Functional", "Sequential", "Model"]
/// Layers a head may have that a skipped head need not match.
private let headClasses: Set<String> = ["Dense", "Dropout", "Flatten", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Activation", "Softmax"]

/// Keras's name for an NN activation (nil: no Keras equivalent).
func kerasActivationName(_ a: Activation?) -> String? {
    switch a {
    case nil, .linear?: return "linear"
    case .relu?: return "relu"
    case .tanh?: return "tanh"
    case .sigmoid?: return "sigmoid"
    case .softmax?: return "softmax"
    case .elu?: return "elu"
    case .leakyReLU?: return "leaky_relu"
    default: return nil
    }
}

/// Keras class name of a zoo module (nil module: a weightless bookkeeping name such as `_add`).
func kerasClassName(_ module: Module?) -> String? {
    switch module {
    case nil: return "Add"
    case is Conv2D: return "Conv2D"
    case is Dense, is ExtendedDense: return "Dense"
    case is BatchNorm: return "BatchNormalization"
    case is MaxPool2D: return "MaxPooling2D"
    case is AvgPool2D: return "AveragePooling2D"
    case is GlobalAvgPool2D: return "GlobalAveragePooling2D"
    case is GlobalMaxPool2D: return "GlobalMaxPooling2D"
    case is Flatten: return "Flatten"
    case is ZeroPadding2D: return "ZeroPadding2D"
    case is Dropout: return "Dropout"
    case is ActivationLayer: return "Activation"
    default: return nil
    }
}

private func pair(_ t: (Int, Int)) -> [Int] { [t.0, t.1] }

private func kerasPadding(_ p: Padding) -> String {
    switch p {
    case .valid: return "valid"
    case .same: return "same"
    case let .explicit(t, b, l, r): return t == 0 && b == 0 && l == 0 && r == 0 ? "valid" : "explicit(\(t),\(b),\(l),\(r))"
    }
}

extension ZooModel {
    /// The first way a Keras `model_config` disagrees with this model, or nil when they agree.
    /// With `skipHead`, the output layer (and head layers missing on either side) are not compared.
    public func architectureDisagreement(_ config: KerasModelConfig, skipHead: Bool = false) -> String? {
        let layers = namedLayers
        var modules: [String: Module?] = [:]
        for l in layers where modules[l.name] == nil { modules[l.name] = l.module }
        let headNames = Set(headLayerNames)
        let output = headPath ?? spec.headRecipe.outputName
        var seen = Set<String>()
        for l in config.layers where l.className != "InputLayer" && !containerClasses.contains(l.className) {
            let name = legacyAliases[l.name] ?? l.name
            guard let entry = modules[name] else {
                if l.className == "Dropout" { continue }
                if skipHead && headClasses.contains(l.className) { continue }
                return "file layer '\(l.name)' (\(l.className)) has no counterpart in \(architecture)"
            }
            seen.insert(name)
            if skipHead && (name == output) { continue }
            let module = entry
            guard let cls = kerasClassName(module) else { continue }   // no Keras twin (LRN): nothing to compare
            let fileClass = l.className == "ReLU" ? "Activation" : l.className
            guard fileClass == cls else {
                return "layer '\(l.name)' is \(l.className) in the file but \(cls) in \(architecture)"
            }
            if let problem = compare(l, module) { return "layer '\(l.name)': \(problem)" }
        }
        for l in layers where !seen.contains(l.name) {
            if l.module is Dropout { continue }
            if skipHead && headNames.contains(l.name) { continue }
            return "\(architecture) layer '\(l.name)' (\(kerasClassName(l.module) ?? "?")) is not in the file's architecture"
        }
        return nil
    }

    private func compare(_ l: KerasLayerConfig, _ module: Module?) -> String? {
        func differ(_ what: String, file: Any, model: Any) -> String { "\(what) \(file) in the file, \(model) in \(architecture)" }
        switch module {
        case let c as Conv2D:
            if let k = l.kernelSize, k != pair(c.kernelSize) { return differ("kernel size", file: k, model: pair(c.kernelSize)) }
            if let s = l.strides, s != pair(c.stride) { return differ("strides", file: s, model: pair(c.stride)) }
            if let p = l.padding, p != kerasPadding(c.padding) { return differ("padding", file: p, model: kerasPadding(c.padding)) }
            if let f = l.filters, f != c.outChannels { return differ("filters", file: f, model: c.outChannels) }
            if let b = l.useBias, b != (c.bias != nil) { return differ("use_bias", file: b, model: c.bias != nil) }
            if let a = l.activation, a != kerasActivationName(c.fusedActivation) {
                return differ("activation", file: a, model: kerasActivationName(c.fusedActivation) ?? "\(String(describing: c.fusedActivation))")
            }
        case let d as Dense:
            if let u = l.units, u != d.outputSize { return differ("units", file: u, model: d.outputSize) }
            if let b = l.useBias, b != (d.bias != nil) { return differ("use_bias", file: b, model: d.bias != nil) }
            if let a = l.activation, a != kerasActivationName(d.fusedActivation) {
                return differ("activation", file: a, model: kerasActivationName(d.fusedActivation) ?? "?")
            }
        case let d as ExtendedDense:
            if let u = l.units, u != d.outputSize { return differ("units", file: u, model: d.outputSize) }
            if let a = l.activation, a != kerasActivationName(d.fusedActivation) {
                return differ("activation", file: a, model: kerasActivationName(d.fusedActivation) ?? "?")
            }
        case let b as BatchNorm:
            if let e = l.epsilon, !epsilonsAgree(e, Double(b.epsilon)) {
                return differ("BatchNorm epsilon", file: e, model: b.epsilon) + " (build the model with ZooOptions(bnEpsilon:))"
            }
        case let p as Pool2DLayer:
            if let k = l.poolSize, k != pair(p.kernelSize) { return differ("pool size", file: k, model: pair(p.kernelSize)) }
            if let s = l.strides, s != pair(p.stride) { return differ("strides", file: s, model: pair(p.stride)) }
            if let pad = l.padding, pad != kerasPadding(p.padding) { return differ("padding", file: pad, model: kerasPadding(p.padding)) }
        case let z as ZeroPadding2D:
            let own = [z.top, z.bottom, z.left, z.right]
            if let p = l.zeroPadding, p != own { return differ("zero padding", file: p, model: own) }
        case let a as ActivationLayer:
            if l.className == "Activation", let name = l.activation, name != kerasActivationName(a.activation) {
                return differ("activation", file: name, model: kerasActivationName(a.activation) ?? "\(a.activation)")
            }
        default:
            break
        }
        return nil
    }
}
