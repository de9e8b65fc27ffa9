/// Inception v3, exactly keras.applications.InceptionV3 (Keras 3.15 / tf_keras 2.x build it alike).
///
/// Every `conv2d_bn` is Conv2D (no bias; 'same' unless given 'valid') -> BatchNormalization(scale=False,
/// epsilon 1e-3: no gamma) -> relu. keras.applications names none of these, so the layers carry the
/// names a fresh Keras session gives them: `conv2d`, `conv2d_1`, ..., `conv2d_93`, with the matching
/// `batch_normalization_N` and `activation_N`; pools are `max_pooling2d[_k]` / `average_pooling2d[_k]`,
/// the two unnamed concatenations in mixed9/mixed10 `concatenate` / `concatenate_1`. Counters follow
/// creation order (the order of keras's source), which is also the node order here; Keras's own
/// `model.layers` lists them by depth instead, which changes no name. Files numbered otherwise (Keras 2
/// counted from 1: `conv2d_1`...`conv2d_94`) are matched by counter order at import (WeightIO).
///
/// Stem: 3x3/2 valid (32), 3x3 valid (32), 3x3 (64), max 3x3/2, 1x1 (80), 3x3 valid (192), max 3x3/2;
/// mixed0-2 (35x35 at 299), mixed3 (reduction), mixed4-7 (1x7/7x1 factorised), mixed8 (reduction),
/// mixed9-10 (with mixed9_0/mixed9_1 splits); then avg_pool (global average) and predictions.
/// Inputs below 75 px are refused, as Keras refuses them.
public enum InceptionV3 {
    public static let minimumInputSize = 75

    public static func spec(_ o: ZooOptions = ZooOptions()) throws -> ModelSpec {
        let name = "inceptionv3"
        try o.validate(model: name)
        if let a = o.activation, a != .relu {
            throw ZooError.invalidOption("\(name): only relu activation is supported, got \(a)")
        }
        if o.cifarStem { throw ZooError.invalidOption("\(name): cifarStem is not supported (the input must be at least 75 px)") }
        let size = o.inputSize ?? 299, channels = o.inputChannels ?? 3
        guard size >= minimumInputSize else {
            throw ZooError.invalidOption("\(name): inputSize \(size) is below the minimum \(minimumInputSize) px (as in Keras)")
        }
        let eps = o.bnEpsilon ?? 1e-3
        var n = Namer(builder: GraphBuilder(shape: [channels, size, size]), epsilon: eps, width: o.width)
        try n.convBN(32, 3, 3, stride: 2, padding: .valid)
        try n.convBN(32, 3, 3, padding: .valid)
        try n.convBN(64, 3, 3)
        try n.pool(.max, kernel: 3, stride: 2)
        try n.convBN(80, 1, 1, padding: .valid)
        try n.convBN(192, 3, 3, padding: .valid)
        try n.pool(.max, kernel: 3, stride: 2)

        // mixed0-2: 35 x 35 x 256/288/288 at 299.
        for (i, poolFilters) in [32, 64, 64].enumerated() {
            let x = n.b.last
            let b1 = try n.convBN(64, 1, 1, from: x)
            try n.convBN(48, 1, 1, from: x)
            let b5 = try n.convBN(64, 5, 5)
            try n.convBN(64, 1, 1, from: x)
            try n.convBN(96, 3, 3)
            let b3 = try n.convBN(96, 3, 3)
            try n.pool(.average, kernel: 3, stride: 1, padding: .same, from: x)
            let bp = try n.convBN(poolFilters, 1, 1)
            try n.b.concatenate("mixed\(i)", [b1, b5, b3, bp])
        }
        // mixed3: 17 x 17 x 768.
        do {
            let x = n.b.last
            let b3 = try n.convBN(384, 3, 3, stride: 2, padding: .valid, from: x)
            try n.convBN(64, 1, 1, from: x)
            try n.convBN(96, 3, 3)
            let bd = try n.convBN(96, 3, 3, stride: 2, padding: .valid)
            let bp = try n.pool(.max, kernel: 3, stride: 2, from: x)
            try n.b.concatenate("mixed3", [b3, bd, bp])
        }
        // mixed4-7: 17 x 17 x 768, 7x7 factorised into 1x7 and 7x1.
        for (i, c) in [128, 160, 160, 192].enumerated() {
            let x = n.b.last
            let b1 = try n.convBN(192, 1, 1, from: x)
            try n.convBN(c, 1, 1, from: x)
            try n.convBN(c, 1, 7)
            let b7 = try n.convBN(192, 7, 1)
            try n.convBN(c, 1, 1, from: x)
            try n.convBN(c, 7, 1)
            try n.convBN(c, 1, 7)
            try n.convBN(c, 7, 1)
            let bd = try n.convBN(192, 1, 7)
            try n.pool(.average, kernel: 3, stride: 1, padding: .same, from: x)
            let bp = try n.convBN(192, 1, 1)
            try n.b.concatenate("mixed\(4 + i)", [b1, b7, bd, bp])
        }
        // mixed8: 8 x 8 x 1280.
        do {
            let x = n.b.last
            try n.convBN(192, 1, 1, from: x)
            let b3 = try n.convBN(320, 3, 3, stride: 2, padding: .valid)
            try n.convBN(192, 1, 1, from: x)
            try n.convBN(192, 1, 7)
            try n.convBN(192, 7, 1)
            let b7 = try n.convBN(192, 3, 3, stride: 2, padding: .valid)
            let bp = try n.pool(.max, kernel: 3, stride: 2, from: x)
            try n.b.concatenate("mixed8", [b3, b7, bp])
        }
        // mixed9-10: 8 x 8 x 2048.
        for i in 0..<2 {
            let x = n.b.last
            let b1 = try n.convBN(320, 1, 1, from: x)
            let s = try n.convBN(384, 1, 1, from: x)
            let s1 = try n.convBN(384, 1, 3, from: s)
            let s2 = try n.convBN(384, 3, 1, from: s)
            let b3 = try n.b.concatenate("mixed9_\(i)", [s1, s2])
            try n.convBN(448, 1, 1, from: x)
            let d = try n.convBN(384, 3, 3)
            let d1 = try n.convBN(384, 1, 3, from: d)
            let d2 = try n.convBN(384, 3, 1, from: d)
            let bd = try n.b.concatenate(n.next("concatenate"), [d1, d2])
            try n.pool(.average, kernel: 3, stride: 1, padding: .same, from: x)
            let bp = try n.convBN(192, 1, 1)
            try n.b.concatenate("mixed\(9 + i)", [b1, b3, bd, bp])
        }
        let recipe = HeadRecipe(hidden: [], defaultPooling: .globalAverage, outputActivation: o.classifierActivation)
        return try finishSpec(architecture: name, options: o, trunk: n.b, recipe: recipe, defaultClasses: 1000,
                              defaultDropout: 0, bnEpsilon: eps, preprocessing: .tf)
    }

    /// Keras's auto-naming: one counter per class, `conv2d`, `conv2d_1`, ...
    struct Namer {
        var b: GraphBuilder
        let epsilon: Float
        let width: (Int) -> Int
        var counters: [String: Int] = [:]

        init(builder: GraphBuilder, epsilon: Float, width: @escaping (Int) -> Int) {
            b = builder; self.epsilon = epsilon; self.width = width
        }

        mutating func next(_ prefix: String) -> String {
            let k = counters[prefix, default: 0]
            counters[prefix] = k + 1
            return k == 0 ? prefix : "\(prefix)_\(k)"
        }

        /// keras's conv2d_bn: Conv2D (no bias) -> BatchNormalization(scale=False) -> relu.
        @discardableResult
        mutating func convBN(_ filters: Int, _ rows: Int, _ cols: Int, stride: Int = 1, padding: SpecPadding = .same,
                             from: String? = nil) throws -> String {
            try b.conv(next("conv2d"), width(filters), kernel: rows, stride: stride, padding: padding, bias: false,
                       kernelWidth: cols, from: from)
            try b.batchNorm(next("batch_normalization"), epsilon: epsilon, scale: false)
            return try b.activation(next("activation"), .relu)
        }

        @discardableResult
        mutating func pool(_ kind: PoolKind, kernel: Int, stride: Int, padding: SpecPadding = .valid,
                           from: String? = nil) throws -> String {
            try b.pool(next(kind == .max ? "max_pooling2d" : "average_pooling2d"), kind, kernel: kernel, stride: stride,
                       padding: padding, from: from)
        }
    }
}
