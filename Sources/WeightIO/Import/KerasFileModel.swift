import Foundation
import NN
import Zoo

// A model built from the architecture a Keras file carries (its `model_config`), not from the zoo:
// the graph is the file's, so its weights load by the file's own layer names.

/// The `ZooModel` a Keras `model_config` describes: the trunk is every node before the last Dense (the
/// classifier), the head that Dense and what follows it (a separate softmax Activation, say). Throws
/// naming the first layer that cannot be built.
public func kerasModel(_ config: KerasModelConfig, file: String) throws -> ZooModel {
    let g = try config.graph(file: file).flattened()
    let split = g.nodes.lastIndex { $0.layer is DenseKind } ?? g.nodes.count
    let headNodes = Array(g.nodes[split...])
    let trunkOutput = headNodes.first?.inputs.first ?? g.output
    let trunk = try ModelGraph(input: g.input, inputShape: g.inputShape, nodes: Array(g.nodes[..<split]), output: trunkOutput)
    let known = Set(headNodes.map(\.name) + [trunkOutput])
    if let n = headNodes.first(where: { !$0.inputs.allSatisfy(known.contains) }) {
        throw WeightIOError(.malformed, file: file, layer: n.name, "cannot be built: the classifier's layers read layers before it other than '\(trunkOutput)'")
    }
    let head = try ModelGraph(input: trunkOutput, inputShape: trunk.outputShape, nodes: headNodes, output: g.output)
    let dense = headNodes.first?.layer as? DenseKind
    // ZooActivation's raw values are Keras's activation names.
    let activation = ZooActivation(rawValue: kerasActivationName(dense?.activation) ?? "linear") ?? .linear
    let recipe = HeadRecipe(defaultPooling: .flatten, outputName: headNodes.first?.name ?? "predictions", outputActivation: activation)
    let eps = g.nodes.compactMap { ($0.layer as? BatchNormKind)?.epsilon }.first
    let spec = ModelSpec(architecture: "keras:" + (config.name ?? "model"), trunk: trunk, head: head, headRecipe: recipe,
                         bnEpsilon: eps, preprocessing: .none)
    return ZooModel(spec: spec)
}

/// Reads a Keras full-model file (Keras 2 / tf.keras, Keras 3 legacy `.h5`): the model its config
/// describes, with the file's weights (all-or-nothing, by layer name).
public func loadKerasModel(path: String) throws -> (model: ZooModel, report: ImportReport) {
    let file = try readWeightFile(path: path)
    guard file.format == .keras2FullModel, let json = file.modelConfigJSON else {
        throw WeightIOError(.missingObject, file: path, "not a Keras full-model file: it has no model_config (a weights-only file needs its architecture)")
    }
    let config = try parseKerasModelConfig(json, file: path)
    let model = try kerasModel(config, file: path)
    // The model is the file's own architecture: nothing to compare it with.
    let report = try model.importWeights(file, options: ImportOptions(checkArchitecture: false))
    return (model, report)
}
