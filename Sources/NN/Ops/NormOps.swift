import TensorCore

/// Batch normalisation with batch statistics: y = gamma * (x - mean) / sqrt(var + eps) + beta, per
/// channel (axis 1) over N and spatial positions; var is the biased batch variance. Returns the
/// output and the batch mean and biased variance (for the running averages).
public func batchNormTraining(_ x: Var, gamma: Var, beta: Var, epsilon: Float) -> (output: Var, mean: Tensor, variance: Tensor) {
    let (n, c, s) = channelLayout(x.shape, op: "batchNorm")
    check(gamma.shape == [c] && beta.shape == [c], "batchNorm: gamma \(gamma.shape), beta \(beta.shape) for \(c) channels")
    check(n * s > 1, "batchNorm: training needs more than one value per channel, got input \(x.shape)")
    var mean = Tensor(uninitializedShape: [c]), variance = Tensor(uninitializedShape: [c])
    BatchNormKernels.meanVariance(x.value.pointer, batch: n, channels: c, spatial: s,
                                  mean: mean.mutablePointer(), variance: variance.mutablePointer())
    let (invStd, scale, shift) = foldedAffine(mean: mean, variance: variance, gamma: gamma.value, beta: beta.value, epsilon: epsilon)
    var y = Tensor(uninitializedShape: x.shape)
    BatchNormKernels.scaleShift(x: x.value.pointer, y: y.mutablePointer(), batch: n, channels: c, spatial: s,
                                scale: scale.pointer, shift: shift.pointer)
    let savedMean = mean, savedInvStd = invStd
    // `mask` (a following ReLU's output, when fused) zeroes dy where the ReLU was off, inside the kernels.
    func pullback(_ dy: Tensor, mask: Tensor?) -> [Tensor?] {
        var sumDy = Tensor(uninitializedShape: [c]), sumDyXhat = Tensor(uninitializedShape: [c])
        let mp = mask?.pointer
        BatchNormKernels.gradientSums(x: x.value.pointer, dy: dy.pointer, mask: mp, batch: n, channels: c, spatial: s,
                                      mean: savedMean.pointer, invStd: savedInvStd.pointer,
                                      sumDy: sumDy.mutablePointer(), sumDyXhat: sumDyXhat.mutablePointer())
        var dx: Tensor? = nil
        if x.requiresGrad {
            var t = Tensor(uninitializedShape: x.shape)
            BatchNormKernels.trainingInputGradient(x: x.value.pointer, dy: dy.pointer, mask: mp, dx: t.mutablePointer(),
                                                   batch: n, channels: c, spatial: s, mean: savedMean.pointer,
                                                   invStd: savedInvStd.pointer, gamma: gamma.value.pointer,
                                                   sumDy: sumDy.pointer, sumDyXhat: sumDyXhat.pointer)
            dx = t
        }
        withExtendedLifetime(mask) {}
        return [dx, gamma.requiresGrad ? sumDyXhat : nil, beta.requiresGrad ? sumDy : nil]
    }
    let out = Var(y, parents: [x, gamma, beta], pullback: { dy in pullback(dy, mask: nil) },
                  reluPullback: { dy, y in pullback(dy, mask: y) })
    return (out, mean, variance)
}

/// Batch normalisation with fixed statistics (inference, or a frozen BN): y = x * scale + shift with
/// scale = gamma / sqrt(var + eps), shift = beta - mean * scale.
public func batchNormInference(_ x: Var, gamma: Var, beta: Var, mean: Tensor, variance: Tensor, epsilon: Float) -> Var {
    let (n, c, s) = channelLayout(x.shape, op: "batchNorm")
    check(gamma.shape == [c] && beta.shape == [c] && mean.shape == [c] && variance.shape == [c],
          "batchNorm: gamma \(gamma.shape), beta \(beta.shape), mean \(mean.shape), variance \(variance.shape) for \(c) channels")
    let (invStd, scale, shift) = foldedAffine(mean: mean, variance: variance, gamma: gamma.value, beta: beta.value, epsilon: epsilon)
    var y = Tensor(uninitializedShape: x.shape)
    BatchNormKernels.scaleShift(x: x.value.pointer, y: y.mutablePointer(), batch: n, channels: c, spatial: s,
                                scale: scale.pointer, shift: shift.pointer)
    let savedScale = scale, savedInvStd = invStd
    // The input is read only for the gamma/beta gradients (not at all below a frozen BatchNorm).
    let needX = x.requiresGrad, needGamma = gamma.requiresGrad, needBeta = beta.requiresGrad
    let input: Tensor? = needGamma || needBeta ? x.value : nil
    return Var(y, parents: [x, gamma, beta]) { dy in
        var dx: Tensor? = nil, dGamma: Tensor? = nil, dBeta: Tensor? = nil
        if needX {
            var t = Tensor(uninitializedShape: dy.shape)
            BatchNormKernels.scaleShift(x: dy.pointer, y: t.mutablePointer(), batch: n, channels: c, spatial: s,
                                        scale: savedScale.pointer, shift: nil)
            dx = t
        }
        if let input {
            var sumDy = Tensor(uninitializedShape: [c]), sumDyXhat = Tensor(uninitializedShape: [c])
            BatchNormKernels.gradientSums(x: input.pointer, dy: dy.pointer, batch: n, channels: c, spatial: s,
                                          mean: mean.pointer, invStd: savedInvStd.pointer,
                                          sumDy: sumDy.mutablePointer(), sumDyXhat: sumDyXhat.mutablePointer())
            if needGamma { dGamma = sumDyXhat }
            if needBeta { dBeta = sumDy }
        }
        return [dx, dGamma, dBeta]
    }
}

/// Local response normalisation across channels (Caffe/AlexNet; `alpha` is divided by `size`):
/// y_c = x_c / (k + alpha/size * Σ_{j=c-(size-1)/2}^{c+size/2} x_j²)^beta.
public func localResponseNorm(_ x: Var, size: Int, alpha: Float, beta: Float, k: Float) -> Var {
    check(x.shape.count == 4, "localResponseNorm: expected NCHW input, got \(x.shape)")
    check(size >= 1, "localResponseNorm: size \(size)")
    let (n, c, s) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
    var y = Tensor(uninitializedShape: x.shape)
    LRNKernels.forward(x: x.value.pointer, y: y.mutablePointer(), batch: n, channels: c, spatial: s,
                       size: size, alpha: alpha, beta: beta, k: k)
    return Var(y, parents: [x]) { dy in
        var dx = Tensor(uninitializedShape: x.shape)
        LRNKernels.backward(x: x.value.pointer, dy: dy.pointer, dx: dx.mutablePointer(), batch: n, channels: c, spatial: s,
                            size: size, alpha: alpha, beta: beta, k: k)
        return [dx]
    }
}

/// Per-channel 1/sqrt(var + eps), scale = gamma * invStd and shift = beta - mean * scale: batch
/// normalisation folded into one multiply-add per element.
func foldedAffine(mean: Tensor, variance: Tensor, gamma: Tensor, beta: Tensor, epsilon: Float)
    -> (invStd: Tensor, scale: Tensor, shift: Tensor) {
    let c = mean.count
    var invStd = Tensor(uninitializedShape: [c]), scale = Tensor(uninitializedShape: [c]), shift = Tensor(uninitializedShape: [c])
    let m = mean.pointer, v = variance.pointer, gp = gamma.pointer, bp = beta.pointer
    let ip = invStd.mutablePointer(), sp = scale.mutablePointer(), tp = shift.mutablePointer()
    for i in 0..<c {
        ip[i] = 1 / (v[i] + epsilon).squareRoot()
        sp[i] = gp[i] * ip[i]
        tp[i] = bp[i] - m[i] * sp[i]
    }
    return (invStd, scale, shift)
}
