/// AlexNet in two variants, with Keras-style layer names.
///
/// `alexnet` is the single-tower network torchvision's weights use ("one weird trick", 64-192-384-256-256):
/// conv1_pad (2) -> conv1 11x11/4 -> pool1 3x3/2 -> conv2 5x5 'same' -> pool2 -> conv3, conv4, conv5 3x3 'same'
/// -> pool5 -> flatten -> fc6 (4096) -> drop6 -> fc7 (4096) -> drop7 -> predictions. At 224 pool5 is 6x6x256.
///
/// `alexnet-caffe` is the original two-GPU network as Caffe's bvlc_alexnet has it (96-256-384-384-256,
/// groups=2 on conv2/conv4/conv5, local response normalisation norm1/norm2 after conv1/conv2 with size 5,
/// alpha 1e-4, beta 0.75, k 1), input 227: conv1 -> norm1 -> pool1 -> conv2 -> norm2 -> pool2 -> conv3 ->
/// conv4 -> conv5 -> pool5 -> flatten -> fc6 -> drop6 -> fc7 -> drop7 -> predictions. (Caffe pools with
/// ceil rounding; at 227 floor and ceil agree, other sizes use Keras floor rounding.)
/// Every convolution and hidden dense layer has a fused activation (relu by default).
public enum AlexNet {
    public enum Variant: String, Sendable, CaseIterable { case torchvision = "alexnet", caffe = "alexnet-caffe" }

    public static func spec(_ variant: Variant, _ o: ZooOptions = ZooOptions()) throws -> ModelSpec {
        let name = variant.rawValue
        try o.validate(model: name)
        let size = o.inputSize ?? (variant == .caffe ? 227 : 224), channels = o.inputChannels ?? 3
        let act = o.activation ?? .relu
        var b = GraphBuilder(shape: [channels, size, size])
        switch variant {
        case .torchvision:
            if o.cifarStem {
                try b.conv("conv1", o.width(64), kernel: 3, padding: .same, activation: act)
            } else {
                try b.zeroPad("conv1_pad", 2)
                try b.conv("conv1", o.width(64), kernel: 11, stride: 4, activation: act)
                try b.pool("pool1", .max, kernel: 3, stride: 2)
            }
            try b.conv("conv2", o.width(192), kernel: 5, padding: .same, activation: act)
            try b.pool("pool2", .max, kernel: 3, stride: 2)
            try b.conv("conv3", o.width(384), kernel: 3, padding: .same, activation: act)
            try b.conv("conv4", o.width(256), kernel: 3, padding: .same, activation: act)
            try b.conv("conv5", o.width(256), kernel: 3, padding: .same, activation: act)
            try b.pool("pool5", .max, kernel: 3, stride: 2)
        case .caffe:
            let lrn = { (b: inout GraphBuilder, n: String) throws in
                _ = try b.localResponseNorm(n, size: 5, alpha: 1e-4, beta: 0.75, k: 1)
            }
            // Grouped layers need even widths.
            let even = { (c: Int) in max(2, (o.width(c) + 1) / 2 * 2) }
            if o.cifarStem {
                try b.conv("conv1", even(96), kernel: 3, padding: .same, activation: act)
                try lrn(&b, "norm1")
            } else {
                try b.conv("conv1", even(96), kernel: 11, stride: 4, activation: act)
                try lrn(&b, "norm1")
                try b.pool("pool1", .max, kernel: 3, stride: 2)
            }
            try b.conv("conv2", even(256), kernel: 5, padding: .same, groups: 2, activation: act)
            try lrn(&b, "norm2")
            try b.pool("pool2", .max, kernel: 3, stride: 2)
            try b.conv("conv3", even(384), kernel: 3, padding: .same, activation: act)
            try b.conv("conv4", even(384), kernel: 3, padding: .same, groups: 2, activation: act)
            try b.conv("conv5", even(256), kernel: 3, padding: .same, groups: 2, activation: act)
            try b.pool("pool5", .max, kernel: 3, stride: 2)
        }
        let recipe = HeadRecipe(hidden: [HiddenDenseSpec(name: "fc6", width: o.hidden(4096), activation: act, dropoutName: "drop6"),
                                         HiddenDenseSpec(name: "fc7", width: o.hidden(4096), activation: act, dropoutName: "drop7")],
                                defaultPooling: .flatten, outputActivation: o.classifierActivation)
        return try finishSpec(architecture: name, options: o, trunk: b, recipe: recipe,
                              defaultClasses: 1000, defaultDropout: 0.5, bnEpsilon: nil,
                              preprocessing: variant == .caffe ? .caffe : .torch)
    }
}
