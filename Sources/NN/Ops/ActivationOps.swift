import TensorCore

/// An activation, as a layer (`ActivationLayer`), as an op (`activation(x, .relu)`), or fused into
/// Conv2D/Dense (`fusedActivation`, Keras's `activation=` argument).
public enum Activation: Hashable, Sendable {
    case linear
    case relu
    /// min(max(x, 0), 6) (Keras `ReLU(6.0)` / `relu6`).
    case relu6
    case leakyReLU(alpha: Float = 0.3)
    case elu(alpha: Float = 1)
    case tanh
    /// |tanh(x)| (Caffe's AbsVal after TanH, used by some LeNet variants).
    case absTanh
    case sigmoid
    /// Over the channel axis: the last axis of [N, C], axis 1 of NCHW (Keras's axis=-1 in NHWC).
    case softmax
    /// Keras `selu`, `swish`/`silu`, `gelu` (exact), `softplus`, `softsign`, `exponential`.
    case selu, swish, gelu, softplus, softsign, exponential
    /// clip(slope·x + 0.5, 0, 1) (Keras 2 `hard_sigmoid`: slope 0.2; Keras 3: 1/6).
    case hardSigmoid(slope: Float)
    /// Keras `ReLU(max_value, negative_slope, threshold)` in general (see `PointwiseActivation`).
    case thresholdedReLU(maxValue: Float?, slope: Float, threshold: Float)

    var pointwise: PointwiseActivation? {
        switch self {
        case .linear, .softmax: nil
        case .relu: .relu
        case .relu6: .relu6
        case let .leakyReLU(a): .leakyReLU(alpha: a)
        case let .elu(a): .elu(alpha: a)
        case .tanh: .tanh
        case .absTanh: .absTanh
        case .sigmoid: .sigmoid
        case .selu: .selu
        case .swish: .swish
        case .gelu: .gelu
        case .softplus: .softplus
        case .softsign: .softsign
        case .exponential: .exponential
        case let .hardSigmoid(a): .hardSigmoid(slope: a)
        case let .thresholdedReLU(m, s, t): .thresholdedReLU(maxValue: m, slope: s, threshold: t)
        }
    }

    /// Whether the activation can overwrite its input and back-propagate from its output alone.
    var fusesInPlace: Bool {
        switch self {
        case .linear, .softmax: true
        default: pointwise!.derivativeFromOutput
        }
    }

    /// Applies the activation in place (only when `fusesInPlace`).
    func applyInPlace(_ t: inout Tensor) {
        switch self {
        case .linear: return
        case .softmax:
            let (o, c, i) = channelLayout(t.shape, op: "softmax")
            let p = t.mutablePointer()
            ActivationKernels.softmaxForward(x: p, y: p, outer: o, channels: c, inner: i)
        default:
            let p = t.mutablePointer()
            ActivationKernels.forward(pointwise!, x: p, y: p, count: t.count)
        }
    }

    /// dL/dx from dL/dy, using the output `y` (and the input `x` where the derivative needs it).
    func gradient(_ dy: Tensor, output y: Tensor, input x: Tensor?) -> Tensor {
        switch self {
        case .linear: return dy
        case .softmax:
            var dx = Tensor(uninitializedShape: y.shape)
            let (o, c, i) = channelLayout(y.shape, op: "softmax")
            ActivationKernels.softmaxBackward(y: y.pointer, dy: dy.pointer, dx: dx.mutablePointer(), outer: o, channels: c, inner: i)
            return dx
        default:
            var dx = Tensor(uninitializedShape: y.shape)
            ActivationKernels.backward(pointwise!, x: x?.pointer, y: y.pointer, dy: dy.pointer, dx: dx.mutablePointer(), count: y.count)
            return dx
        }
    }
}

/// (outer, channels, inner) for a channel-axis-1 reduction over a rank >= 2 shape.
func channelLayout(_ shape: [Int], op: String) -> (Int, Int, Int) {
    check(shape.count >= 2, "\(op): expected a rank >= 2 input [N, C, ...], got \(shape)")
    return (shape[0], shape[1], shape.dropFirst(2).reduce(1, *))
}

/// y = f(x). Frozen/constant inputs record nothing.
public func activation(_ x: Var, _ f: Activation) -> Var {
    if f == .linear { return x }
    var y = Tensor(uninitializedShape: x.shape)
    switch f {
    case .softmax:
        let (o, c, i) = channelLayout(x.shape, op: "softmax")
        ActivationKernels.softmaxForward(x: x.value.pointer, y: y.mutablePointer(), outer: o, channels: c, inner: i)
    default:
        ActivationKernels.forward(f.pointwise!, x: x.value.pointer, y: y.mutablePointer(), count: x.value.count)
    }
    let out = y
    if f == .relu, let node = x.node, let fused = node.reluPullback {
        // Take x's place on the tape: x's own output is then dropped as soon as the caller lets go.
        return Var(y, nodes: node.parents) { g in fused(g, out) }
    }
    // Keep the input alive only where the derivative needs it.
    let input: Tensor? = f.fusesInPlace ? nil : x.value
    return Var(y, parents: [x]) { g in [f.gradient(g, output: out, input: input)] }
}

/// Applies a fused activation to a freshly computed op output `z` (owned by the caller) and
/// returns the op result: `z` itself when the activation fuses in place (the pullback then maps
/// the incoming gradient through `f` before `pullback`), otherwise a separate activation node.
func withActivation(_ f: Activation?, _ z: inout Tensor, parents: [Var],
                    pullback: @escaping (Tensor) -> [Tensor?]) -> Var {
    guard let f, f != .linear else { return Var(z, parents: parents, pullback: pullback) }
    if f.fusesInPlace {
        f.applyInPlace(&z)   // z is still uniquely owned by the caller: no copy
        let out = z
        return Var(out, parents: parents) { g in pullback(f.gradient(g, output: out, input: nil)) }
    }
    return activation(Var(z, parents: parents, pullback: pullback), f)
}

public func relu(_ x: Var) -> Var { activation(x, .relu) }
public func relu6(_ x: Var) -> Var { activation(x, .relu6) }
public func leakyReLU(_ x: Var, alpha: Float = 0.3) -> Var { activation(x, .leakyReLU(alpha: alpha)) }
public func elu(_ x: Var, alpha: Float = 1) -> Var { activation(x, .elu(alpha: alpha)) }
public func tanh(_ x: Var) -> Var { activation(x, .tanh) }
public func absTanh(_ x: Var) -> Var { activation(x, .absTanh) }
public func sigmoid(_ x: Var) -> Var { activation(x, .sigmoid) }
public func softmax(_ x: Var) -> Var { activation(x, .softmax) }
