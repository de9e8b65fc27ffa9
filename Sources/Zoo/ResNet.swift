/// ResNet-18/34 (basic blocks) and ResNet-50/101/152 (bottleneck blocks) with keras.applications names.
///
/// resnet50/101/152 are exactly keras.applications.ResNet50/101/152: conv1_pad (3) -> conv1_conv 7x7/2
/// (bias) -> conv1_bn (eps 1.001e-5) -> conv1_relu -> pool1_pad (1) -> pool1_pool 3x3/2 max; stages
/// conv2..conv5; each block conv{s}_block{b}: _1_conv 1x1 (carries the stride) _1_bn _1_relu, _2_conv 3x3
/// 'same' _2_bn _2_relu, _3_conv 1x1 (4x filters) _3_bn, a projection _0_conv/_0_bn in the first block of
/// every stage (conv2 included, stride 1), then _add and _out (relu); all convolutions have biases;
/// then avg_pool (global average) and predictions. `resnetV15` moves the stride to the 3x3 convolution
/// (torchvision's ResNet v1.5; that strided 3x3 pads 1 pixel symmetrically, as torchvision does).
///
/// resnet18/34 use the same names: conv1_conv 7x7/2 without bias, conv1_bn (eps 1e-5), blocks
/// _1_conv 3x3 (stride 2 in the first block of stages 3-5, Keras 'same', i.e. asymmetric), _1_bn,
/// _1_relu, _2_conv 3x3, _2_bn, a projection _0_conv 1x1/_0_bn only where the shape changes, _add, _out;
/// no convolution biases.
///
/// Parameter paths list a block's shortcut (_0_) before its main branch.
public enum ResNet {
    public enum Variant: String, Sendable, CaseIterable {
        case resnet18, resnet34, resnet50, resnet101, resnet152

        public var blocksPerStage: [Int] {
            switch self {
            case .resnet18: [2, 2, 2, 2]
            case .resnet34, .resnet50: [3, 4, 6, 3]
            case .resnet101: [3, 4, 23, 3]
            case .resnet152: [3, 8, 36, 3]
            }
        }
        public var bottleneck: Bool { self != .resnet18 && self != .resnet34 }
        public var defaultEpsilon: Float { bottleneck ? 1.001e-5 : 1e-5 }
    }

    static let stageWidths = [64, 128, 256, 512]

    public static func spec(_ variant: Variant, _ o: ZooOptions = ZooOptions()) throws -> ModelSpec {
        let name = variant.rawValue
        try o.validate(model: name)
        if let a = o.activation, a != .relu {
            throw ZooError.invalidOption("\(name): only relu activation is supported, got \(a)")
        }
        let size = o.inputSize ?? 224, channels = o.inputChannels ?? 3
        let eps = o.bnEpsilon ?? variant.defaultEpsilon
        let bias = variant.bottleneck
        var b = GraphBuilder(shape: [channels, size, size])
        if o.cifarStem {
            try b.conv("conv1_conv", o.width(64), kernel: 3, padding: .same, bias: bias)
        } else {
            try b.zeroPad("conv1_pad", 3)
            try b.conv("conv1_conv", o.width(64), kernel: 7, stride: 2, bias: bias)
        }
        try b.batchNorm("conv1_bn", epsilon: eps)
        try b.activation("conv1_relu", .relu)
        if !o.cifarStem {
            try b.zeroPad("pool1_pad", 1)
            try b.pool("pool1_pool", .max, kernel: 3, stride: 2)
        }
        for (si, blocks) in variant.blocksPerStage.enumerated() {
            let filters = o.width(stageWidths[si])
            for bi in 1...blocks {
                let p = "conv\(si + 2)_block\(bi)"
                let stride = (si > 0 && bi == 1) ? 2 : 1
                let input = b.last
                var shortcut = input
                if variant.bottleneck {
                    if bi == 1 {
                        try b.conv(p + "_0_conv", 4 * filters, kernel: 1, stride: stride, bias: bias, from: input)
                        shortcut = try b.batchNorm(p + "_0_bn", epsilon: eps)
                    }
                    try b.conv(p + "_1_conv", filters, kernel: 1, stride: o.resnetV15 ? 1 : stride, bias: bias, from: input)
                    try b.batchNorm(p + "_1_bn", epsilon: eps)
                    try b.activation(p + "_1_relu", .relu)
                    let pad: SpecPadding = (o.resnetV15 && stride > 1) ? .symmetric(1) : .same
                    try b.conv(p + "_2_conv", filters, kernel: 3, stride: o.resnetV15 ? stride : 1, padding: pad, bias: bias)
                    try b.batchNorm(p + "_2_bn", epsilon: eps)
                    try b.activation(p + "_2_relu", .relu)
                    try b.conv(p + "_3_conv", 4 * filters, kernel: 1, bias: bias)
                    try b.batchNorm(p + "_3_bn", epsilon: eps)
                } else {
                    if stride != 1 || b.channels != filters {
                        try b.conv(p + "_0_conv", filters, kernel: 1, stride: stride, bias: bias, from: input)
                        shortcut = try b.batchNorm(p + "_0_bn", epsilon: eps)
                    }
                    try b.conv(p + "_1_conv", filters, kernel: 3, stride: stride, padding: .same, bias: bias, from: input)
                    try b.batchNorm(p + "_1_bn", epsilon: eps)
                    try b.activation(p + "_1_relu", .relu)
                    try b.conv(p + "_2_conv", filters, kernel: 3, padding: .same, bias: bias)
                    try b.batchNorm(p + "_2_bn", epsilon: eps)
                }
                // Keras: Add()([shortcut, x]); the shortcut's nodes come first, so its parameters do too.
                try b.add(p + "_add", [shortcut, b.last])
                try b.activation(p + "_out", .relu)
            }
        }
        let recipe = HeadRecipe(hidden: [], defaultPooling: .globalAverage, outputActivation: o.classifierActivation)
        return try finishSpec(architecture: name, options: o, trunk: b, recipe: recipe,
                              defaultClasses: 1000, defaultDropout: 0, bnEpsilon: eps,
                              legacyAliases: variant.bottleneck ? legacyAliases(variant) : [:],
                              preprocessing: variant.bottleneck ? .caffe : .torch)
    }

    /// Keras-1 / Caffe layer names -> Keras names: conv1 -> conv1_conv, bn_conv1 -> conv1_bn,
    /// fc1000 -> predictions, res{s}{x}_branch2{a,b,c} -> conv{s}_block{n}_{1,2,3}_conv,
    /// bn{s}{x}_branch2{a,b,c} -> ..._bn, res{s}a_branch1 / bn{s}a_branch1 -> conv{s}_block1_0_conv / _0_bn,
    /// where the block letter x is a, b, c, ... (block 1, 2, 3, ...) and, for deep stages, also Caffe's
    /// a, b1, b2, ... (ResNet-101/152 files). The legacy file used BN epsilon 1e-3 (`ZooOptions.bnEpsilon`).
    public static func legacyAliases(_ variant: Variant) -> [String: String] {
        var map = ["conv1": "conv1_conv", "bn_conv1": "conv1_bn", "fc1000": "predictions"]
        let letters = Array("abcdefghijklmnopqrstuvwxyz")
        for (si, blocks) in variant.blocksPerStage.enumerated() {
            let s = si + 2
            for bi in 1...blocks {
                var ids: [String] = []
                if bi <= letters.count { ids.append(String(letters[bi - 1])) }
                if bi > 1 { ids.append("b\(bi - 1)") }
                for id in ids {
                    for (branch, k) in [("2a", 1), ("2b", 2), ("2c", 3)] {
                        map["res\(s)\(id)_branch\(branch)"] = "conv\(s)_block\(bi)_\(k)_conv"
                        map["bn\(s)\(id)_branch\(branch)"] = "conv\(s)_block\(bi)_\(k)_bn"
                    }
                }
            }
            map["res\(s)a_branch1"] = "conv\(s)_block1_0_conv"
            map["bn\(s)a_branch1"] = "conv\(s)_block1_0_bn"
        }
        return map
    }
}
