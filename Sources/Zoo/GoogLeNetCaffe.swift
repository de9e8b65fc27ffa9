/// GoogLeNet as Caffe's BVLC model has it (models/bvlc_googlenet/deploy.prototxt): the paper's network,
/// with biases and fused ReLUs, local response normalisation instead of BatchNorm, real 5x5 branches,
/// Caffe's ceil-rounded max pools, pool4 3x3/2, dropout 0.4 and `loss3/classifier`.
///
/// conv1/7x7_s2 (pad 3) -> pool1/3x3_s2 -> pool1/norm1 (LRN 5, 1e-4, 0.75) -> conv2/3x3_reduce ->
/// conv2/3x3 (pad 1) -> conv2/norm2 -> pool2/3x3_s2 -> inception_3a, 3b -> pool3/3x3_s2 -> inception_4a..4e
/// -> pool4/3x3_s2 -> inception_5a, 5b -> avg_pool (= pool5/7x7_s1 at 224) -> dropout -> loss3/classifier.
/// Each inception_Nx concatenates 1x1, 3x3_reduce -> 3x3 (pad 1), 5x5_reduce -> 5x5 (pad 2) and
/// pool (max 3/1 pad 1) -> pool_proj, as `inception_Nx/output`.
///
/// Graft layer names are Caffe's with `/` as `_` (`conv1_7x7_s2`, `inception_3a_1x1`, `loss3_classifier`):
/// a `/` cannot be a Keras 2 layer name, which Graft writes on export. `legacyAliases` maps every
/// Caffe name with weights to its Graft name, so Caffe HDF5 files (where `conv1/7x7_s2` is a nested group)
/// and Keras files written with Caffe names load as they are.
public enum GoogLeNetCaffe {
    public static func spec(_ o: ZooOptions = ZooOptions()) throws -> ModelSpec {
        let name = "googlenet-caffe"
        try o.validate(model: name)
        if o.cifarStem { throw ZooError.invalidOption("\(name): cifarStem is not supported") }
        let size = o.inputSize ?? 224, channels = o.inputChannels ?? 3
        let act = o.activation ?? .relu
        var b = GraphBuilder(shape: [channels, size, size])
        var aliases: [String: String] = [:]
        @discardableResult
        func conv(_ caffe: String, _ out: Int, _ k: Int, pad: Int = 0, stride: Int = 1, from: String? = nil) throws -> String {
            let n = caffe.replacingOccurrences(of: "/", with: "_")
            aliases[caffe] = n
            return try b.conv(n, o.width(out), kernel: k, stride: stride, padding: .symmetric(pad), activation: act, from: from)
        }
        func lrn(_ n: String) throws {
            try b.localResponseNorm(n, size: 5, alpha: 1e-4, beta: 0.75, k: 1)
        }
        try conv("conv1/7x7_s2", 64, 7, pad: 3, stride: 2)
        try b.pool("pool1_3x3_s2", .max, kernel: 3, stride: 2, ceilMode: true)
        try lrn("pool1_norm1")
        try conv("conv2/3x3_reduce", 64, 1)
        try conv("conv2/3x3", 192, 3, pad: 1)
        try lrn("conv2_norm2")
        try b.pool("pool2_3x3_s2", .max, kernel: 3, stride: 2, ceilMode: true)
        for (block, w) in GoogLeNet.blocks {
            let p = "inception_" + block.dropFirst("inception".count)
            if p == "inception_4a" { try b.pool("pool3_3x3_s2", .max, kernel: 3, stride: 2, ceilMode: true) }
            if p == "inception_5a" { try b.pool("pool4_3x3_s2", .max, kernel: 3, stride: 2, ceilMode: true) }
            let x = b.last
            let b1 = try conv(p + "/1x1", w[0], 1, from: x)
            try conv(p + "/3x3_reduce", w[1], 1, from: x)
            let b3 = try conv(p + "/3x3", w[2], 3, pad: 1)
            try conv(p + "/5x5_reduce", w[3], 1, from: x)
            let b5 = try conv(p + "/5x5", w[4], 5, pad: 2)
            try b.pool(p + "_pool", .max, kernel: 3, stride: 1, padding: .symmetric(1), ceilMode: true, from: x)
            let bp = try conv(p + "/pool_proj", w[5], 1)
            try b.concatenate(p + "_output", [b1, b3, b5, bp])
        }
        var recipe = HeadRecipe(hidden: [], defaultPooling: .globalAverage, outputActivation: o.classifierActivation)
        recipe.outputName = "loss3_classifier"
        recipe.plainDropoutName = "pool5_drop_7x7_s1"
        aliases["loss3/classifier"] = recipe.outputName
        return try finishSpec(architecture: name, options: o, trunk: b, recipe: recipe, defaultClasses: 1000,
                              defaultDropout: 0.4, bnEpsilon: nil, legacyAliases: aliases, preprocessing: .caffe)
    }
}
