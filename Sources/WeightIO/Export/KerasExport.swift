import Foundation
import TensorCore
import NN
import Zoo

/// Keras's order of the weights inside one layer.
private let kerasWeightRank: [KerasWeightName: Int] = [.kernel: 0, .bias: 1, .gamma: 2, .beta: 3, .movingMean: 4, .movingVariance: 5]

/// Names of one layer spec in Keras `model.layers` order. Inside a residual block tf_keras orders
/// layers by decreasing depth, ties in traversal order, and `Add()([shortcut, x])` traverses the
/// shortcut first: the main branch's leading layers, then shortcut/main pairs of equal depth, then
/// `_add`, `_out` (ResNet50: ..._2_relu, _0_conv, _3_conv, _0_bn, _3_bn, _add, _out).
func kerasOrderedNames(_ spec: LayerSpec) -> [String] {
    guard case let .residual(_, shortcut, main, addName, outName) = spec else { return spec.layerNames }
    let s = shortcut.flatMap(kerasOrderedNames), m = main.flatMap(kerasOrderedNames)
    guard s.count <= m.count else { return s + m + [addName, outName] }
    let lead = m.count - s.count
    var names = Array(m[..<lead])
    for i in 0..<s.count { names += [s[i], m[lead + i]] }
    return names + [addName, outName]
}

extension ZooModel {
    /// Every layer name of the equivalent Keras model in `model.layers` order, weightless layers
    /// included, starting with the input layer (`input`). This is the order tf_keras's topological
    /// `load_weights` needs for the layers that have weights.
    public var kerasLayerOrder: [String] {
        ["input"] + spec.trunk.flatMap(kerasOrderedNames) + headLayerNames
    }

    /// The model's parameters as Keras layers (Keras layouts: HWIO kernels, (in, out) dense kernels with
    /// HWC-ordered rows after Flatten; canonical weight names), every layer of `kerasLayerOrder` included.
    public func kerasLayerWeights() throws -> [LayerWeights] {
        let mapping = try kerasWeightMap()
        let parameters = Dictionary(namedParameters(), uniquingKeysWith: { a, _ in a })
        var byLayer: [String: [KerasWeightRef]] = [:]
        for ref in mapping.weights { byLayer[ref.layer, default: []].append(ref) }
        var order = kerasLayerOrder
        let listed = Set(order)
        for ref in mapping.weights where !listed.contains(ref.layer) && !order.contains(ref.layer) { order.append(ref.layer) }
        return try order.map { name in
            let refs = (byLayer[name] ?? []).sorted { kerasWeightRank[$0.weight]! < kerasWeightRank[$1.weight]! }
            let tensors = try refs.map { ref -> NamedTensor in
                guard let p = parameters[ref.path] else {
                    throw WeightIOError(.malformed, file: architecture, layer: name, tensor: ref.path, "no such parameter")
                }
                return NamedTensor(name: ref.weight.rawValue, value: ref.layout.toKeras(p.value))
            }
            return LayerWeights(name: name, className: name == "input" ? "InputLayer" : kerasClassName(layer(named: name)), tensors: tensors)
        }
    }

    /// Writes the weights as a Keras 2 legacy `.h5` (`save_weights` layout), atomically. tf_keras loads it
    /// into the equivalent Keras model both topologically and `by_name=True`.
    public func exportKeras2Weights(to path: String) throws {
        try writeKeras2Weights(path: path, layers: kerasLayerWeights())
    }
}
