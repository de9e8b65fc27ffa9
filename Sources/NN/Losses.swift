import Foundation
import TensorCore

/// Softmax cross-entropy on logits [N, K] with integer labels, averaged over the batch; the result is [1].
/// Stable (log-sum-exp with the row maximum subtracted) with the fused gradient (p - q) / N.
/// - labelSmoothing ε: the target is (1 - ε)·onehot + ε/K (Keras/PyTorch).
/// - classWeights w: sample n is weighted by w[label_n] and the loss is Σ w·l / Σ w (PyTorch's weighted
///   mean, so rescaling all weights leaves the loss and learning rate unchanged).
public func softmaxCrossEntropy(logits: Var, labels: [Int], labelSmoothing: Float = 0, classWeights: [Float]? = nil) -> Var {
    check(logits.shape.count == 2 && logits.shape[0] == labels.count,
          "softmaxCrossEntropy: logits \(logits.shape) for \(labels.count) labels")
    let (n, k) = (logits.shape[0], logits.shape[1])
    check(labels.allSatisfy { $0 >= 0 && $0 < k }, "softmaxCrossEntropy: label outside 0..<\(k): \(labels)")
    check(labelSmoothing >= 0 && labelSmoothing < 1, "softmaxCrossEntropy: labelSmoothing \(labelSmoothing) outside [0, 1)")
    if let classWeights { check(classWeights.count == k, "softmaxCrossEntropy: \(classWeights.count) class weights for \(k) classes") }
    let weights = labels.map { classWeights?[$0] ?? 1 }
    let totalWeight = weights.reduce(0, +)
    check(totalWeight > 0, "softmaxCrossEntropy: class weights of this batch sum to \(totalWeight)")
    let offValue = labelSmoothing / Float(k), onValue = 1 - labelSmoothing + offValue
    // Probabilities are kept for the fused gradient.
    var probs = Tensor(uninitializedShape: [n, k])
    let zp = logits.value.pointer, pp = probs.mutablePointer()
    var loss: Double = 0
    for r in 0..<n {
        let z = zp + r * k, p = pp + r * k
        var m = -Float.infinity
        for j in 0..<k { m = max(m, z[j]) }
        var s: Float = 0
        for j in 0..<k { let e = exp(z[j] - m); p[j] = e; s += e }
        let logSum = log(s) + m, inv = 1 / s
        for j in 0..<k { p[j] *= inv }
        // -Σ q_j log p_j, with log p_j = z_j - logSum and Σ q_j = 1
        var qz: Float = 0
        if offValue > 0 { for j in 0..<k { qz += z[j] } ; qz *= offValue }
        qz += (onValue - offValue) * z[labels[r]]
        loss += Double(weights[r]) * Double(logSum - qz)
    }
    let value = Tensor(shape: [1], scalars: [Float(loss / Double(totalWeight))])
    let saved = probs
    return Var(value, parents: [logits]) { g in
        var d = saved   // consumed copy-on-write: the saved probabilities are copied once here
        let dp = d.mutablePointer(), g0 = g[flat: 0]
        for r in 0..<n {
            let f = g0 * weights[r] / totalWeight
            let row = dp + r * k
            for j in 0..<k { row[j] = (row[j] - offValue) * f }
            row[labels[r]] -= (onValue - offValue) * f
        }
        return [d]
    }
}

/// Multi-label sigmoid cross-entropy on logits [N, K] with targets in [0, 1] of the same shape:
/// Σ over labels of max(z,0) - z·t + log(1 + e^{-|z|}), divided by the batch size N (Caffe's
/// SigmoidCrossEntropyLoss normalisation). Gradient (σ(z) - t) / N. Result [1].
public func sigmoidCrossEntropy(logits: Var, targets: Tensor) -> Var {
    check(logits.shape == targets.shape && logits.shape.count >= 1,
          "sigmoidCrossEntropy: logits \(logits.shape) vs targets \(targets.shape)")
    let n = logits.shape[0], count = logits.value.count
    let zp = logits.value.pointer, tp = targets.pointer
    var loss: Double = 0
    for i in 0..<count {
        let z = zp[i]
        loss += Double(max(z, 0) - z * tp[i] + log1p(exp(-abs(z))))
    }
    let value = Tensor(shape: [1], scalars: [Float(loss / Double(n))])
    return Var(value, parents: [logits]) { g in
        var d = Tensor(uninitializedShape: logits.shape)
        let dp = d.mutablePointer(), f = g[flat: 0] / Float(n)
        let zp = logits.value.pointer, tp = targets.pointer   // the closure keeps both tensors alive
        for i in 0..<count { dp[i] = (1 / (1 + exp(-zp[i])) - tp[i]) * f }
        return [d]
    }
}

/// Caffe's EuclideanLoss: Σ (prediction - target)² / (2N), N the batch size. Gradient (p - t) / N. Result [1].
public func euclideanLoss(_ prediction: Var, _ target: Tensor) -> Var {
    check(prediction.shape == target.shape && prediction.shape.count >= 1,
          "euclideanLoss: prediction \(prediction.shape) vs target \(target.shape)")
    let n = prediction.shape[0], count = target.count
    var diff = Tensor(uninitializedShape: target.shape)
    let pp = prediction.value.pointer, tp = target.pointer, dp = diff.mutablePointer()
    for i in 0..<count { dp[i] = pp[i] - tp[i] }
    let ss = Reductions.dot(diff.pointer, diff.pointer, count)
    let value = Tensor(shape: [1], scalars: [ss / Float(2 * n)])
    let saved = diff
    return Var(value, parents: [prediction]) { g in
        var d = saved
        d.scaleInPlace(g[flat: 0] / Float(n))
        return [d]
    }
}

/// The loss a recipe or the CLI names; each maps (output, integer labels) to a scalar [1].
public enum Loss: String, Codable, Sendable, CaseIterable {
    /// softmaxCrossEntropy on logits.
    case softmax
    /// sigmoidCrossEntropy against one-hot targets.
    case sigmoid
    /// euclideanLoss against one-hot targets.
    case euclidean

    public func callAsFunction(_ output: Var, labels: [Int], labelSmoothing: Float = 0, classWeights: [Float]? = nil) -> Var {
        switch self {
        case .softmax:
            return softmaxCrossEntropy(logits: output, labels: labels, labelSmoothing: labelSmoothing, classWeights: classWeights)
        case .sigmoid:
            return sigmoidCrossEntropy(logits: output, targets: oneHot(labels, classes: output.shape.last ?? 0))
        case .euclidean:
            return euclideanLoss(output, oneHot(labels, classes: output.shape.last ?? 0))
        }
    }
}

/// [N, classes] one-hot rows.
public func oneHot(_ labels: [Int], classes: Int) -> Tensor {
    var t = Tensor(zeros: [labels.count, classes])
    let p = t.mutablePointer()
    for (r, l) in labels.enumerated() {
        check(l >= 0 && l < classes, "oneHot: label \(l) outside 0..<\(classes)")
        p[r * classes + l] = 1
    }
    return t
}
