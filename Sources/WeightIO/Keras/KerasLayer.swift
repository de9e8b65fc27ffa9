import NN
import Zoo

/// A kind's Keras side (weight names and layouts are `KerasWeighted`, beside it): the class names it reads
/// and writes, its config compared with a Keras layer config, and a kind made from one.
public protocol KerasLayer: KerasWeighted {
    /// Keras class names of the kind, the written one first (empty: no Keras twin, nothing to compare).
    static var kerasClassNames: [String] { get }
    /// The class name this node writes and must match (default: the first of `kerasClassNames`).
    var kerasClassName: String? { get }
    /// The first option on which a Keras layer config disagrees with this kind; `module` is the node's
    /// current module (activations may have been changed on it, e.g. logits for training).
    func kerasDisagreement(_ config: KerasLayerConfig, module: Module?) -> KerasDisagreement?
    /// The kind a Keras layer config describes (nil: the config is not of this kind or not supported).
    static func fromKeras(_ config: KerasLayerConfig) -> Self?
}

/// One disagreeing option: what, its value in the file, its value in the model.
public struct KerasDisagreement: Sendable, Equatable {
    public var what: String, file: String, model: String
    public init(_ what: String, file: Any, model: Any) { self.what = what; self.file = "\(file)"; self.model = "\(model)" }
}

extension KerasLayer {
    public var kerasClassName: String? { Self.kerasClassNames.first }
    public func kerasDisagreement(_ config: KerasLayerConfig, module: Module?) -> KerasDisagreement? { nil }
}

/// The Keras class name table (a table, not a switch): every zoo kind with its Keras side.
public enum KerasLayers {
    public static let all: [any KerasLayer.Type] = [
        DepthwiseConv2DKind.self, Conv2DKind.self, BatchNormKind.self, ActivationKind.self, ZeroPadding2DKind.self,
        Pool2DKind.self, GlobalPool2DKind.self, FlattenKind.self, DenseKind.self, DropoutKind.self,
        LocalResponseNormKind.self, AddKind.self, MultiplyKind.self, ConcatenateKind.self, ReshapeKind.self,
        SeparableConv2DKind.self, SubtractKind.self, AverageKind.self, MaximumKind.self, Cropping2DKind.self,
        UpSampling2DKind.self, RescalingKind.self, NormalizationKind.self, PReLUKind.self,
    ]

    /// Kinds by Keras class name.
    public static let byClassName: [String: [any KerasLayer.Type]] = {
        var t: [String: [any KerasLayer.Type]] = [:]
        for k in all { for n in k.kerasClassNames { t[n, default: []].append(k) } }
        return t
    }()

    /// The Keras class name a kind writes (nil: no Keras twin, or not a Keras kind).
    public static func className(of kind: any LayerKind) -> String? {
        (kind as? any KerasLayer)?.kerasClassName
    }

    /// The kind of a Keras layer config, from the table.
    public static func kind(_ config: KerasLayerConfig) -> (any KerasLayer)? {
        for k in byClassName[config.className] ?? [] { if let kind = k.fromKeras(config) { return kind } }
        return nil
    }
}

/// Keras's name for an NN activation (nil: no Keras equivalent).
func kerasActivationName(_ a: Activation?) -> String? {
    switch a {
    case nil, .linear?: return "linear"
    case .relu?: return "relu"
    case .relu6?: return "relu6"
    case .tanh?: return "tanh"
    case .sigmoid?: return "sigmoid"
    case .softmax?: return "softmax"
    case .elu?: return "elu"
    case .leakyReLU?: return "leaky_relu"
    case .selu?: return "selu"
    case .swish?: return "swish"
    case .gelu?: return "gelu"
    case .softplus?: return "softplus"
    case .softsign?: return "softsign"
    case .exponential?: return "exponential"
    case .hardSigmoid?: return "hard_sigmoid"
    default: return nil
    }
}

/// The NN activation of a Keras activation name (nil: unknown). `keras3`: Keras 3's definitions
/// where they differ from Keras 2's (hard_sigmoid).
func kerasActivation(_ name: String?, keras3: Bool = false) -> Activation?? {
    switch name {
    case "selu"?: return .selu
    case "swish"?, "silu"?: return .swish
    case "gelu"?: return .gelu
    case "softplus"?: return .softplus
    case "softsign"?: return .softsign
    case "exponential"?: return .exponential
    case "hard_sigmoid"?: return .hardSigmoid(slope: keras3 ? 1 / 6 : 0.2)
    case "hard_silu"?, "hard_swish"?: return nil
    case nil, "linear"?: return .some(nil)
    case "relu"?: return .relu
    case "relu6"?: return .relu6
    case "tanh"?: return .tanh
    case "sigmoid"?: return .sigmoid
    case "softmax"?: return .softmax
    case "elu"?: return .elu(alpha: 1)
    case "leaky_relu"?: return .leakyReLU(alpha: 0.2)   // Keras 3's activations.leaky_relu default
    default: return nil
    }
}

func kerasPadding(_ p: SpecPadding) -> String {
    switch p {
    case .valid: return "valid"
    case .same: return "same"
    case let .explicit(t, b, l, r): return t == 0 && b == 0 && l == 0 && r == 0 ? "valid" : "explicit(\(t),\(b),\(l),\(r))"
    }
}

func kerasPaddingKind(_ p: String?) -> SpecPadding? {
    switch p { case nil, "valid"?: .valid; case "same"?: .same; default: nil }
}

/// The activation a node computes now: the module's fused one when it has one, else the kind's.
func fusedActivation(_ module: Module?, _ kind: Activation?) -> Activation? {
    switch module {
    case let c as Conv2D: c.fusedActivation
    case let d as Dense: d.fusedActivation
    case let d as ExtendedDense: d.fusedActivation
    default: kind
    }
}

/// Square sizes only: Keras [k, k] -> k.
func square(_ v: [Int]?) -> Int? { v.flatMap { $0.count == 2 && $0[0] == $0[1] ? $0[0] : nil } }
