/// Build options shared by every zoo architecture. `nil` means "the architecture's default"
/// (see each `ZooEntry`), so one options value can be applied to any model name.
public struct ZooOptions: Sendable, Equatable, Hashable, Codable {
    /// Square input side in pixels (default: the entry's `defaultInputSize`). Any size the network can
    /// take is accepted; a too-small one throws `ShapeError.invalidInput` naming the layer that fails.
    public var inputSize: Int?
    /// Input channels (default: the entry's `defaultInputChannels`, 3, or 1 for LeNet).
    public var inputChannels: Int?
    /// Output classes (default 1000, or 10 for LeNet).
    public var classCount: Int?
    /// CIFAR-style stem for 32x32 inputs: the first convolution becomes 3x3 stride 1 ('same') and the
    /// stem pooling is removed (ResNet: no conv1_pad/pool1_*; AlexNet: no conv1_pad/pool1; MobileNets:
    /// the 3x3 stem convolution keeps stride 1).
    /// VGG and LeNet have no strided stem, so for them it is accepted and changes nothing.
    public var cifarStem: Bool
    /// Scales every convolution width (and the hidden dense widths of VGG/AlexNet/LeNet); widths round
    /// to the nearest integer, at least 1. Typical values 0.25, 0.5, 1.0. For MobileNets it is Keras's
    /// `alpha`, rounded as Keras does (see ``MobileNet``).
    public var widthMultiplier: Double
    /// Width of the hidden dense layers (VGG fc1/fc2, AlexNet fc6/fc7, LeNet fc1/fc2), overriding the
    /// scaled default (4096·widthMultiplier, or 120/84 for LeNet).
    public var hiddenWidth: Int?
    /// Pooling between trunk and head (default: flatten for LeNet/AlexNet/VGG, global average for ResNet).
    /// With `includeTop == false` and `pooling == nil` the model ends at the trunk's 4-D output (Keras
    /// `pooling=None`).
    public var pooling: HeadPooling?
    /// Dropout rate of the head (default: 0.5 for AlexNet's drop6/drop7, 1e-3 for MobileNet, 0 elsewhere). A rate of 0
    /// removes the dropout layers (they have no parameters, so keys don't change).
    public var dropout: Float?
    /// Hidden activation (LeNet default tanh, others relu). ResNets accept only relu, MobileNets only relu6.
    public var activation: ZooActivation?
    /// Activation fused into the output layer `predictions` (Keras `classifier_activation`, default softmax).
    public var classifierActivation: ZooActivation
    /// BatchNorm epsilon (defaults: 1.001e-5 Keras ResNet50/101/152, 1e-5 ResNet18/34 and VGG-BN;
    /// the legacy Keras-1 ResNet50 file wants 1e-3).
    public var bnEpsilon: Float?
    /// Keras `include_top`: false drops the hidden dense layers and `predictions`.
    public var includeTop: Bool
    /// LeNet subsampling (default average).
    public var subsampling: Subsampling?
    /// ResNet50/101/152 "v1.5" (torchvision): stride on the 3x3 convolution instead of the first 1x1.
    public var resnetV15: Bool
    /// MobileNet (v1) `depth_multiplier`: filters per channel of each depthwise convolution (default 1).
    public var depthMultiplier: Int?
    /// Seed of the random initialisation (weights are normally replaced by an import).
    public var seed: UInt64

    public init(inputSize: Int? = nil, inputChannels: Int? = nil, classCount: Int? = nil, cifarStem: Bool = false,
                widthMultiplier: Double = 1.0, hiddenWidth: Int? = nil, pooling: HeadPooling? = nil, dropout: Float? = nil,
                activation: ZooActivation? = nil, classifierActivation: ZooActivation = .softmax,
                bnEpsilon: Float? = nil, includeTop: Bool = true, subsampling: Subsampling? = nil,
                resnetV15: Bool = false, depthMultiplier: Int? = nil, seed: UInt64 = 0) {
        self.inputSize = inputSize; self.inputChannels = inputChannels; self.classCount = classCount
        self.cifarStem = cifarStem; self.widthMultiplier = widthMultiplier; self.hiddenWidth = hiddenWidth
        self.pooling = pooling
        self.dropout = dropout; self.activation = activation; self.classifierActivation = classifierActivation
        self.bnEpsilon = bnEpsilon; self.includeTop = includeTop; self.subsampling = subsampling
        self.resnetV15 = resnetV15; self.depthMultiplier = depthMultiplier; self.seed = seed
    }

    /// Hidden dense width: `hiddenWidth`, else the scaled default.
    func hidden(_ c: Int) -> Int { hiddenWidth ?? width(c) }

    /// Scaled width (at least 1).
    func width(_ c: Int) -> Int { max(1, Int((Double(c) * widthMultiplier).rounded())) }

    func validate(model: String) throws {
        if let s = inputSize, s < 1 { throw ZooError.invalidOption("\(model): inputSize \(s) must be positive") }
        if let c = inputChannels, c < 1 { throw ZooError.invalidOption("\(model): inputChannels \(c) must be positive") }
        if let k = classCount, k < 1 { throw ZooError.invalidOption("\(model): classCount \(k) must be positive") }
        if !(widthMultiplier > 0 && widthMultiplier <= 16) {
            throw ZooError.invalidOption("\(model): widthMultiplier \(widthMultiplier) must be in (0, 16]")
        }
        if let h = hiddenWidth, h < 1 { throw ZooError.invalidOption("\(model): hiddenWidth \(h) must be positive") }
        if let d = dropout, !(d >= 0 && d < 1) { throw ZooError.invalidOption("\(model): dropout \(d) must be in [0, 1)") }
        if let m = depthMultiplier, m < 1 { throw ZooError.invalidOption("\(model): depthMultiplier \(m) must be positive") }
        if let e = bnEpsilon, !(e > 0) { throw ZooError.invalidOption("\(model): bnEpsilon \(e) must be positive") }
    }
}

/// How the trunk's feature map becomes the head's input. Keras names: `flatten`, `avg_pool`, `max_pool`.
public enum HeadPooling: String, Sendable, Codable, CaseIterable {
    case flatten, globalAverage, globalMax

    /// The Keras layer name of the pooling layer.
    public var layerName: String {
        switch self { case .flatten: "flatten"; case .globalAverage: "avg_pool"; case .globalMax: "max_pool" }
    }
}

/// Activations a zoo option may pick (fused into Conv2D/Dense as Keras does, or a separate layer).
public enum ZooActivation: String, Sendable, Codable, CaseIterable {
    case relu, tanh, sigmoid, softmax, linear
    /// min(max(x, 0), 6) (MobileNet's Keras `ReLU(6.0)`).
    case relu6
}

/// LeNet-5 subsampling layers.
public enum Subsampling: String, Sendable, Codable, CaseIterable {
    case average, max
}

public enum ZooError: Error, CustomStringConvertible, Equatable {
    case unknownModel(String, known: [String])
    case unknownLayer(String, model: String, known: [String])
    case invalidOption(String)
    /// keepHidden was asked but the hidden layers cannot take the new pooled features.
    case cannotKeepHidden(String)
    /// The model has no output layer (`includeTop == false`).
    case noHead(String)

    public var description: String {
        switch self {
        case let .unknownModel(n, known): "unknown model '\(n)'; known models: \(known.joined(separator: ", "))"
        case let .unknownLayer(n, model, known):
            "\(model) has no layer '\(n)'; its layers: \(known.joined(separator: ", "))"
        case let .invalidOption(s): s
        case let .cannotKeepHidden(s): s
        case let .noHead(s): s
        }
    }
}
