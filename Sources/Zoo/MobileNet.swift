/// MobileNet (v1) and MobileNetV2, exactly keras.applications.MobileNet / MobileNetV2.
///
/// mobilenet: conv1 3x3/2 'same' (no bias) -> conv1_bn -> conv1_relu (ReLU6); 13 blocks conv_dw_{i}
/// (3x3 depthwise, no bias; strided ones read conv_pad_{i}, a (0, 1) bottom/right zero padding, and are
/// 'valid') _bn _relu, conv_pw_{i} (1x1, no bias) _bn _relu. Widths are int(filters · alpha) (Keras
/// truncates); `depthMultiplier` is Keras's `depth_multiplier`. The head is Keras's:
/// global_average_pooling2d (keepdims) -> dropout (1e-3) -> conv_preds (1x1 with bias) -> reshape_2 ->
/// predictions (the activation alone).
///
/// mobilenetv2: Conv1 3x3/2 'same' -> bn_Conv1 -> Conv1_relu; 17 inverted residual blocks (the first
/// `expanded_conv_` without expansion, then block_{1...16}_): _expand 1x1 _expand_BN _expand_relu,
/// (_pad: correct_pad's zero padding before a strided depthwise) _depthwise 3x3 _depthwise_BN
/// _depthwise_relu, _project 1x1 _project_BN, and _add (input first) where shapes allow; Conv_1 1x1
/// (1280, or _make_divisible(1280 · alpha, 8) for alpha > 1) Conv_1_bn out_relu; then
/// global_average_pooling2d and the dense predictions. No convolution has a bias; BN epsilon 1e-3.
///
/// `cifarStem` makes the stem convolution stride 1 (32 px inputs keep a 2x2 map at the end).
public enum MobileNet {
    /// Keras MobileNet: (pointwise filters, depthwise stride) of blocks 1...13.
    static let v1Blocks: [(Int, Int)] = [
        (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
        (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1),
    ]

    /// Keras MobileNetV2: (expansion, output filters, blocks, first stride) per stage.
    static let v2Stages: [(t: Int, c: Int, n: Int, s: Int)] = [
        (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
    ]

    static let epsilon: Float = 1e-3

    /// Keras's `_make_divisible`: round to the nearest multiple of `divisor` (at least `divisor`),
    /// never more than 10 % below `v`.
    public static func makeDivisible(_ v: Double, _ divisor: Int = 8) -> Int {
        var n = max(divisor, Int(v + Double(divisor) / 2) / divisor * divisor)
        if Double(n) < 0.9 * v { n += divisor }
        return n
    }

    /// Keras MobileNet's `int(filters * alpha)`.
    static func truncatedWidth(_ c: Int, _ alpha: Double) -> Int { max(1, Int(Double(c) * alpha)) }

    static func validate(_ name: String, _ o: ZooOptions) throws {
        try o.validate(model: name)
        if let a = o.activation, a != .relu6 {
            throw ZooError.invalidOption("\(name): only relu6 activation is supported, got \(a)")
        }
    }

    public static func v1Spec(_ o: ZooOptions = ZooOptions()) throws -> ModelSpec {
        let name = "mobilenet"
        try validate(name, o)
        let alpha = o.widthMultiplier, m = o.depthMultiplier ?? 1
        let size = o.inputSize ?? 224, channels = o.inputChannels ?? 3
        let eps = o.bnEpsilon ?? epsilon
        var b = GraphBuilder(shape: [channels, size, size])
        try b.conv("conv1", truncatedWidth(32, alpha), kernel: 3, stride: o.cifarStem ? 1 : 2, padding: .same, bias: false)
        try b.batchNorm("conv1_bn", epsilon: eps)
        try b.activation("conv1_relu", .relu6)
        for (i, (filters, stride)) in v1Blocks.enumerated() {
            let id = i + 1
            if stride != 1 { try b.node("conv_pad_\(id)", ZeroPadding2DKind(top: 0, bottom: 1, left: 0, right: 1)) }
            try b.depthwiseConv("conv_dw_\(id)", kernel: 3, stride: stride, padding: stride == 1 ? .same : .valid,
                                depthMultiplier: m, bias: false)
            try b.batchNorm("conv_dw_\(id)_bn", epsilon: eps)
            try b.activation("conv_dw_\(id)_relu", .relu6)
            try b.conv("conv_pw_\(id)", truncatedWidth(filters, alpha), kernel: 1, padding: .same, bias: false)
            try b.batchNorm("conv_pw_\(id)_bn", epsilon: eps)
            try b.activation("conv_pw_\(id)_relu", .relu6)
        }
        var recipe = HeadRecipe(hidden: [], defaultPooling: .globalAverage, outputActivation: o.classifierActivation)
        recipe.outputName = "conv_preds"
        recipe.plainDropoutName = "dropout"
        recipe.kerasPoolingNames = true
        recipe.convolutionalOutput = HeadRecipe.ConvolutionalOutput(reshapeName: "reshape_2", activationName: "predictions")
        return try finishSpec(architecture: name, options: o, trunk: b, recipe: recipe, defaultClasses: 1000,
                              defaultDropout: 1e-3, bnEpsilon: eps, preprocessing: .tf)
    }

    public static func v2Spec(_ o: ZooOptions = ZooOptions()) throws -> ModelSpec {
        let name = "mobilenetv2"
        try validate(name, o)
        if let m = o.depthMultiplier, m != 1 {
            throw ZooError.invalidOption("\(name): depthMultiplier \(m): Keras MobileNetV2 has no depth multiplier")
        }
        let alpha = o.widthMultiplier
        let size = o.inputSize ?? 224, channels = o.inputChannels ?? 3
        let eps = o.bnEpsilon ?? epsilon
        var b = GraphBuilder(shape: [channels, size, size])
        try b.conv("Conv1", makeDivisible(32 * alpha), kernel: 3, stride: o.cifarStem ? 1 : 2, padding: .same, bias: false)
        try b.batchNorm("bn_Conv1", epsilon: eps)
        try b.activation("Conv1_relu", .relu6)
        var id = 0
        for stage in v2Stages {
            for i in 0..<stage.n {
                try invertedResidual(&b, id: id, expansion: stage.t, filters: makeDivisible(Double(Int(Double(stage.c) * alpha))),
                                     stride: i == 0 ? stage.s : 1, eps: eps)
                id += 1
            }
        }
        try b.conv("Conv_1", alpha > 1 ? makeDivisible(1280 * alpha) : 1280, kernel: 1, bias: false)
        try b.batchNorm("Conv_1_bn", epsilon: eps)
        try b.activation("out_relu", .relu6)
        var recipe = HeadRecipe(hidden: [], defaultPooling: .globalAverage, outputActivation: o.classifierActivation)
        recipe.kerasPoolingNames = true
        return try finishSpec(architecture: name, options: o, trunk: b, recipe: recipe, defaultClasses: 1000,
                              defaultDropout: 0, bnEpsilon: eps, preprocessing: .tf)
    }

    static func invertedResidual(_ b: inout GraphBuilder, id: Int, expansion: Int, filters: Int, stride: Int, eps: Float) throws {
        let input = b.last, inChannels = b.channels
        let p = id == 0 ? "expanded_conv_" : "block_\(id)_"
        if id != 0 {
            try b.conv(p + "expand", expansion * inChannels, kernel: 1, padding: .same, bias: false)
            try b.batchNorm(p + "expand_BN", epsilon: eps)
            try b.activation(p + "expand_relu", .relu6)
        }
        if stride == 2 {
            // imagenet_utils.correct_pad: (1, 1) on odd sides, (0, 1) on even ones.
            let s = b.shape
            try b.node(p + "pad", ZeroPadding2DKind(top: s[1] % 2, bottom: 1, left: s[2] % 2, right: 1))
        }
        try b.depthwiseConv(p + "depthwise", kernel: 3, stride: stride, padding: stride == 1 ? .same : .valid, bias: false)
        try b.batchNorm(p + "depthwise_BN", epsilon: eps)
        try b.activation(p + "depthwise_relu", .relu6)
        try b.conv(p + "project", filters, kernel: 1, padding: .same, bias: false)
        try b.batchNorm(p + "project_BN", epsilon: eps)
        if inChannels == filters && stride == 1 { try b.add(p + "add", [input, b.last]) }
    }
}
