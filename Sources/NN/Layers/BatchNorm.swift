import TensorCore

/// How `momentum` mixes the running statistics with the batch statistics.
public enum MomentumConvention: String, Hashable, Sendable, Codable {
    /// running = m * running + (1 - m) * batch (Keras, m ≈ 0.99); the running variance tracks the
    /// biased batch variance, as Keras's BatchNormalization does.
    case keras
    /// running = (1 - m) * running + m * batch (PyTorch, m ≈ 0.1); the running variance tracks the
    /// unbiased batch variance (× M/(M-1)), as torch.nn.BatchNorm does.
    case pytorch
}

/// Batch normalisation over the channel axis (axis 1) of [N, C] or [N, C, H, W].
/// Training mode (`isTraining && !weight.isFrozen`, the Keras rule) normalises with the batch mean and
/// biased variance and updates `runningMean`/`runningVar`; otherwise the running statistics are used,
/// so a frozen backbone's BN neither drifts nor depends on the batch.
/// `scale: false` is Keras's `BatchNormalization(scale=False)` (InceptionV3): gamma is fixed at 1 and
/// is not a parameter (no `weight` path, nothing to import, train or count).
public final class BatchNorm: Module, Layer {
    public let weight: Parameter        // gamma (constant 1, not listed, when !scale)
    public let bias: Parameter          // beta
    public let runningMean: Parameter   // .buffer
    public let runningVar: Parameter    // .buffer
    public let channels: Int
    public let epsilon: Float
    public let momentum: Float
    public let convention: MomentumConvention
    /// Whether gamma is a parameter (Keras `scale`).
    public let scale: Bool

    public init(channels: Int, epsilon: Float = 1e-3, momentum: Float = 0.99, convention: MomentumConvention = .keras,
                scale: Bool = true) {
        check(channels > 0 && epsilon >= 0 && momentum >= 0 && momentum <= 1,
              "BatchNorm(\(channels)): invalid channels, epsilon \(epsilon) or momentum \(momentum)")
        self.channels = channels
        self.epsilon = epsilon
        self.momentum = momentum
        self.convention = convention
        self.scale = scale
        weight = Parameter(Tensor(shape: [channels], repeating: 1))
        bias = Parameter(Tensor(zeros: [channels]))
        runningMean = Parameter(Tensor(zeros: [channels]), kind: .buffer)
        runningVar = Parameter(Tensor(shape: [channels], repeating: 1), kind: .buffer)
    }

    /// Without scale, gamma is no path: freezing reaches only beta, which then decides.
    public override func localParameters() -> [(String, Parameter)] {
        scale ? super.localParameters() : super.localParameters().filter { $0.1 !== weight }
    }

    /// Whether a forward pass uses (and updates) batch statistics.
    public var usesBatchStatistics: Bool { isTraining && !(scale ? weight : bias).isFrozen }

    /// Gamma on the tape: a constant leaf without scale, so no gradient is made for it.
    private var gammaVar: Var { scale ? Var(weight) : Var(weight.value) }

    public func outputShape(for s: [Int]) throws -> [Int] {
        guard s.count >= 2, s[1] == channels else {
            throw ShapeError.invalidInput(layer: "BatchNorm(\(channels))", input: s, reason: "expected [N, \(channels), ...]")
        }
        return s
    }

    public func callAsFunction(_ x: Var) -> Var {
        _ = checked { try outputShape(for: x.shape) }
        guard usesBatchStatistics else {
            return batchNormInference(x, gamma: gammaVar, beta: Var(bias), mean: runningMean.value,
                                      variance: runningVar.value, epsilon: epsilon)
        }
        let (y, mean, variance) = batchNormTraining(x, gamma: gammaVar, beta: Var(bias), epsilon: epsilon)
        let m = x.value.count / channels
        let (keep, take): (Float, Float) = convention == .keras ? (momentum, 1 - momentum) : (1 - momentum, momentum)
        let correction: Float = convention == .pytorch ? Float(m) / Float(max(m - 1, 1)) : 1
        let rm = runningMean.value.pointer, rv = runningVar.value.pointer
        var newMean = Tensor(uninitializedShape: [channels]), newVar = Tensor(uninitializedShape: [channels])
        let nm = newMean.mutablePointer(), nv = newVar.mutablePointer()
        for c in 0..<channels {
            nm[c] = keep * rm[c] + take * mean[flat: c]
            nv[c] = keep * rv[c] + take * variance[flat: c] * correction
        }
        runningMean.value = newMean
        runningVar.value = newVar
        return y
    }
}
