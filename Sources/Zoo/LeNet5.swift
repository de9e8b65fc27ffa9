/// LeNet-5 (LeCun et al. 1998) in its Keras-tutorial form: conv1 (6 maps, 5x5) -> pool1 -> conv2 (16 maps,
/// 5x5) -> pool2 -> flatten -> fc1 (120) -> fc2 (84) -> predictions. Activations are fused into the
/// convolutions and dense layers (tanh by default, or relu); subsampling is 2x2/2 average (default) or max.
/// Inputs under 32 pixels (the 28x28 MNIST case) use a 'same' first convolution, 32x32 and up 'valid',
/// so both reach 5x5x16 before flatten. Keras names: conv1, pool1, conv2, pool2, flatten, fc1, fc2, predictions.
public enum LeNet5 {
    public static let name = "lenet5"

    public static func spec(_ o: ZooOptions = ZooOptions()) throws -> ModelSpec {
        try o.validate(model: name)
        let size = o.inputSize ?? 32, channels = o.inputChannels ?? 1
        let act = o.activation ?? .tanh
        let kind: PoolKind = (o.subsampling ?? .average) == .average ? .average : .max
        var b = GraphBuilder(shape: [channels, size, size])
        try b.conv("conv1", o.width(6), kernel: 5, padding: size < 32 ? .same : .valid, activation: act)
        try b.pool("pool1", kind, kernel: 2, stride: 2)
        try b.conv("conv2", o.width(16), kernel: 5, activation: act)
        try b.pool("pool2", kind, kernel: 2, stride: 2)
        let recipe = HeadRecipe(hidden: [HiddenDenseSpec(name: "fc1", width: o.hidden(120), activation: act, dropoutName: "fc1_dropout"),
                                         HiddenDenseSpec(name: "fc2", width: o.hidden(84), activation: act, dropoutName: "fc2_dropout")],
                                defaultPooling: .flatten, outputActivation: o.classifierActivation)
        return try finishSpec(architecture: name, options: o, trunk: b, recipe: recipe,
                              defaultClasses: 10, defaultDropout: 0, bnEpsilon: nil, preprocessing: .scale)
    }
}
