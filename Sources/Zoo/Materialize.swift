import TensorCore
import NN

extension SpecPadding {
    var nn: Padding {
        switch self {
        case .valid: .valid
        case .same: .same
        case let .explicit(t, b, l, r): .explicit(top: t, bottom: b, left: l, right: r)
        }
    }
}

extension ZooActivation {
    /// The activation fused into a Conv2D/Dense (nil for linear).
    var fused: Activation? {
        switch self {
        case .relu: .relu
        case .tanh: .tanh
        case .sigmoid: .sigmoid
        case .softmax: .softmax
        case .linear: nil
        }
    }

    /// A standalone activation layer (Keras `Activation`).
    func layer() -> any Layer {
        switch self {
        case .relu: ReLU()
        case .tanh: Tanh()
        case .sigmoid: Sigmoid()
        case .softmax: Softmax()
        case .linear: ActivationLayer(.linear)
        }
    }
}

/// Allocates and initialises the NN layer a spec describes.
func makeLayer(_ spec: LayerSpec, rng: inout SeededRandom) -> any Layer {
    switch spec {
    case let .conv(_, cin, cout, k, stride, padding, useBias, groups, activation):
        let c = Conv2D(inChannels: cin, outChannels: cout, kernel: k, stride: stride, padding: padding.nn,
                       useBias: useBias, groups: groups, rng: &rng)
        c.fusedActivation = activation?.fused
        return c
    case let .batchNorm(_, channels, epsilon):
        return BatchNorm(channels: channels, epsilon: epsilon)
    case let .activation(_, a):
        return a.layer()
    case let .zeroPad(_, t, b, l, r):
        return ZeroPadding2D(top: t, bottom: b, left: l, right: r)
    case let .pool(_, kind, k, stride, padding):
        switch kind {
        case .max: return MaxPool2D(kernel: k, stride: stride, padding: padding.nn)
        case .average: return AvgPool2D(kernel: k, stride: stride, padding: padding.nn)
        }
    case let .globalPool(_, kind):
        switch kind {
        case .max: return GlobalMaxPool2D()
        case .average: return GlobalAvgPool2D()
        }
    case .flatten:
        return Flatten()
    case let .dense(_, inF, outF, useBias, activation):
        let d = Dense(inputSize: inF, outputSize: outF, useBias: useBias, rng: &rng)
        d.fusedActivation = activation?.fused
        return d
    case let .dropout(_, rate):
        return Dropout(rate: rate, seed: rng.next())
    case let .localResponseNorm(_, size, alpha, beta, k):
        return LocalResponseNorm(size: size, alpha: alpha, beta: beta, k: k)
    case let .residual(name, shortcut, main, addName, outName):
        let s = shortcut.map { ($0.name, makeLayer($0, rng: &rng)) }
        let m = main.map { ($0.name, makeLayer($0, rng: &rng)) }
        return ResidualBlock(name: name, shortcut: s, main: m, addName: addName, outName: outName)
    }
}
