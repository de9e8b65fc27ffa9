import TensorCore

/// One architecture of the ``Zoo``: its names, defaults, input preprocessing, and how to build it.
///
/// ```swift
/// let model = try Zoo.entry(named: "vgg16").build(ZooOptions(inputSize: 64, classCount: 3))
/// model.freezeTrunk()
/// try model.rebuildHead(classCount: 5)
/// ```
///
/// ``spec(_:)`` describes the network for some ``ZooOptions`` without allocating weights (parameter
/// counts, shapes); ``build(_:)`` allocates and initialises a ``ZooModel``.
public struct ZooEntry: Sendable {
    /// The registry name (`vgg16`, `resnet18`, `lenet5`).
    public let name: String
    /// Other names ``Zoo/entry(named:)`` accepts (`lenet-5`, `resnet-18`).
    public let aliases: [String]
    /// One line for listings (`finetune zoo`).
    public let description: String
    /// Square input side when ``ZooOptions/inputSize`` is nil (224 for the ImageNet models, 32 for LeNet-5).
    public let defaultInputSize: Int
    /// Input channels when ``ZooOptions/inputChannels`` is nil (3, or 1 for LeNet-5).
    public let defaultInputChannels: Int
    /// Output classes when ``ZooOptions/classCount`` is nil (1000, or 10 for LeNet-5).
    public let defaultClassCount: Int
    /// The weighted output layer every transfer recipe replaces (`predictions`; MobileNet's 1x1
    /// convolution `conv_preds`, whose activation is the separate `predictions` layer).
    public let headPath: String
    /// The input preprocessing the architecture's usual pretrained weights expect.
    public let preprocessing: Preprocessing
    /// Describes the architecture for `options` without allocating weights.
    public let specBuilder: @Sendable (ZooOptions) throws -> ModelSpec

    /// Registers an architecture; `spec` describes the network for given options.
    public init(name: String, aliases: [String] = [], description: String, defaultInputSize: Int,
                defaultInputChannels: Int = 3, defaultClassCount: Int = 1000, headPath: String = "predictions",
                preprocessing: Preprocessing, spec: @escaping @Sendable (ZooOptions) throws -> ModelSpec) {
        self.name = name; self.aliases = aliases; self.description = description
        self.defaultInputSize = defaultInputSize; self.defaultInputChannels = defaultInputChannels
        self.defaultClassCount = defaultClassCount; self.headPath = headPath
        self.preprocessing = preprocessing; self.specBuilder = spec
    }

    /// Describes the network for `options` (layers, shapes, Keras names) without allocating weights.
    /// Throws ``ZooError`` or `ShapeError` for options the architecture cannot take.
    public func spec(_ options: ZooOptions = ZooOptions()) throws -> ModelSpec { try specBuilder(options) }

    /// Builds (allocates and initialises) the model. The weights are random (seeded by
    /// ``ZooOptions/seed``); import pretrained ones with `importWeights(from:options:)` (WeightIO), or
    /// build and import in one call with `loadPretrained(_:options:weights:importOptions:)`.
    public func build(_ options: ZooOptions = ZooOptions()) throws -> ZooModel {
        ZooModel(spec: try spec(options), seed: options.seed)
    }

    /// The builder as a function value.
    public var builder: @Sendable (ZooOptions) throws -> ZooModel {
        let s = specBuilder
        return { o in ZooModel(spec: try s(o), seed: o.seed) }
    }

    /// Parameter count (Keras's count: BatchNorm statistics included), computed without allocating.
    public func parameterCount(_ options: ZooOptions = ZooOptions()) throws -> Int { try spec(options).parameterCount }

    /// Parameter count at the default options.
    public var defaultParameterCount: Int { (try? parameterCount()) ?? 0 }
}

/// The model zoo: a registry of architectures by name (`finetune zoo` lists it): LeNet-5, AlexNet
/// (torchvision and Caffe), VGG-11/13/16/19 with and without BatchNorm, ResNet-18/34/50/101/152,
/// MobileNet and MobileNetV2.
///
/// ```swift
/// let model = try Zoo.build("resnet18", ZooOptions(inputSize: 32, classCount: 10, widthMultiplier: 0.25))
/// ```
public enum Zoo {
    /// Every registered architecture, in listing order.
    public static let all: [ZooEntry] = {
        var entries: [ZooEntry] = [
            ZooEntry(name: "lenet5", aliases: ["lenet-5"],
                     description: "LeNet-5: conv 6 and 16 maps 5x5, subsampling, dense 120-84; tanh/relu, avg/max pooling",
                     defaultInputSize: 32, defaultInputChannels: 1, defaultClassCount: 10,
                     preprocessing: .scale, spec: { try LeNet5.spec($0) }),
            ZooEntry(name: "alexnet", aliases: ["alexnet-torchvision"],
                     description: "AlexNet, single tower as in torchvision (64-192-384-256-256, 4096-4096)",
                     defaultInputSize: 224, preprocessing: .torch, spec: { try AlexNet.spec(.torchvision, $0) }),
            ZooEntry(name: "alexnet-caffe", aliases: ["alexnet-original", "bvlc_alexnet"],
                     description: "AlexNet as in the paper / Caffe bvlc_alexnet (96 filters, groups=2, LRN)",
                     defaultInputSize: 227, preprocessing: .caffe, spec: { try AlexNet.spec(.caffe, $0) }),
        ]
        for v in VGG.Variant.allCases {
            let keras = v == .vgg16 || v == .vgg19
            let depth = v.rawValue.dropFirst(3).prefix { $0.isNumber }
            entries.append(ZooEntry(
                name: v.rawValue, aliases: [v.rawValue.replacingOccurrences(of: "_", with: "-")],
                description: "VGG-\(depth)\(v.batchNorm ? " with BatchNorm" : "")" + (keras ? " (= keras.applications)" : ""),
                defaultInputSize: 224, preprocessing: keras ? .caffe : .torch, spec: { try VGG.spec(v, $0) }))
        }
        for v in ResNet.Variant.allCases {
            let depth = v.rawValue.dropFirst(6)
            entries.append(ZooEntry(
                name: v.rawValue, aliases: ["resnet-\(depth)"],
                description: "ResNet-\(depth), \(v.bottleneck ? "bottleneck blocks (= keras.applications)" : "basic blocks, Keras-style names")",
                defaultInputSize: 224, preprocessing: v.bottleneck ? .caffe : .torch, spec: { try ResNet.spec(v, $0) }))
        }
        entries.append(ZooEntry(
            name: "mobilenet", aliases: ["mobilenet-v1", "mobilenetv1"],
            description: "MobileNet v1, depthwise separable blocks, ReLU6, 1x1-convolution head (= keras.applications)",
            defaultInputSize: 224, headPath: "conv_preds", preprocessing: .tf, spec: { try MobileNet.v1Spec($0) }))
        entries.append(ZooEntry(
            name: "mobilenetv2", aliases: ["mobilenet-v2", "mobilenet_v2"],
            description: "MobileNetV2, inverted residual blocks, ReLU6 (= keras.applications)",
            defaultInputSize: 224, preprocessing: .tf, spec: { try MobileNet.v2Spec($0) }))
        entries.append(ZooEntry(name: "inceptionv3", aliases: ["inception_v3", "inception-v3"],
                                description: "Inception v3 (= keras.applications.InceptionV3, BatchNorm without scale), 75 px minimum",
                                defaultInputSize: 299, preprocessing: .tf, spec: { try InceptionV3.spec($0) }))
        entries.append(ZooEntry(name: "googlenet", aliases: ["inception_v1", "inceptionv1", "googlenet-torchvision"],
                                description: "GoogLeNet / Inception v1 as torchvision builds it (BatchNorm, ceil-mode pools, no aux heads)",
                                defaultInputSize: 224, headPath: "fc", preprocessing: .tf, spec: { try GoogLeNet.spec($0) }))
        entries.append(ZooEntry(name: "googlenet-caffe", aliases: ["bvlc_googlenet", "googlenet-bvlc"],
                                description: "GoogLeNet as Caffe's bvlc_googlenet (LRN, 5x5 branches, ceil-mode pools, no BatchNorm)",
                                defaultInputSize: 224, headPath: "loss3_classifier", preprocessing: .caffe,
                                spec: { try GoogLeNetCaffe.spec($0) }))
        return entries
    }()

    /// The registry names of ``all``.
    public static var names: [String] { all.map(\.name) }

    /// The entry for a name or alias (case-insensitive); unknown names throw listing the known ones.
    public static func entry(named name: String) throws -> ZooEntry {
        let n = name.lowercased()
        if let e = all.first(where: { $0.name == n || $0.aliases.contains(n) }) { return e }
        throw ZooError.unknownModel(name, known: names)
    }

    /// Builds the architecture `name` (or an alias) with `options`: `entry(named: name).build(options)`.
    public static func build(_ name: String, _ options: ZooOptions = ZooOptions()) throws -> ZooModel {
        try entry(named: name).build(options)
    }
}
