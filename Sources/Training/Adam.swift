import Foundation
import NN
import TensorCore

/// Adam (Kingma & Ba), PyTorch semantics, with a per-parameter step count t:
///
///     d = g + l1*sign(w) (+ weightDecay*w unless decoupled)
///     m = β1*m + (1-β1)*d ;  v = β2*v + (1-β2)*d²
///     w -= lr * (m / (1-β1^t)) / (sqrt(v / (1-β2^t)) + ε)
///
/// With `decoupledWeightDecay` (what `AdamW` sets) the decay is applied to the weight first,
/// `w -= lr * weightDecay * w`, instead of entering the moments (Loshchilov & Hutter).
/// State per parameter: `<path>.m`, `<path>.v`, `<path>.step`.
public struct Adam: Optimizer {
    /// Decay of the first-moment average (PyTorch `betas[0]`).
    public var beta1: Float
    /// Decay of the second-moment average (PyTorch `betas[1]`).
    public var beta2: Float
    /// Added to the denominator (PyTorch `eps`; Keras's default is 1e-7).
    public var epsilon: Float
    /// Weight decay, L1 and per-parameter-group scales.
    public var options: OptimizerOptions
    /// Decay applied to the weights directly instead of entering the moments (``AdamW``).
    public var decoupledWeightDecay: Bool

    struct Slot: Sendable { var m: Tensor; var v: Tensor; var step: Int }
    var slots: [String: Slot] = [:]

    /// PyTorch's defaults; the learning rate comes from the trainer's schedule at each step.
    public init(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
                options: OptimizerOptions = .init(), decoupledWeightDecay: Bool = false) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.options = options
        self.decoupledWeightDecay = decoupledWeightDecay
    }

    public mutating func step(_ params: [(String, Parameter)], lr: Float) {
        for (path, p, grad) in updatable(params) {
            let (lrScale, decayScale) = options.scales(for: path)
            let rate = lr * lrScale, l1 = options.l1
            let wd = options.weightDecay * decayScale
            var slot = slots.removeValue(forKey: path)
                ?? Slot(m: Tensor(zeros: p.value.shape), v: Tensor(zeros: p.value.shape), step: 0)
            check(slot.m.shape == p.value.shape && slot.v.shape == p.value.shape,
                  "Adam: moments for \(path) are \(slot.m.shape), parameter is \(p.value.shape)")
            slot.step += 1
            let t = Double(slot.step)
            // Bias corrections in Double, as PyTorch computes them in Python floats.
            let c1 = Float(1 - Foundation.pow(Double(beta1), t))
            let c2sqrt = Float((1 - Foundation.pow(Double(beta2), t)).squareRoot())
            let b1 = beta1, b2 = beta2, eps = epsilon
            let coupledWD = decoupledWeightDecay ? 0 : wd
            let keep: Float = decoupledWeightDecay ? 1 - rate * wd : 1
            let stepSize = rate / c1
            let n = p.value.count
            let w = p.value.mutablePointer(), g = grad.pointer
            let m = slot.m.mutablePointer(), v = slot.v.mutablePointer()
            parallelChunks(n, minChunk: optimizerMinChunk) { r in
                for i in r {
                    let d = regularised(g[i], w[i], wd: coupledWD, l1: l1)
                    let mi = b1 * m[i] + (1 - b1) * d
                    let vi = b2 * v[i] + (1 - b2) * d * d
                    m[i] = mi
                    v[i] = vi
                    let denom = vi.squareRoot() / c2sqrt + eps
                    w[i] = w[i] * keep - stepSize * mi / denom
                }
            }
            withExtendedLifetime(grad) {}
            slots[path] = slot
        }
    }

    public func exportState() -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (path, slot) in slots {
            out[path + ".m"] = slot.m
            out[path + ".v"] = slot.v
            out[path + ".step"] = stepTensor(slot.step)
        }
        return out
    }

    public mutating func importState(_ state: [String: Tensor]) throws {
        var m: [String: Tensor] = [:], v: [String: Tensor] = [:], steps: [String: Int] = [:]
        for (key, t) in state {
            guard let (path, slot) = splitStateKey(key) else { throw OptimizerStateError.unexpectedKey(key) }
            switch slot {
            case "m": m[path] = t
            case "v": v[path] = t
            case "step":
                guard t.count == 1 else { throw OptimizerStateError.shapeMismatch(key: key, expected: [1], found: t.shape) }
                steps[path] = Int(t[flat: 0])
            default: throw OptimizerStateError.unexpectedKey(key)
            }
        }
        var fresh: [String: Slot] = [:]
        for (path, mt) in m {
            guard let vt = v[path] else { throw OptimizerStateError.unexpectedKey(path + ".m") }
            guard vt.shape == mt.shape else {
                throw OptimizerStateError.shapeMismatch(key: path + ".v", expected: mt.shape, found: vt.shape)
            }
            fresh[path] = Slot(m: mt, v: vt, step: steps[path] ?? 0)
        }
        if let orphan = (Set(v.keys).union(steps.keys)).subtracting(m.keys).sorted().first {
            throw OptimizerStateError.unexpectedKey(orphan + (v[orphan] != nil ? ".v" : ".step"))
        }
        slots = fresh
    }
}

/// Adam with decoupled weight decay (PyTorch `AdamW`; default decay 0.01 as there).
/// `options.weightDecay` shrinks weights directly, `w -= lr * weightDecay * w`; `options.l1`
/// still enters the gradient.
public struct AdamW: Optimizer {
    /// The underlying Adam, with `decoupledWeightDecay` set.
    public var adam: Adam

    public init(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8,
                options: OptimizerOptions = .init(weightDecay: 0.01)) {
        adam = Adam(beta1: beta1, beta2: beta2, epsilon: epsilon, options: options, decoupledWeightDecay: true)
    }

    public mutating func step(_ params: [(String, Parameter)], lr: Float) { adam.step(params, lr: lr) }
    public func exportState() -> [String: Tensor] { adam.exportState() }
    public mutating func importState(_ state: [String: Tensor]) throws { try adam.importState(state) }
}
