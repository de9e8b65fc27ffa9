import NN
import TensorCore

/// A hidden dense layer of a head (VGG fc1/fc2, AlexNet fc6/fc7, LeNet fc1/fc2) and its dropout's name.
public struct HiddenDenseSpec: Sendable, Equatable {
    public var name: String
    public var width: Int
    public var activation: ZooActivation
    public var dropoutName: String
}

/// What a head looks like for an architecture; `rebuildHead` reuses it with new sizes.
public struct HeadRecipe: Sendable, Equatable {
    public var hidden: [HiddenDenseSpec]
    public var defaultPooling: HeadPooling
    /// The output layer's Keras name: `predictions` (MobileNet: its 1x1 convolution `conv_preds`).
    public var outputName: String = "predictions"
    public var outputActivation: ZooActivation
    /// Dropout before the output layer when there are no hidden layers.
    public var plainDropoutName: String = "head_dropout"
    /// Global poolings named as Keras names unnamed layers (`global_average_pooling2d`), as
    /// keras.applications MobileNet/MobileNetV2 leave them, so full-model configs match by name.
    public var kerasPoolingNames: Bool = false
    /// MobileNet's head: the pooling keeps [C, 1, 1], the output is a 1x1 convolution with bias, then
    /// a reshape to [classes] and the activation as a layer of its own.
    public var convolutionalOutput: ConvolutionalOutput? = nil

    public struct ConvolutionalOutput: Sendable, Equatable {
        public var reshapeName: String
        public var activationName: String
        public init(reshapeName: String, activationName: String) { self.reshapeName = reshapeName; self.activationName = activationName }
    }

    /// The layer name of a head pooling.
    public func poolingName(_ p: HeadPooling) -> String {
        guard kerasPoolingNames else { return p.layerName }
        switch p { case .flatten: return "flatten"; case .globalAverage: return "global_average_pooling2d"; case .globalMax: return "global_max_pooling2d" }
    }
}

extension HeadRecipe {
    /// A head for a model read from a file (in an extension, so the memberwise init stays): no hidden
    /// layers to rebuild, the output layer `outputName`.
    public init(defaultPooling: HeadPooling, outputName: String, outputActivation: ZooActivation) {
        self.init(hidden: [], defaultPooling: defaultPooling, outputActivation: outputActivation)
        self.outputName = outputName
    }
}

/// A whole architecture as graphs: shape-checked, countable, listable, not yet allocated. The trunk
/// reads the input; the head is a graph whose input is the trunk's output (the nested-model case of
/// `ModelGraph`), so `graph` is the two joined.
public struct ModelSpec: Sendable, Equatable {
    public var architecture: String
    /// [C, H, W]
    public var inputShape: [Int] { trunk.inputShape }
    public var trunk: ModelGraph
    public var head: ModelGraph
    public var headRecipe: HeadRecipe
    /// Shape of the trunk's output ([C, H, W]).
    public var trunkOutputShape: [Int] { trunk.outputShape }
    /// Epsilon of every BatchNorm (nil when the model has none).
    public var bnEpsilon: Float?
    /// Legacy layer name -> Keras layer name (ResNet50's Keras-1 file names).
    public var legacyAliases: [String: String]
    public var preprocessing: Preprocessing

    public init(architecture: String, trunk: ModelGraph, head: ModelGraph, headRecipe: HeadRecipe, bnEpsilon: Float?,
                legacyAliases: [String: String] = [:], preprocessing: Preprocessing) {
        self.architecture = architecture; self.trunk = trunk; self.head = head; self.headRecipe = headRecipe
        self.bnEpsilon = bnEpsilon; self.legacyAliases = legacyAliases; self.preprocessing = preprocessing
    }

    /// The whole model: trunk then head.
    public var graph: ModelGraph {
        get throws { try trunk.appending(head) }
    }

    public var trunkLayerNames: [String] { trunk.nodes.map(\.name) }
    public var headLayerNames: [String] { head.nodes.map(\.name) }
    public var parameterShapes: [(path: String, shape: [Int])] { trunk.parameterShapes + head.parameterShapes }
    public var parameterCount: Int { trunk.parameterCount + head.parameterCount }
}

/// Writes a head after a trunk graph.
func headGraph(_ recipe: HeadRecipe, trunk: ModelGraph, classCount: Int, pooling: HeadPooling?, dropout: Float,
               includeTop: Bool, keepHidden: Bool = true) throws -> ModelGraph {
    var b = GraphBuilder(input: trunk.output, shape: trunk.outputShape)
    guard includeTop else {
        if let pooling { try b.pooling(pooling, name: recipe.poolingName(pooling)) }
        return try b.graph()
    }
    let pool = pooling ?? recipe.defaultPooling
    if let conv = recipe.convolutionalOutput {
        guard pool != .flatten else {
            throw ZooError.invalidOption("\(recipe.outputName) is a 1x1 convolution on globally pooled features: use average or max pooling, not flatten")
        }
        try b.pooling(pool, name: recipe.poolingName(pool), keepDims: true)
        try b.dropout(recipe.plainDropoutName, dropout)
        try b.conv(recipe.outputName, classCount, kernel: 1, padding: .same)
        try b.node(conv.reshapeName, ReshapeKind(targetShape: [classCount]))
        try b.activation(conv.activationName, recipe.outputActivation)
        return try b.graph()
    }
    try b.pooling(pool, name: recipe.poolingName(pool))
    let hidden = keepHidden ? recipe.hidden : []
    for h in hidden {
        try b.dense(h.name, h.width, activation: h.activation)
        try b.dropout(h.dropoutName, dropout)
    }
    if hidden.isEmpty { try b.dropout(recipe.plainDropoutName, dropout) }
    try b.dense(recipe.outputName, classCount, activation: recipe.outputActivation)
    return try b.graph()
}

/// Finishes a spec: the head from the recipe and the options.
func finishSpec(architecture: String, options o: ZooOptions, trunk builder: GraphBuilder,
                recipe: HeadRecipe, defaultClasses: Int, defaultDropout: Float, bnEpsilon: Float?,
                legacyAliases: [String: String] = [:], preprocessing: Preprocessing) throws -> ModelSpec {
    let trunk = try builder.graph()
    let head = try headGraph(recipe, trunk: trunk, classCount: o.classCount ?? defaultClasses,
                             pooling: o.pooling, dropout: o.dropout ?? defaultDropout, includeTop: o.includeTop)
    return ModelSpec(architecture: architecture, trunk: trunk, head: head, headRecipe: recipe, bnEpsilon: bnEpsilon,
                     legacyAliases: legacyAliases, preprocessing: preprocessing)
}
