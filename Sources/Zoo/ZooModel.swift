import TensorCore
import NN

/// A zoo network: a `trunk` and a `head`, both `GraphModule`s of Keras-named nodes, exposed as one flat
/// module so that every parameter path is `<keras_layer_name>.<param>` (`block1_conv1.weight`,
/// `conv2_block1_1_bn.runningVar`, `predictions.bias`). The head's graph reads the trunk's output.
///
/// Transfer learning: ``freezeTrunk()``, ``freeze(upTo:)``, ``unfreeze(from:)``,
/// ``rebuildHead(classCount:keepHidden:pooling:dropout:classifierActivation:)``, ``extendHead(by:newBias:)``;
/// import metadata: ``legacyAliases``, ``bnEpsilon`` (WeightIO adds `kerasWeightMap()`).
///
/// ```swift
/// let model = try Zoo.build("vgg16", ZooOptions(inputSize: 64))   // or WeightIO's loadPretrained
/// model.freezeTrunk()                                              // Keras base_model.trainable = False
/// try model.rebuildHead(classCount: 3, pooling: .globalAverage, classifierActivation: .linear)
/// let logits = model(Var(images))                                  // [N, 3]
/// ```
///
/// Build one through ``Zoo`` (``ZooEntry/build(_:)``) or, with pretrained weights, through WeightIO's
/// `loadPretrained(_:options:weights:importOptions:)`; save it with `saveNativeModel` and
/// `exportKeras2Weights(to:)`.
public final class ZooModel: Module, Layer {
    /// The zoo name it was built as (`vgg16`); recorded in saved files.
    public let architecture: String
    /// The spec the model was built from (the head may have been rebuilt since: see `head.graph`).
    public let spec: ModelSpec
    /// The feature extractor: every layer before the head (convolutions, pooling, BatchNorm).
    public let trunk: GraphModule
    /// The classifier on the trunk's output (pooling, hidden dense layers, `predictions`); replaced
    /// by ``rebuildHead(classCount:keepHidden:pooling:dropout:classifierActivation:)`` and ``extendHead(by:newBias:)``.
    public private(set) var head: GraphModule
    private var _rng: SeededRandom
    private var _dropout: Float

    /// Allocates the model `spec` describes, its weights drawn by the layers' initialisers from `seed`.
    public init(spec: ModelSpec, seed: UInt64 = 0) {
        self.architecture = spec.architecture
        self.spec = spec
        var rng = SeededRandom(seed: seed)
        trunk = GraphModule(graph: spec.trunk, rng: &rng)
        head = GraphModule(graph: spec.head, rng: &rng)
        _dropout = spec.head.nodes.compactMap { ($0.layer as? DropoutKind)?.rate }.first ?? 0
        _rng = rng
        super.init()
    }

    // MARK: Metadata

    /// [C, H, W] the model was built for.
    public var inputShape: [Int] { spec.inputShape }
    /// The input preprocessing the architecture's pretrained weights expect.
    public var preprocessing: Preprocessing { spec.preprocessing }
    /// Epsilon of every BatchNorm layer (nil: the model has none).
    public var bnEpsilon: Float? { spec.bnEpsilon }
    /// Legacy layer name -> Keras layer name, for importing older files (ResNet50's `res2a_branch2a`...).
    public var legacyAliases: [String: String] { spec.legacyAliases }
    /// Name of the output layer (`predictions`), or nil when the model has no top.
    public var headPath: String? { head[spec.headRecipe.outputName] == nil ? nil : spec.headRecipe.outputName }

    // MARK: Flat Keras-named structure

    /// The whole model as one graph (trunk, then head), as it is now.
    public var graph: ModelGraph {
        get throws { try trunk.graph.appending(head.graph) }
    }

    /// Every node in order with its kind and module.
    public var namedNodes: [(node: Node, module: Module)] { trunk.nodes + head.nodes }

    /// Every Keras layer name in order with its module.
    public var namedLayers: [(name: String, module: Module?)] { namedNodes.map { ($0.node.name, $0.module) } }
    /// Keras names of the trunk's layers, in order.
    public var trunkLayerNames: [String] { trunk.graph.nodes.map(\.name) }
    /// Keras names of the head's layers, in order (`flatten`, `fc1`, `fc2`, `predictions`).
    public var headLayerNames: [String] { head.graph.nodes.map(\.name) }
    /// Every Keras layer name, trunk then head: the names ``freeze(upTo:)`` and ``unfreeze(from:)`` take.
    public var layerNames: [String] { trunkLayerNames + headLayerNames }

    public override func namedChildren() -> [(String, Module)] { namedNodes.map { ($0.node.name, $0.module) } }
    public override func localParameters() -> [(String, Parameter)] { [] }

    /// The module of a Keras layer name (legacy aliases accepted).
    public func layer(named name: String) -> Module? {
        let n = legacyAliases[name] ?? name
        return trunk[n] ?? head[n]
    }

    /// The node of a Keras layer name (legacy aliases accepted).
    public func node(named name: String) -> Node? {
        let n = legacyAliases[name] ?? name
        return trunk.graph.node(named: n) ?? head.graph.node(named: n)
    }

    // MARK: Layer

    /// The forward pass: `[N, C, H, W]` images to `[N, classes]` scores (the head's output).
    public func callAsFunction(_ x: Var) -> Var { head(trunk(x)) }

    /// The forward pass with every node's output handed to `record` (name, value).
    public func forward(_ x: Var, recording record: (String, Var) -> Void) -> Var {
        let step = { (name: String, _: Module, run: () -> Var) -> Var in let y = run(); record(name, y); return y }
        return head.evaluate(trunk.evaluate(x, step: step), step: step)
    }

    /// The output shape for an input shape (`[N, C, H, W]`); throws `ShapeError` naming the layer
    /// that cannot take it.
    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        try head.outputShape(for: trunk.outputShape(for: inputShape))
    }

    // MARK: Freezing

    /// Index of a layer name: exact Keras names, legacy aliases, or a block/stage prefix
    /// (`conv3_block1`, `block4`) meaning that block's last layer.
    func layerIndex(_ name: String) throws -> Int {
        let names = layerNames
        let n = legacyAliases[name] ?? name
        if let i = names.firstIndex(of: n) { return i }
        if let i = names.lastIndex(where: { $0.hasPrefix(n + "_") }) { return i }
        throw ZooError.unknownLayer(name, model: architecture, known: names)
    }

    @discardableResult
    private func setFrozen(_ on: Bool, _ range: some Sequence<Int>) -> Int {
        let layers = namedLayers
        var n = 0
        for i in range { if let m = layers[i].module { n += m.freeze(on, where: { _ in true }) } }
        return n
    }

    /// Freezes every trainable parameter of the trunk (Keras `base_model.trainable = False`); returns
    /// how many tensors. Frozen parameters get no gradient and no update, and a frozen BatchNorm runs
    /// in inference mode.
    @discardableResult
    public func freezeTrunk() -> Int { setFrozen(true, 0..<trunk.graph.nodes.count) }

    /// Freezes the layers from the first one up to and including `name` (Keras `layers[:i+1]`).
    ///
    /// - Parameter name: a Keras layer name (``layerNames``), a legacy alias (`res2a_branch2a`), or a
    ///   block or stage prefix meaning that block's last layer (`block4`, `conv3_block4`).
    /// - Returns: how many parameter tensors were frozen.
    /// - Throws: ``ZooError/unknownLayer(_:model:known:)`` listing the model's layers.
    @discardableResult
    public func freeze(upTo name: String) throws -> Int { setFrozen(true, 0...(try layerIndex(name))) }

    /// Unfreezes the layers from `name` (included) to the end (names as for ``freeze(upTo:)``); returns
    /// how many tensors. Between epochs this is gradual unfreezing: optimizers re-read which parameters
    /// train at every step.
    @discardableResult
    public func unfreeze(from name: String) throws -> Int { setFrozen(false, (try layerIndex(name))..<layerNames.count) }

    /// Makes every trainable parameter trainable again; returns how many tensors.
    @discardableResult
    public func unfreezeAll() -> Int { setFrozen(false, 0..<layerNames.count) }

    // MARK: Head surgery

    /// How the current head pools the trunk's features (nil: no pooling layer).
    public var headPooling: HeadPooling? {
        HeadPooling.allCases.first { p in head.graph.nodes.first?.name == spec.headRecipe.poolingName(p) }
    }

    /// Replaces the head with a fresh one for `classCount` classes. New dense layers are Glorot-uniform
    /// with zero bias (Keras's Dense default). With `keepHidden` the existing hidden dense layers (VGG
    /// fc1/fc2, AlexNet fc6/fc7, LeNet fc1/fc2) are kept with their weights, which requires the new
    /// pooling to give them the feature size they take; otherwise the head is pooling -> (dropout) ->
    /// predictions. `pooling`/`dropout` default to the current ones.
    ///
    /// ```swift
    /// try model.rebuildHead(classCount: 5, pooling: .globalAverage, classifierActivation: .linear)
    /// ```
    ///
    /// - Parameters:
    ///   - classCount: outputs of the new `predictions` layer.
    ///   - keepHidden: keep the pretrained hidden dense layers and replace only `predictions`.
    ///   - pooling: how the trunk's feature map becomes a vector (nil: the current head's).
    ///   - dropout: dropout rate before the new dense layers, in [0, 1) (nil: the current one).
    ///   - classifierActivation: activation fused into `predictions` (nil: the one the model was built with).
    ///     Pass `.linear` to train with a loss that takes logits (`softmaxCrossEntropy`).
    /// - Throws: ``ZooError`` for a bad option, or when `keepHidden` cannot fit the new pooling.
    public func rebuildHead(classCount: Int, keepHidden: Bool = false, pooling: HeadPooling? = nil,
                            dropout: Float? = nil, classifierActivation: ZooActivation? = nil) throws {
        guard classCount > 0 else { throw ZooError.invalidOption("\(architecture): classCount \(classCount) must be positive") }
        if let d = dropout, !(d >= 0 && d < 1) { throw ZooError.invalidOption("\(architecture): dropout \(d) must be in [0, 1)") }
        var recipe = spec.headRecipe
        if let a = classifierActivation { recipe.outputActivation = a }
        let pool = pooling ?? headPooling ?? recipe.defaultPooling
        let rate = dropout ?? _dropout
        let graph = try headGraph(recipe, trunk: trunk.graph, classCount: classCount, pooling: pool,
                                  dropout: rate, includeTop: true, keepHidden: keepHidden)
        let hiddenNames = Set(recipe.hidden.map(\.name))
        let old = head
        head = try GraphModule(graph: graph, rng: &_rng) { node, inputs in
            guard keepHidden, hiddenNames.contains(node.name), let d = node.layer as? DenseKind else { return nil }
            guard let kept = old[node.name] as? Dense else {
                throw ZooError.cannotKeepHidden("\(architecture): keepHidden, but the head has no \(node.name) (built without top?)")
            }
            guard kept.inputSize == inputs[0][0], kept.outputSize == d.units else {
                throw ZooError.cannotKeepHidden(
                    "\(architecture): \(node.name) takes \(kept.inputSize) features but \(pool.rawValue) pooling gives \(inputs[0][0])")
            }
            return kept
        }
        _dropout = rate
    }

    /// How the scores of the classes added by `extendHead` start.
    public enum NewClassBias: Sendable, Equatable {
        /// Bias = mean of the old biases: new classes start as "average" old ones.
        case meanOfOld
        /// Bias = (min of old biases) - margin: new classes start unlikely, old probabilities barely move.
        case belowOld(margin: Float)
        case constant(Float)
    }

    /// Adds `newClasses` outputs to `predictions`. The N old rows (weights and biases) are copied
    /// exactly and computed by the same GEMM call as before (`ExtendedDense`), so the old N logits are
    /// bit-identical; the M new rows are Glorot-uniform for the
    /// widened layer (limit sqrt(6 / (in + N + M))) and their bias follows `newBias` (default: the
    /// mean of the old biases). Old classes keep their logits; softmax probabilities of course shift.
    ///
    /// - Throws: ``ZooError/noHead(_:)`` when the model has no `predictions` dense layer.
    public func extendHead(by newClasses: Int, newBias: NewClassBias = .meanOfOld) throws {
        guard newClasses > 0 else { throw ZooError.invalidOption("\(architecture): extendHead needs at least 1 new class") }
        let name = spec.headRecipe.outputName
        if let conv = head[name] as? Conv2D, spec.headRecipe.convolutionalOutput != nil {
            return try extendConvolutionalHead(conv, by: newClasses, newBias: newBias)
        }
        let old: (weight: Parameter, bias: Parameter?, activation: Activation?, segments: [Int])
        switch head[name] {
        case let d as Dense: old = (d.weight, d.bias, d.fusedActivation, [d.outputSize])
        case let d as ExtendedDense: old = (d.weight, d.bias, d.fusedActivation, d.segments)
        default: throw ZooError.noHead("\(architecture): no \(name) dense layer to extend")
        }
        let (weight, bias) = extendedRows(old.weight, old.bias, by: newClasses, newBias: newBias)
        let total = weight.shape[0]
        head.replace(name, with: ExtendedDense(weight: weight, bias: bias, segments: old.segments + [newClasses],
                                               fusedActivation: old.activation),
                     kind: DenseKind(units: total, useBias: bias != nil, activation: old.activation))
    }

    /// The old rows of a [N, in(, 1, 1)] weight and its bias kept exactly, `newClasses` Glorot-uniform
    /// rows (limit sqrt(6 / (in + N + M))) and biases from `newBias` appended.
    private func extendedRows(_ w: Parameter, _ b: Parameter?, by newClasses: Int, newBias: NewClassBias) -> (Tensor, Tensor?) {
        let n = w.shape[0], inF = w.value.count / max(n, 1), total = n + newClasses
        let limit = (6 / Float(inF + total)).squareRoot()
        let fresh = Tensor.uniform([newClasses, inF], limit: limit, rng: &_rng)
        let weight = Tensor(shape: [total] + Array(w.shape.dropFirst()), scalars: w.value.scalars + fresh.scalars)
        guard let b else { return (weight, nil) }
        let oldB = b.value.scalars
        let fill: Float
        switch newBias {
        case .meanOfOld: fill = oldB.reduce(0, +) / Float(max(n, 1))
        case let .belowOld(margin): fill = (oldB.min() ?? 0) - margin
        case let .constant(c): fill = c
        }
        return (weight, Tensor(shape: [total], scalars: oldB + Array(repeating: fill, count: newClasses)))
    }

    /// MobileNet's head: a wider `conv_preds` (old filters first, copied exactly) and its reshape; the
    /// head is rebuilt around it with the current pooling, dropout and activation, as
    /// keras.applications.MobileNet(classes: N + M) would build it.
    private func extendConvolutionalHead(_ conv: Conv2D, by newClasses: Int, newBias: NewClassBias) throws {
        let (weight, bias) = extendedRows(conv.weight, conv.bias, by: newClasses, newBias: newBias)
        var recipe = spec.headRecipe
        if let out = recipe.convolutionalOutput, let a = head.graph.node(named: out.activationName)?.layer as? ActivationKind {
            recipe.outputActivation = ZooActivation.allCases.first { $0.nn == a.activation } ?? recipe.outputActivation
        }
        let graph = try headGraph(recipe, trunk: trunk.graph, classCount: weight.shape[0], pooling: headPooling ?? recipe.defaultPooling,
                                  dropout: _dropout, includeTop: true)
        head = try GraphModule(graph: graph, rng: &_rng) { node, inputs in
            guard node.name == recipe.outputName else { return nil }
            var unused = SeededRandom(seed: 0)   // the weights are set right after
            let wide = Conv2D(inChannels: conv.inChannels, outChannels: weight.shape[0], kernel: 1, padding: conv.padding,
                              useBias: bias != nil, rng: &unused)
            wide.weight.value = weight
            if let bias { wide.bias?.value = bias }
            wide.fusedActivation = conv.fusedActivation
            return wide
        }
    }
}
