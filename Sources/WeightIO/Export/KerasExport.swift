import Foundation
import TensorCore
import NN
import Zoo

/// Keras's order of the weights inside one layer.
private let kerasWeightRank: [KerasWeightName: Int] = [.kernel: 0, .depthwiseKernel: 0, .pointwiseKernel: 1, .alpha: 0, .mean: 0, .variance: 1, .bias: 2, .gamma: 3, .beta: 4, .movingMean: 5, .movingVariance: 6]

/// Node names of `graph` in Keras `model.layers` order, the input first. tf_keras orders the layers of a
/// functional model by decreasing depth (the output has depth 0, a layer is one deeper than its deepest
/// reader), ties in traversal order: a post-order walk from the output that visits inputs in order. So
/// `Add()([shortcut, x])` lists a block's main-branch leading layers, then shortcut/main pairs of equal
/// depth, then `_add`, `_out` (ResNet50: ..._2_relu, _0_conv, _3_conv, _0_bn, _3_bn, _add, _out).
func kerasLayerOrder(_ graph: ModelGraph) -> [String] {
    let byName = Dictionary(graph.nodes.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    var index: [String: Int] = [:]
    var order: [String] = []
    func visit(_ name: String) {
        if index[name] != nil { return }
        index[name] = -1
        for i in byName[name]?.inputs ?? [] { visit(i) }
        index[name] = order.count
        order.append(name)
    }
    visit(graph.output)
    for n in graph.nodes { visit(n.name) }   // nodes the output does not read (none in a zoo model)
    var depth: [String: Int] = [:]
    for name in order.reversed() {
        let d = depth[name, default: 0]
        for i in byName[name]?.inputs ?? [] { depth[i] = max(depth[i, default: 0], d + 1) }
    }
    return order.sorted { a, b in
        let da = depth[a, default: 0], db = depth[b, default: 0]
        return da != db ? da > db : index[a]! < index[b]!
    }
}

extension ZooModel {
    /// Every layer name of the equivalent Keras model in `model.layers` order, weightless layers
    /// included, starting with the input layer (`input`). This is the order tf_keras's topological
    /// `load_weights` needs for the layers that have weights.
    public var kerasLayerOrder: [String] {
        guard let g = try? graph else { return ["input"] + layerNames }
        return WeightIO.kerasLayerOrder(g)
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
            return LayerWeights(name: name, className: name == "input" ? "InputLayer" : node(named: name).flatMap { KerasLayers.className(of: $0.layer) }, tensors: tensors)
        }
    }

    /// Writes the weights as a Keras 2 legacy `.h5` (`save_weights` layout), atomically. tf_keras loads it
    /// into the equivalent Keras model both topologically and `by_name=True`.
    ///
    /// Layouts are converted back to Keras's (HWIO kernels, `(in, out)` dense kernels, HWC flatten
    /// order) and layers keep their Keras names, so `model.load_weights("model-keras.h5")` works on
    /// the Keras model with the same layers (for a rebuilt head: the same pooling and `predictions` size).
    ///
    /// - Throws: `WeightIOError` when the file cannot be written.
    public func exportKeras2Weights(to path: String) throws {
        try writeKeras2Weights(path: path, layers: kerasLayerWeights())
    }
}
