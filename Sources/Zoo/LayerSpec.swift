import NN

/// Padding of a spec'd convolution or pooling (mirrors NN's `Padding`; kept here so specs are Sendable
/// values that can be counted and listed without allocating a single weight).
public enum SpecPadding: Sendable, Equatable, Hashable {
    case valid
    /// Keras 'same': output ceil(in / stride), extra pixel at the bottom/right when the total is odd.
    case same
    case explicit(top: Int, bottom: Int, left: Int, right: Int)

    public static func symmetric(_ p: Int) -> SpecPadding { .explicit(top: p, bottom: p, left: p, right: p) }
}

public enum PoolKind: String, Sendable, Equatable { case max, average }

/// One Keras-named layer of an architecture, before any weight exists. Models are described as
/// specs first (shape-checked while they are written), then materialised into NN layers; parameter
/// counts and key lists come from specs, so even VGG19 can be listed without allocating 570 MB.
public indirect enum LayerSpec: Sendable, Equatable {
    case conv(name: String, inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: SpecPadding,
              useBias: Bool, groups: Int, activation: ZooActivation?)
    case batchNorm(name: String, channels: Int, epsilon: Float)
    case activation(name: String, ZooActivation)
    case zeroPad(name: String, top: Int, bottom: Int, left: Int, right: Int)
    case pool(name: String, kind: PoolKind, kernel: Int, stride: Int, padding: SpecPadding)
    case globalPool(name: String, kind: PoolKind)
    case flatten(name: String)
    case dense(name: String, inputSize: Int, outputSize: Int, useBias: Bool, activation: ZooActivation?)
    case dropout(name: String, rate: Float)
    case localResponseNorm(name: String, size: Int, alpha: Float, beta: Float, k: Float)
    /// A residual block: `out(add(main(x), shortcut(x)))`; an empty shortcut is the identity.
    case residual(name: String, shortcut: [LayerSpec], main: [LayerSpec], addName: String, outName: String)

    public var name: String {
        switch self {
        case let .conv(name, _, _, _, _, _, _, _, _), let .batchNorm(name, _, _), let .activation(name, _),
             let .zeroPad(name, _, _, _, _), let .pool(name, _, _, _, _), let .globalPool(name, _), let .flatten(name),
             let .dense(name, _, _, _, _), let .dropout(name, _), let .localResponseNorm(name, _, _, _, _),
             let .residual(name, _, _, _, _):
            name
        }
    }

    /// Keras layer names in order (a residual block contributes its inner layers, then add and out).
    public var layerNames: [String] {
        if case let .residual(_, shortcut, main, addName, outName) = self {
            return shortcut.flatMap(\.layerNames) + main.flatMap(\.layerNames) + [addName, outName]
        }
        return [name]
    }

    /// Parameter paths and shapes in Graft layout and declaration order (weight, bias; BN weight, bias,
    /// runningMean, runningVar).
    public var parameterShapes: [(path: String, shape: [Int])] {
        switch self {
        case let .conv(name, cin, cout, k, _, _, useBias, groups, _):
            return [("\(name).weight", [cout, cin / groups, k, k])] + (useBias ? [("\(name).bias", [cout])] : [])
        case let .batchNorm(name, c, _):
            return ["weight", "bias", "runningMean", "runningVar"].map { ("\(name).\($0)", [c]) }
        case let .dense(name, inF, outF, useBias, _):
            return [("\(name).weight", [outF, inF])] + (useBias ? [("\(name).bias", [outF])] : [])
        case let .residual(_, shortcut, main, _, _):
            return (shortcut + main).flatMap(\.parameterShapes)
        default:
            return []
        }
    }

    public var parameterCount: Int { parameterShapes.reduce(0) { $0 + $1.shape.reduce(1, *) } }
}

/// Output size of a window op along one axis, or nil if the window does not fit.
func windowOutput(_ size: Int, kernel: Int, stride: Int, before: Int, after: Int) -> Int? {
    let padded = size + before + after
    return padded >= kernel ? (padded - kernel) / stride + 1 : nil
}

/// Keras 'same' padding along one axis: (before, after), the extra pixel after.
public func kerasSamePadding(_ size: Int, kernel: Int, stride: Int) -> (Int, Int) {
    let outSize = (size + stride - 1) / stride
    let total = max((outSize - 1) * stride + kernel - size, 0)
    return (total / 2, total - total / 2)
}

/// Writes a chain of layer specs while tracking the activation shape ([C, H, W], or [F] after
/// flatten/global pooling), so a size the network cannot take fails here, naming the layer.
struct SpecBuilder {
    private(set) var shape: [Int]
    private(set) var layers: [LayerSpec] = []

    init(shape: [Int]) { self.shape = shape }

    var channels: Int { shape[0] }

    private func fail(_ name: String, _ reason: String) -> ShapeError {
        ShapeError.invalidInput(layer: name, input: [1] + shape, reason: reason)
    }

    private func spatial(_ name: String, what: String) throws -> (Int, Int, Int) {
        guard shape.count == 3 else { throw fail(name, "\(what) needs a [C, H, W] feature map") }
        return (shape[0], shape[1], shape[2])
    }

    private func windowed(_ name: String, what: String, kernel: Int, stride: Int, padding: SpecPadding) throws -> (Int, Int) {
        let (_, h, w) = try spatial(name, what: what)
        let (t, b, l, r): (Int, Int, Int, Int)
        switch padding {
        case .valid: (t, b, l, r) = (0, 0, 0, 0)
        case .same:
            let (pt, pb) = kerasSamePadding(h, kernel: kernel, stride: stride)
            let (pl, pr) = kerasSamePadding(w, kernel: kernel, stride: stride)
            (t, b, l, r) = (pt, pb, pl, pr)
        case let .explicit(top, bottom, left, right): (t, b, l, r) = (top, bottom, left, right)
        }
        guard let oh = windowOutput(h, kernel: kernel, stride: stride, before: t, after: b),
              let ow = windowOutput(w, kernel: kernel, stride: stride, before: l, after: r) else {
            throw fail(name, "is too small for a \(kernel)x\(kernel) \(what) (stride \(stride)): output would be empty")
        }
        return (oh, ow)
    }

    mutating func conv(_ name: String, _ out: Int, kernel: Int, stride: Int = 1, padding: SpecPadding = .valid,
                       bias: Bool = true, groups: Int = 1, activation: ZooActivation? = nil) throws {
        let (c, _, _) = try spatial(name, what: "convolution")
        guard c % groups == 0, out % groups == 0 else {
            throw fail(name, "channels \(c) -> \(out) are not divisible by groups \(groups)")
        }
        let (oh, ow) = try windowed(name, what: "convolution", kernel: kernel, stride: stride, padding: padding)
        layers.append(.conv(name: name, inChannels: c, outChannels: out, kernel: kernel, stride: stride,
                            padding: padding, useBias: bias, groups: groups, activation: activation))
        shape = [out, oh, ow]
    }

    mutating func batchNorm(_ name: String, epsilon: Float) throws {
        _ = try spatial(name, what: "batch normalisation")
        layers.append(.batchNorm(name: name, channels: shape[0], epsilon: epsilon))
    }

    mutating func activation(_ name: String, _ a: ZooActivation) { layers.append(.activation(name: name, a)) }

    mutating func zeroPad(_ name: String, _ p: Int) throws {
        let (c, h, w) = try spatial(name, what: "zero padding")
        layers.append(.zeroPad(name: name, top: p, bottom: p, left: p, right: p))
        shape = [c, h + 2 * p, w + 2 * p]
    }

    mutating func pool(_ name: String, _ kind: PoolKind, kernel: Int, stride: Int, padding: SpecPadding = .valid) throws {
        let (oh, ow) = try windowed(name, what: "\(kind) pooling", kernel: kernel, stride: stride, padding: padding)
        layers.append(.pool(name: name, kind: kind, kernel: kernel, stride: stride, padding: padding))
        shape = [shape[0], oh, ow]
    }

    mutating func localResponseNorm(_ name: String, size: Int, alpha: Float, beta: Float, k: Float) throws {
        _ = try spatial(name, what: "local response normalisation")
        layers.append(.localResponseNorm(name: name, size: size, alpha: alpha, beta: beta, k: k))
    }

    mutating func pooling(_ p: HeadPooling) throws {
        let (c, h, w) = try spatial(p.layerName, what: "head pooling")
        switch p {
        case .flatten: layers.append(.flatten(name: p.layerName)); shape = [c * h * w]
        case .globalAverage: layers.append(.globalPool(name: p.layerName, kind: .average)); shape = [c]
        case .globalMax: layers.append(.globalPool(name: p.layerName, kind: .max)); shape = [c]
        }
    }

    mutating func dense(_ name: String, _ out: Int, bias: Bool = true, activation: ZooActivation? = nil) throws {
        guard shape.count == 1 else { throw fail(name, "dense layer needs flat [N, F] input; add flatten or global pooling") }
        layers.append(.dense(name: name, inputSize: shape[0], outputSize: out, useBias: bias, activation: activation))
        shape = [out]
    }

    mutating func dropout(_ name: String, _ rate: Float) {
        if rate > 0 { layers.append(.dropout(name: name, rate: rate)) }
    }

    /// A residual block; `shortcut` may write nothing (identity). Shapes of both branches must agree.
    mutating func residual(_ name: String, addName: String, outName: String,
                           shortcut: (inout SpecBuilder) throws -> Void, main: (inout SpecBuilder) throws -> Void) throws {
        var s = SpecBuilder(shape: shape), m = SpecBuilder(shape: shape)
        try shortcut(&s)
        try main(&m)
        guard s.shape == m.shape else {
            throw fail(addName, "branches disagree: main \(m.shape) vs shortcut \(s.shape)")
        }
        layers.append(.residual(name: name, shortcut: s.layers, main: m.layers, addName: addName, outName: outName))
        shape = m.shape
    }
}
