/// GoogLeNet (Inception v1) as torchvision 0.14 builds it: `torchvision.models.googlenet(aux_logits=False)`.
///
/// BasicConv2d is conv (no bias) -> BatchNorm (eps 1e-3) -> relu; every max pool rounds up (ceil_mode).
/// conv1 7x7/2 pad 3 (64) -> maxpool1 3/2 -> conv2 1x1 (64) -> conv3 3x3 pad 1 (192) -> maxpool2 3/2 ->
/// inception3a, 3b -> maxpool3 3/2 -> inception4a..4e -> maxpool4 2/2 -> inception5a, 5b -> avg_pool
/// (global average) -> dropout (0.2) -> fc. An Inception block concatenates branch1 (1x1), branch2
/// (1x1 -> 3x3), branch3 (1x1 -> 3x3: torchvision's known quirk, the paper's 5x5 is a 3x3 there, kept
/// so its weights load) and branch4 (max 3/1 pad 1 -> 1x1).
///
/// Layer names are torchvision's module paths with `_` for `.`, and the BasicConv2d's parts suffixed
/// `_conv`, `_bn`, `_relu`: `conv1_conv`, `conv1_bn`, `inception3a_branch1_conv`,
/// `inception3a_branch2_0_conv` (`inception3a.branch2.0.conv`), `inception3a_branch4_0` (the pool),
/// `inception3a` (the concatenation); the head is `avg_pool`, `dropout`, `fc`. So a torchvision
/// state_dict key maps by `.` -> `_` (`conv1.bn.running_mean` is `conv1_bn.runningMean`).
///
/// torchvision's `transform_input` (on with the ImageNet weights) turns torch-normalised inputs into
/// (x - 0.5) / 0.5; that is the `tf` preprocessing here, so the network itself has no such layer.
/// The auxiliary classifiers (training only) are not built.
public enum GoogLeNet {
    /// torchvision's Inception(in, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj), without `in`.
    static let blocks: [(name: String, widths: [Int])] = [
        ("inception3a", [64, 96, 128, 16, 32, 32]), ("inception3b", [128, 128, 192, 32, 96, 64]),
        ("inception4a", [192, 96, 208, 16, 48, 64]), ("inception4b", [160, 112, 224, 24, 64, 64]),
        ("inception4c", [128, 128, 256, 24, 64, 64]), ("inception4d", [112, 144, 288, 32, 64, 64]),
        ("inception4e", [256, 160, 320, 32, 128, 128]),
        ("inception5a", [256, 160, 320, 32, 128, 128]), ("inception5b", [384, 192, 384, 48, 128, 128]),
    ]

    public static func spec(_ o: ZooOptions = ZooOptions()) throws -> ModelSpec {
        let name = "googlenet"
        try o.validate(model: name)
        if let a = o.activation, a != .relu {
            throw ZooError.invalidOption("\(name): only relu activation is supported, got \(a)")
        }
        if o.cifarStem { throw ZooError.invalidOption("\(name): cifarStem is not supported") }
        let size = o.inputSize ?? 224, channels = o.inputChannels ?? 3
        let eps = o.bnEpsilon ?? 1e-3
        var b = GraphBuilder(shape: [channels, size, size])
        /// torchvision's BasicConv2d.
        @discardableResult
        func basic(_ p: String, _ out: Int, _ k: Int, pad: Int = 0, stride: Int = 1, from: String? = nil) throws -> String {
            try b.conv(p + "_conv", o.width(out), kernel: k, stride: stride, padding: .symmetric(pad), bias: false, from: from)
            try b.batchNorm(p + "_bn", epsilon: eps)
            return try b.activation(p + "_relu", .relu)
        }
        try basic("conv1", 64, 7, pad: 3, stride: 2)
        try b.pool("maxpool1", .max, kernel: 3, stride: 2, ceilMode: true)
        try basic("conv2", 64, 1)
        try basic("conv3", 192, 3, pad: 1)
        try b.pool("maxpool2", .max, kernel: 3, stride: 2, ceilMode: true)
        for (p, w) in blocks {
            if p == "inception4a" { try b.pool("maxpool3", .max, kernel: 3, stride: 2, ceilMode: true) }
            if p == "inception5a" { try b.pool("maxpool4", .max, kernel: 2, stride: 2, ceilMode: true) }
            let x = b.last
            let b1 = try basic(p + "_branch1", w[0], 1, from: x)
            try basic(p + "_branch2_0", w[1], 1, from: x)
            let b2 = try basic(p + "_branch2_1", w[2], 3, pad: 1)
            try basic(p + "_branch3_0", w[3], 1, from: x)
            let b3 = try basic(p + "_branch3_1", w[4], 3, pad: 1)
            try b.pool(p + "_branch4_0", .max, kernel: 3, stride: 1, padding: .symmetric(1), ceilMode: true, from: x)
            let b4 = try basic(p + "_branch4_1", w[5], 1)
            try b.concatenate(p, [b1, b2, b3, b4])
        }
        var recipe = HeadRecipe(hidden: [], defaultPooling: .globalAverage, outputActivation: o.classifierActivation)
        recipe.outputName = "fc"
        recipe.plainDropoutName = "dropout"
        return try finishSpec(architecture: name, options: o, trunk: b, recipe: recipe, defaultClasses: 1000,
                              defaultDropout: 0.2, bnEpsilon: eps, preprocessing: .tf)
    }
}
