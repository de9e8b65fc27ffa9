/// VGG-11/13/16/19 (configurations A, B, D, E) and their batch-normalised variants.
///
/// vgg16/vgg19 are exactly keras.applications.VGG16/VGG19: block{b}_conv{i} (3x3 'same', fused relu),
/// block{b}_pool (2x2/2 max), then flatten, fc1 (4096, relu), fc2 (4096, relu), predictions (softmax).
/// `_bn` variants put BatchNorm (block{b}_conv{i}_bn) and a ReLU layer (block{b}_conv{i}_relu) after each
/// convolution (which then has no fused activation but keeps its bias, as torchvision's vgg*_bn does);
/// their epsilon defaults to 1e-5 because the only pretrained weights (torchvision) used it.
/// Width multiplier scales convolutions and fc1/fc2. `cifarStem` changes nothing (VGG has no strided stem).
public enum VGG {
    public enum Variant: String, Sendable, CaseIterable {
        case vgg11, vgg13, vgg16, vgg19, vgg11_bn, vgg13_bn, vgg16_bn, vgg19_bn

        /// Convolutions per block.
        public var convsPerBlock: [Int] {
            switch self {
            case .vgg11, .vgg11_bn: [1, 1, 2, 2, 2]
            case .vgg13, .vgg13_bn: [2, 2, 2, 2, 2]
            case .vgg16, .vgg16_bn: [2, 2, 3, 3, 3]
            case .vgg19, .vgg19_bn: [2, 2, 4, 4, 4]
            }
        }
        public var batchNorm: Bool { rawValue.hasSuffix("_bn") }
    }

    public static let blockWidths = [64, 128, 256, 512, 512]

    public static func spec(_ variant: Variant, _ o: ZooOptions = ZooOptions()) throws -> ModelSpec {
        let name = variant.rawValue
        try o.validate(model: name)
        let size = o.inputSize ?? 224, channels = o.inputChannels ?? 3
        let act = o.activation ?? .relu
        let eps = o.bnEpsilon ?? 1e-5
        var b = GraphBuilder(shape: [channels, size, size])
        for (bi, n) in variant.convsPerBlock.enumerated() {
            for i in 1...n {
                let conv = "block\(bi + 1)_conv\(i)"
                if variant.batchNorm {
                    try b.conv(conv, o.width(blockWidths[bi]), kernel: 3, padding: .same)
                    try b.batchNorm(conv + "_bn", epsilon: eps)
                    try b.activation(conv + "_relu", act)
                } else {
                    try b.conv(conv, o.width(blockWidths[bi]), kernel: 3, padding: .same, activation: act)
                }
            }
            try b.pool("block\(bi + 1)_pool", .max, kernel: 2, stride: 2)
        }
        let recipe = HeadRecipe(hidden: [HiddenDenseSpec(name: "fc1", width: o.hidden(4096), activation: act, dropoutName: "fc1_dropout"),
                                         HiddenDenseSpec(name: "fc2", width: o.hidden(4096), activation: act, dropoutName: "fc2_dropout")],
                                defaultPooling: .flatten, outputActivation: o.classifierActivation)
        let keras = variant == .vgg16 || variant == .vgg19
        return try finishSpec(architecture: name, options: o, trunk: b, recipe: recipe,
                              defaultClasses: 1000, defaultDropout: 0, bnEpsilon: variant.batchNorm ? eps : nil,
                              preprocessing: keras ? .caffe : .torch)
    }
}
