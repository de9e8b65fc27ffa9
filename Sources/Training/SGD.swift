import NN
import TensorCore

/// Stochastic gradient descent with optional (Nesterov) momentum, PyTorch semantics (dampening 0):
///
///     d   = g + weightDecay*w + l1*sign(w)
///     buf = momentum*buf + d                      (buf starts at 0, so the first buf is d)
///     w  -= lr * (nesterov ? d + momentum*buf : buf)
///
/// With `momentum == 0` there is no buffer and `w -= lr * d`.
/// State per parameter: `<path>.momentum` (when momentum > 0) and `<path>.step`.
public struct SGD: Optimizer {
    /// Momentum factor (PyTorch `momentum`; 0.9 in most fine-tuning recipes).
    public var momentum: Float
    /// Nesterov momentum (needs `momentum > 0`).
    public var nesterov: Bool
    /// Weight decay, L1 and per-parameter-group scales.
    public var options: OptimizerOptions

    struct Slot: Sendable { var buffer: Tensor?; var step: Int }
    var slots: [String: Slot] = [:]

    /// Plain SGD by default; the learning rate comes from the trainer's schedule at each step.
    public init(momentum: Float = 0, nesterov: Bool = false, options: OptimizerOptions = .init()) {
        check(!nesterov || momentum > 0, "SGD: Nesterov momentum requires momentum > 0")
        self.momentum = momentum
        self.nesterov = nesterov
        self.options = options
    }

    public mutating func step(_ params: [(String, Parameter)], lr: Float) {
        for (path, p, grad) in updatable(params) {
            let (lrScale, decayScale) = options.scales(for: path)
            let rate = lr * lrScale, wd = options.weightDecay * decayScale, l1 = options.l1
            var slot = slots.removeValue(forKey: path) ?? Slot(buffer: nil, step: 0)
            let n = p.value.count
            let w = p.value.mutablePointer(), g = grad.pointer
            if momentum != 0 {
                if slot.buffer == nil { slot.buffer = Tensor(zeros: p.value.shape) }
                check(slot.buffer!.shape == p.value.shape,
                      "SGD: momentum for \(path) is \(slot.buffer!.shape), parameter is \(p.value.shape)")
                let b = slot.buffer!.mutablePointer()
                let mu = momentum, nest = nesterov
                parallelChunks(n, minChunk: optimizerMinChunk) { r in
                    for i in r {
                        let d = regularised(g[i], w[i], wd: wd, l1: l1)
                        let buf = mu * b[i] + d
                        b[i] = buf
                        w[i] -= rate * (nest ? d + mu * buf : buf)
                    }
                }
            } else {
                parallelChunks(n, minChunk: optimizerMinChunk) { r in
                    for i in r { w[i] -= rate * regularised(g[i], w[i], wd: wd, l1: l1) }
                }
            }
            withExtendedLifetime(grad) {}
            slot.step += 1
            slots[path] = slot
        }
    }

    public func exportState() -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (path, slot) in slots {
            if let b = slot.buffer { out[path + ".momentum"] = b }
            out[path + ".step"] = stepTensor(slot.step)
        }
        return out
    }

    public mutating func importState(_ state: [String: Tensor]) throws {
        var fresh: [String: Slot] = [:]
        for (key, t) in state {
            guard let (path, slot) = splitStateKey(key) else { throw OptimizerStateError.unexpectedKey(key) }
            switch slot {
            case "momentum": fresh[path, default: Slot(buffer: nil, step: 0)].buffer = t
            case "step":
                guard t.count == 1 else { throw OptimizerStateError.shapeMismatch(key: key, expected: [1], found: t.shape) }
                fresh[path, default: Slot(buffer: nil, step: 0)].step = Int(t[flat: 0])
            default: throw OptimizerStateError.unexpectedKey(key)
            }
        }
        slots = fresh
    }
}
