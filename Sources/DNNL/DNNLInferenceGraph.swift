import TensorCore

/// A batch-independent description of an inference network for oneDNN: convolutions (with folded
/// per-channel affine transforms and fused activations / residual sums), pooling, standalone
/// activations and additions over [C, H, W] activations. `DNNLInferenceNet` compiles it into
/// primitives for a batch size.
///
/// The graph holds the weights as a snapshot taken when it is built: a model whose weights change
/// afterwards needs a new graph. Weights given as a `Tensor` are shared with the caller's storage, not
/// copied (copy-on-write keeps the snapshot: a later in-place update of the model copies first), so a
/// graph of unfolded convolutions adds no second copy of the model's weights.
public struct DNNLInferenceGraph: Sendable {
    /// An activation in the graph: 0 is the input, every op produces the next one.
    public typealias Value = Int

    /// Element-wise functions oneDNN runs as post-ops or standalone primitives.
    public enum Eltwise: Hashable, Sendable {
        /// max(x, 0) + alpha * min(x, 0) (alpha 0: ReLU, else leaky ReLU).
        case relu(alpha: Float)
        case elu(alpha: Float)
        /// min(max(x, lower), upper) (ReLU6: 0, 6).
        case clip(lower: Float, upper: Float)
        case tanh
        case logistic
        case abs
    }

    public enum PoolAlgorithm: Hashable, Sendable {
        case max
        /// Average over the in-bounds cells of a window (Graft's AvgPool2D).
        case averageExcludingPadding
        /// Average counting padded cells as zeros (a ZeroPadding2D folded into a valid average pool).
        case averageIncludingPadding
    }

    public struct Window: Hashable, Sendable {
        public var kernel: (h: Int, w: Int) { (kh, kw) }
        let kh: Int, kw: Int, sh: Int, sw: Int, top: Int, bottom: Int, left: Int, right: Int

        public init(kernel: (Int, Int), stride: (Int, Int), top: Int, bottom: Int, left: Int, right: Int) {
            kh = kernel.0; kw = kernel.1; sh = stride.0; sw = stride.1
            self.top = top; self.bottom = bottom; self.left = left; self.right = right
        }

        func outSize(_ h: Int, _ w: Int) -> (Int, Int)? {
            let ph = h + top + bottom, pw = w + left + right
            guard ph >= kh, pw >= kw, sh > 0, sw > 0 else { return nil }
            return ((ph - kh) / sh + 1, (pw - kw) / sw + 1)
        }
    }

    struct Conv: Sendable {
        let input: Value
        let outChannels: Int, groups: Int
        var window: Window
        /// [O, C/groups, KH, KW] (any shape of that count) and [O], after folding.
        var weight: Tensor
        var bias: [Float]
        /// Post-ops before the residual sum, the residual value summed into the output, post-ops after it.
        var post: [Eltwise] = []
        var sum: Value? = nil
        var postSum: [Eltwise] = []
    }

    enum Op: Sendable {
        case conv(Conv)
        case pool(input: Value, PoolAlgorithm, Window)
        case eltwise(input: Value, [Eltwise])
        case add(Value, Value, post: [Eltwise])
        /// Values concatenated along the channels, in order.
        case concat([Value])

        var inputs: [Value] {
            switch self {
            case let .conv(c): [c.input] + (c.sum.map { [$0] } ?? [])
            case let .pool(i, _, _), let .eltwise(i, _): [i]
            case let .add(a, b, _): [a, b]
            case let .concat(vs): vs
            }
        }
    }

    /// [C, H, W] of every value.
    public private(set) var shapes: [[Int]]
    private(set) var ops: [Op] = []
    /// How many ops read each value (a fused sum counts as a read).
    private var readers: [Int]

    public init(input: [Int]) {
        shapes = [input]
        readers = [0]
    }

    public var input: Value { 0 }
    public var opCount: Int { ops.count }
    public func shape(_ v: Value) -> [Int] { shapes[v] }

    /// Multiply-adds of one image through the graph's convolutions.
    public var macsPerImage: Double {
        ops.enumerated().reduce(0) { acc, e in
            guard case let .conv(c) = e.element else { return acc }
            let s = shapes[e.offset + 1], cin = shapes[c.input][0]
            return acc + Double(s[0] * s[1] * s[2]) * Double(cin / c.groups * c.window.kh * c.window.kw)
        }
    }

    private mutating func append(_ op: Op, shape: [Int]) -> Value {
        for i in op.inputs { readers[i] += 1 }
        ops.append(op)
        shapes.append(shape)
        readers.append(0)
        return ops.count
    }

    private func spatial(_ v: Value) throws -> (Int, Int, Int) {
        guard v >= 0, v < shapes.count, shapes[v].count == 3 else {
            throw DNNLInferenceError.invalid("value \(v) is not a [C, H, W] activation")
        }
        return (shapes[v][0], shapes[v][1], shapes[v][2])
    }

    /// A convolution; `weight` is [O, C/groups, KH, KW], `bias` [O] (nil: zeros).
    public mutating func conv(_ x: Value, outChannels: Int, groups: Int = 1, window: Window,
                              weight: [Float], bias: [Float]?) throws -> Value {
        try conv(x, outChannels: outChannels, groups: groups, window: window,
                 weight: Tensor(shape: [weight.count], scalars: weight), bias: bias)
    }

    /// A convolution whose weight ([O, C/groups, KH, KW] elements) shares `weight`'s storage.
    public mutating func conv(_ x: Value, outChannels: Int, groups: Int = 1, window: Window,
                              weight: Tensor, bias: [Float]?) throws -> Value {
        let (c, h, w) = try spatial(x)
        guard groups > 0, c % groups == 0, outChannels % groups == 0,
              weight.count == outChannels * (c / groups) * window.kh * window.kw,
              bias.map({ $0.count == outChannels }) ?? true,
              let (oh, ow) = window.outSize(h, w) else {
            throw DNNLInferenceError.invalid("conv \(c)->\(outChannels) on [\(c), \(h), \(w)]: bad weights or window")
        }
        let conv = Conv(input: x, outChannels: outChannels, groups: groups, window: window, weight: weight,
                        bias: bias ?? [Float](repeating: 0, count: outChannels))
        return append(.conv(conv), shape: [outChannels, oh, ow])
    }

    public mutating func pool(_ x: Value, _ algorithm: PoolAlgorithm, window: Window) throws -> Value {
        let (c, h, w) = try spatial(x)
        guard let (oh, ow) = window.outSize(h, w), window.top < window.kh, window.bottom < window.kh,
              window.left < window.kw, window.right < window.kw else {
            throw DNNLInferenceError.invalid("pool on [\(c), \(h), \(w)]: bad window")
        }
        return append(.pool(input: x, algorithm, window), shape: [c, oh, ow])
    }

    /// Applies `f` to `x`: fused into x's producer (a convolution or addition nobody else reads yet),
    /// else a standalone primitive.
    public mutating func activation(_ x: Value, _ f: [Eltwise]) throws -> Value {
        _ = try spatial(x)
        if f.isEmpty { return x }
        if x > 0, readers[x] == 0 {
            switch ops[x - 1] {
            case var .conv(c):
                if c.sum == nil { c.post += f } else { c.postSum += f }
                ops[x - 1] = .conv(c)
                return x
            case let .add(a, b, post):
                ops[x - 1] = .add(a, b, post: post + f)
                return x
            default: break
            }
        }
        return append(.eltwise(input: x, f), shape: shapes[x])
    }

    /// y = x * scale[c] + shift[c] (an inference-mode BatchNorm): folded into x's producing
    /// convolution when it has no post-ops yet and nobody else reads x, else a depthwise 1x1 convolution.
    public mutating func affine(_ x: Value, scale: [Float], shift: [Float]) throws -> Value {
        let (c, _, _) = try spatial(x)
        guard scale.count == c, shift.count == c else {
            throw DNNLInferenceError.invalid("affine over \(c) channels: \(scale.count) scales, \(shift.count) shifts")
        }
        if x > 0, readers[x] == 0, case var .conv(conv) = ops[x - 1], conv.post.isEmpty, conv.sum == nil {
            let per = conv.weight.count / c
            conv.weight.withUnsafeMutableBufferPointer { w in
                for o in 0..<c { for j in 0..<per { w[o * per + j] *= scale[o] } }
            }
            for o in 0..<c { conv.bias[o] = conv.bias[o] * scale[o] + shift[o] }
            ops[x - 1] = .conv(conv)
            return x
        }
        return try self.conv(x, outChannels: c, groups: c,
                             window: Window(kernel: (1, 1), stride: (1, 1), top: 0, bottom: 0, left: 0, right: 0),
                             weight: scale, bias: shift)
    }

    /// a + b, then `post`: fused as a sum post-op into a's producing convolution when it has no
    /// activation yet, nobody else reads a, and b is computed before that convolution runs (the
    /// convolution accumulates into b's buffer); else a standalone addition.
    public mutating func add(_ a: Value, _ b: Value, post: [Eltwise] = []) throws -> Value {
        _ = try spatial(a); _ = try spatial(b)
        guard shapes[a] == shapes[b] else {
            throw DNNLInferenceError.invalid("add: \(shapes[a]) vs \(shapes[b])")
        }
        if a > 0, b < a, readers[a] == 0, case var .conv(conv) = ops[a - 1], conv.post.isEmpty, conv.sum == nil {
            conv.sum = b
            conv.postSum = post
            ops[a - 1] = .conv(conv)
            readers[b] += 1
            return a
        }
        return append(.add(a, b, post: post), shape: shapes[a])
    }

    /// Values concatenated along the channels (same height and width), in order.
    public mutating func concat(_ xs: [Value]) throws -> Value {
        guard xs.count >= 2 else { throw DNNLInferenceError.invalid("concat of \(xs.count) values") }
        let (_, h, w) = try spatial(xs[0])
        var c = 0
        for x in xs {
            let (cx, hx, wx) = try spatial(x)
            guard hx == h, wx == w else { throw DNNLInferenceError.invalid("concat: \(shapes[x]) vs \(shapes[xs[0]])") }
            c += cx
        }
        return append(.concat(xs), shape: [c, h, w])
    }

    /// Marks `x` as read by something outside the graph's ops (a value several later ops will read),
    /// so no activation, affine or sum is fused into its producer afterwards.
    public mutating func retain(_ x: Value) {
        if x >= 0, x < readers.count { readers[x] += 1 }
    }

    /// Ops by kind, e.g. "13 conv (13 with activation, 0 with sum), 5 pool".
    public var summary: String {
        var conv = 0, act = 0, sum = 0, pool = 0, elt = 0, add = 0, concat = 0
        for op in ops {
            switch op {
            case let .conv(c):
                conv += 1
                if !(c.post + c.postSum).isEmpty { act += 1 }
                if c.sum != nil { sum += 1 }
            case .pool: pool += 1
            case .eltwise: elt += 1
            case .add: add += 1
            case .concat: concat += 1
            }
        }
        var parts = ["\(conv) conv (\(act) with fused activation, \(sum) with fused residual sum)"]
        if pool > 0 { parts.append("\(pool) pool") }
        if elt > 0 { parts.append("\(elt) standalone activation") }
        if add > 0 { parts.append("\(add) standalone add") }
        if concat > 0 { parts.append("\(concat) concat") }
        return parts.joined(separator: ", ")
    }
}

public enum DNNLInferenceError: Error, CustomStringConvertible {
    case invalid(String)
    case unavailable(String)

    public var description: String {
        switch self {
        case let .invalid(s): "inference graph: \(s)"
        case let .unavailable(s): "oneDNN inference: \(s)"
        }
    }
}
