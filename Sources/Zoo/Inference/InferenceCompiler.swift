import DNNL
import TensorCore
import NN

/// Translates layers into a `DNNLInferenceGraph`, one at a time. Every `emit` either adds the layer
/// (returning true) or reports that it cannot (false); the caller then runs that layer through its
/// module forward. `emit` may have changed the graph when it fails, so callers try on a copy.
struct InferenceCompiler {
    /// Where a chain stands: the value holding its activation, a zero padding not yet applied (folded
    /// into the next convolution or pooling), and whether the value is known to be >= 0.
    struct Cursor {
        var value: DNNLInferenceGraph.Value
        var pad = (top: 0, bottom: 0, left: 0, right: 0)
        var padLayers: [(name: String, layer: any Layer)] = []
        var nonNegative = false
        /// Set after a global pooling: the chain's [C, 1, 1] is the logical [C], nothing may follow natively.
        var flattened = false

        var hasPad: Bool { !padLayers.isEmpty }
    }

    static func eltwise(_ a: Activation?) -> [DNNLInferenceGraph.Eltwise]? {
        switch a {
        case nil, .linear?: []
        case .relu?: [.relu(alpha: 0)]
        case let .leakyReLU(alpha)?: [.relu(alpha: alpha)]
        case let .elu(alpha)?: [.elu(alpha: alpha)]
        case .tanh?: [.tanh]
        case .absTanh?: [.tanh, .abs]
        case .sigmoid?: [.logistic]
        case .softmax?: nil
        }
    }

    static func nonNegative(after f: [DNNLInferenceGraph.Eltwise], _ before: Bool) -> Bool {
        guard let last = f.last else { return before }
        switch last {
        case .relu(alpha: 0), .logistic, .abs: return true
        default: return false
        }
    }

    /// Adds `layer` at `c` in `g`. False: the layer (or its configuration: training-mode BatchNorm,
    /// softmax, L2 pooling, an unfoldable padding...) is not supported natively.
    static func emit(_ layer: any Layer, name: String, _ g: inout DNNLInferenceGraph, _ c: inout Cursor) -> Bool {
        if c.flattened { return false }
        let s = g.shape(c.value)
        guard s.count == 3 else { return false }
        let padded = [1, s[0], s[1] + c.pad.top + c.pad.bottom, s[2] + c.pad.left + c.pad.right]
        do {
            switch layer {
            case let conv as Conv2D:
                guard let post = eltwise(conv.fusedActivation) else { return false }
                let geo = try conv.geometry(for: padded)
                let win = DNNLInferenceGraph.Window(kernel: (geo.kernelHeight, geo.kernelWidth), stride: (geo.strideH, geo.strideW),
                                                    top: geo.padTop + c.pad.top, bottom: geo.padBottom + c.pad.bottom,
                                                    left: geo.padLeft + c.pad.left, right: geo.padRight + c.pad.right)
                var v = try g.conv(c.value, outChannels: conv.outChannels, groups: conv.groups, window: win,
                                   weight: conv.weight.value, bias: conv.bias?.value.scalars)
                v = try g.activation(v, post)
                c = Cursor(value: v, nonNegative: nonNegative(after: post, false))
                return true

            case let bn as BatchNorm:
                guard !bn.usesBatchStatistics, !c.hasPad else { return false }
                let gamma = bn.weight.value.scalars, beta = bn.bias.value.scalars
                let mean = bn.runningMean.value.scalars, variance = bn.runningVar.value.scalars
                var scale = [Float](repeating: 0, count: bn.channels), shift = scale
                for i in 0..<bn.channels {
                    scale[i] = gamma[i] / (variance[i] + bn.epsilon).squareRoot()
                    shift[i] = beta[i] - mean[i] * scale[i]
                }
                c.value = try g.affine(c.value, scale: scale, shift: shift)
                c.nonNegative = false
                return true

            case let a as ActivationLayer:
                guard !c.hasPad, let f = eltwise(a.activation) else { return false }
                c.value = try g.activation(c.value, f)
                c.nonNegative = nonNegative(after: f, c.nonNegative)
                return true

            case let p as Pool2DLayer:
                let isMax = p is MaxPool2D
                guard isMax || p is AvgPool2D else { return false }
                let geo = try p.geometry(for: padded)
                var alg: DNNLInferenceGraph.PoolAlgorithm = isMax ? .max : .averageExcludingPadding
                if c.hasPad {
                    // Zero padding then a pool: a max over >= 0 values ignores the zeros (every window
                    // keeps a real cell, padding < window); an average counts them, with no padding of its own.
                    let own = geo.padTop + geo.padBottom + geo.padLeft + geo.padRight
                    if isMax { guard c.nonNegative else { return false } } else {
                        guard own == 0 else { return false }
                        alg = .averageIncludingPadding
                    }
                }
                let win = DNNLInferenceGraph.Window(kernel: (geo.kernelHeight, geo.kernelWidth), stride: (geo.strideH, geo.strideW),
                                                    top: geo.padTop + c.pad.top, bottom: geo.padBottom + c.pad.bottom,
                                                    left: geo.padLeft + c.pad.left, right: geo.padRight + c.pad.right)
                let v = try g.pool(c.value, alg, window: win)
                c = Cursor(value: v, nonNegative: c.nonNegative)
                return true

            case is GlobalAvgPool2D, is GlobalMaxPool2D:
                guard !c.hasPad else { return false }
                let win = DNNLInferenceGraph.Window(kernel: (s[1], s[2]), stride: (1, 1), top: 0, bottom: 0, left: 0, right: 0)
                c.value = try g.pool(c.value, layer is GlobalMaxPool2D ? .max : .averageExcludingPadding, window: win)
                c.flattened = true
                return true

            case let z as ZeroPadding2D:
                c.pad = (c.pad.top + z.top, c.pad.bottom + z.bottom, c.pad.left + z.left, c.pad.right + z.right)
                c.padLayers.append((name, z))
                return true

            case let d as Dropout:
                return !d.isTraining || d.rate == 0

            case let b as ResidualBlock:
                guard !c.hasPad, b.out.activation == .relu else { return false }
                // Shortcut first: the main branch's last convolution then accumulates into its result.
                var sc = Cursor(value: c.value, nonNegative: c.nonNegative), mc = sc
                for (n, l) in b.shortcut { guard emit(l, name: n, &g, &sc) else { return false } }
                for (n, l) in b.main { guard emit(l, name: n, &g, &mc) else { return false } }
                guard !sc.hasPad, !mc.hasPad, !sc.flattened, !mc.flattened else { return false }
                let v = try g.add(mc.value, sc.value, post: [.relu(alpha: 0)])
                c = Cursor(value: v, nonNegative: true)
                return true

            default:
                return false
            }
        } catch {
            return false
        }
    }
}
