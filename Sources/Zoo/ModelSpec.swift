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
    /// The output layer's Keras name: always `predictions`.
    public var outputName: String = "predictions"
    public var outputActivation: ZooActivation
    /// Dropout before the output layer when there are no hidden layers.
    public var plainDropoutName: String = "head_dropout"
}

/// A whole architecture as specs: shape-checked, countable, listable, not yet allocated.
public struct ModelSpec: Sendable, Equatable {
    public var architecture: String
    /// [C, H, W]
    public var inputShape: [Int]
    public var trunk: [LayerSpec]
    public var head: [LayerSpec]
    public var headRecipe: HeadRecipe
    /// Shape of the trunk's output ([C, H, W]).
    public var trunkOutputShape: [Int]
    /// Epsilon of every BatchNorm (nil when the model has none).
    public var bnEpsilon: Float?
    /// Legacy layer name -> Keras layer name (ResNet50's Keras-1 file names).
    public var legacyAliases: [String: String]
    public var preprocessing: Preprocessing

    public var trunkLayerNames: [String] { trunk.flatMap(\.layerNames) }
    public var headLayerNames: [String] { head.flatMap(\.layerNames) }
    public var parameterShapes: [(path: String, shape: [Int])] { (trunk + head).flatMap(\.parameterShapes) }
    public var parameterCount: Int { (trunk + head).reduce(0) { $0 + $1.parameterCount } }
}

/// Writes a head after a trunk of output shape `trunkOutput`.
func headSpecs(_ recipe: HeadRecipe, trunkOutput: [Int], classCount: Int, pooling: HeadPooling?, dropout: Float,
               includeTop: Bool, keepHidden: Bool = true) throws -> [LayerSpec] {
    var b = SpecBuilder(shape: trunkOutput)
    guard includeTop else {
        if let pooling { try b.pooling(pooling) }
        return b.layers
    }
    try b.pooling(pooling ?? recipe.defaultPooling)
    let hidden = keepHidden ? recipe.hidden : []
    for h in hidden {
        try b.dense(h.name, h.width, activation: h.activation)
        b.dropout(h.dropoutName, dropout)
    }
    if hidden.isEmpty { b.dropout(recipe.plainDropoutName, dropout) }
    try b.dense(recipe.outputName, classCount, activation: recipe.outputActivation)
    return b.layers
}

/// Finishes a spec: the head from the recipe and the options.
func finishSpec(architecture: String, options o: ZooOptions, inputShape: [Int], trunk: SpecBuilder,
                recipe: HeadRecipe, defaultClasses: Int, defaultDropout: Float, bnEpsilon: Float?,
                legacyAliases: [String: String] = [:], preprocessing: Preprocessing) throws -> ModelSpec {
    let head = try headSpecs(recipe, trunkOutput: trunk.shape, classCount: o.classCount ?? defaultClasses,
                             pooling: o.pooling, dropout: o.dropout ?? defaultDropout, includeTop: o.includeTop)
    return ModelSpec(architecture: architecture, inputShape: inputShape, trunk: trunk.layers, head: head,
                     headRecipe: recipe, trunkOutputShape: trunk.shape, bnEpsilon: bnEpsilon,
                     legacyAliases: legacyAliases, preprocessing: preprocessing)
}
