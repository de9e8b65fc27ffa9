import Foundation
import Testing
import TensorCore
@testable import NN

private func randomBN(_ c: Int, convention: MomentumConvention = .keras, momentum: Float = 0.99) -> BatchNorm {
    let bn = BatchNorm(channels: c, epsilon: 1e-3, momentum: momentum, convention: convention)
    bn.weight.value = randomTensor([c], seed: 1).map { 1 + 0.5 * $0 }
    bn.bias.value = randomTensor([c], seed: 2)
    bn.runningMean.value = randomTensor([c], seed: 3, scale: 0.3)
    bn.runningVar.value = randomTensor([c], seed: 4).map { 1 + 0.5 * $0 }
    return bn
}

@Test(arguments: [[4, 3, 3, 2], [6, 3]])
func batchNormTrainingGradients(_ shape: [Int]) {
    let bn = randomBN(3)
    #expect(bn.usesBatchStatistics)
    let xp = Parameter(randomTensor(shape, seed: 9, scale: 2))
    gradCheck([xp, bn.weight, bn.bias], eps: 1e-2, tolerance: 2e-2) { bn(Var(xp)) }
}

@Test(arguments: [[4, 3, 3, 2], [6, 3]])
func batchNormInferenceGradients(_ shape: [Int]) {
    let bn = randomBN(3)
    bn.setTraining(false)
    let xp = Parameter(randomTensor(shape, seed: 9, scale: 2))
    gradCheck([xp, bn.weight, bn.bias]) { bn(Var(xp)) }
}

private func channelStats(_ t: Tensor, _ c: Int) -> (mean: [Double], biasedVar: [Double], count: Int) {
    let (n, s) = (t.shape[0], t.count / (t.shape[0] * c))
    var mean = [Double](repeating: 0, count: c), v = [Double](repeating: 0, count: c)
    for ch in 0..<c { for b in 0..<n { for i in 0..<s { mean[ch] += Double(t[flat: (b * c + ch) * s + i]) } } }
    for ch in 0..<c { mean[ch] /= Double(n * s) }
    for ch in 0..<c { for b in 0..<n { for i in 0..<s { let d = Double(t[flat: (b * c + ch) * s + i]) - mean[ch]; v[ch] += d * d } } }
    for ch in 0..<c { v[ch] /= Double(n * s) }
    return (mean, v, n * s)
}

@Test(arguments: [MomentumConvention.keras, .pytorch])
func batchNormTrainingUsesBatchStatisticsAndUpdatesRunningStats(_ convention: MomentumConvention) {
    let momentum: Float = convention == .keras ? 0.9 : 0.1   // both keep 90% of the old value
    let bn = BatchNorm(channels: 2, momentum: momentum, convention: convention)
    bn.runningMean.value = Tensor(shape: [2], scalars: [1, -1])
    bn.runningVar.value = Tensor(shape: [2], scalars: [2, 3])
    let x = randomTensor([3, 2, 2, 2], seed: 5, scale: 3)
    let (mean, biasedVar, m) = channelStats(x, 2)
    let y = bn(Var(x)).value
    let (ym, yv, _) = channelStats(y, 2)
    for c in 0..<2 {
        #expect(abs(ym[c]) < 1e-5)                                   // gamma 1, beta 0: normalised
        #expect(abs(yv[c] - biasedVar[c] / (biasedVar[c] + 1e-3)) < 1e-4)  // biased variance, epsilon inside
        let batchVar = convention == .keras ? biasedVar[c] : biasedVar[c] * Double(m) / Double(m - 1)
        let old = ([1.0, -1.0][c], [2.0, 3.0][c])
        #expect(abs(Double(bn.runningMean.value[flat: c]) - (0.9 * old.0 + 0.1 * mean[c])) < 1e-5)
        #expect(abs(Double(bn.runningVar.value[flat: c]) - (0.9 * old.1 + 0.1 * batchVar)) < 1e-5)
    }
}

@Test func batchNormInferenceUsesRunningStatsAndFrozenBNIsInferenceEvenWhenTraining() {
    let bn = BatchNorm(channels: 2)
    bn.weight.value = Tensor(shape: [2], scalars: [2, 1])
    bn.bias.value = Tensor(shape: [2], scalars: [0.5, 0])
    bn.runningMean.value = Tensor(shape: [2], scalars: [1, -1])
    bn.runningVar.value = Tensor(shape: [2], scalars: [4 - 1e-3, 1 - 1e-3])   // sqrt(var + eps) = 2, 1
    let x = Var(Tensor(shape: [1, 2, 1, 2], scalars: [3, 5, 0, 1]))
    let expected: [Float] = [2 * (3 - 1) / 2 + 0.5, 2 * (5 - 1) / 2 + 0.5, 0 + 1, 1 + 1]
    bn.setTraining(false)
    #expect(close(bn(x).value.scalars, expected))
    #expect(bn.runningMean.value.scalars == [1, -1])          // no update in inference
    bn.setTraining(true)
    #expect(!close(bn(x).value.scalars, expected))            // batch statistics differ
    bn.runningMean.value = Tensor(shape: [2], scalars: [1, -1])
    bn.runningVar.value = Tensor(shape: [2], scalars: [4 - 1e-3, 1 - 1e-3])
    #expect(bn.freeze(where: { _ in true }) == 2)
    #expect(bn.isTraining && !bn.usesBatchStatistics)
    let y = bn(x)
    #expect(close(y.value.scalars, expected))
    #expect(bn.runningMean.value.scalars == [1, -1] && bn.runningVar.value.scalars == [4 - 1e-3, 1 - 1e-3])
    #expect(!y.requiresGrad)                                  // frozen BN on a constant input: no tape
    #expect(bn.namedParameters().map(\.0) == ["weight", "bias", "runningMean", "runningVar"])
    #expect(bn.namedParameters().filter { $0.1.kind == .buffer }.count == 2)
}

@Test func batchNormShapeErrors() {
    #expect(shapeErrorMessage { try BatchNorm(channels: 4).outputShape(for: [2, 3, 5, 5]) }.contains("BatchNorm(4)"))
    #expect(shapeErrorMessage { try BatchNorm(channels: 4).outputShape(for: [2, 4]) } == "")
}

/// Direct Caffe formula.
private func naiveLRN(_ x: Tensor, size: Int, alpha: Float, beta: Float, k: Float) -> [Float] {
    let (n, c, s) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
    var out = [Float](repeating: 0, count: x.count)
    for b in 0..<n { for ch in 0..<c { for i in 0..<s {
        var sum: Float = 0
        for j in (ch - (size - 1) / 2)...(ch + size / 2) where j >= 0 && j < c {
            let v = x[flat: (b * c + j) * s + i]; sum += v * v
        }
        out[(b * c + ch) * s + i] = x[flat: (b * c + ch) * s + i] / pow(k + alpha / Float(size) * sum, beta)
    } } }
    return out
}

@Test(arguments: [(5, Float(0.75)), (4, Float(0.6)), (1, Float(0.75))])
func localResponseNormMatchesCaffeAndGradients(_ size: Int, _ beta: Float) {
    let lrn = LocalResponseNorm(size: size, alpha: 0.5, beta: beta, k: 1.5)   // large alpha so the sum matters
    let xp = Parameter(randomTensor([2, 6, 2, 3], seed: 12, scale: 2))
    #expect(close(lrn(Var(xp.value)).value.scalars, naiveLRN(xp.value, size: size, alpha: 0.5, beta: beta, k: 1.5), tol: 1e-5))
    gradCheck([xp], eps: 1e-2, tolerance: 2e-2) { lrn(Var(xp)) }
    #expect(shapeErrorMessage { try lrn.outputShape(for: [2, 6]) }.contains("LocalResponseNorm"))
}

/// Keras scale=False: gamma stays 1, gets no gradient and is no parameter; x and beta gradients check out.
@Test(arguments: [true, false])
func batchNormWithoutScaleGradients(_ training: Bool) {
    let bn = BatchNorm(channels: 3, epsilon: 1e-3, scale: false)
    bn.bias.value = randomTensor([3], seed: 2)
    bn.runningMean.value = randomTensor([3], seed: 3, scale: 0.3)
    bn.runningVar.value = randomTensor([3], seed: 4).map { 1 + 0.5 * $0 }
    bn.setTraining(training)
    #expect(bn.namedParameters().map(\.0) == ["bias", "runningMean", "runningVar"])
    #expect(bn.usesBatchStatistics == training)
    let xp = Parameter(randomTensor([4, 3, 2, 2], seed: 9, scale: 2))
    gradCheck([xp, bn.bias], eps: 1e-2, tolerance: 2e-2) { bn(Var(xp)) }
    #expect(bn.weight.grad == nil && bn.weight.value.scalars == [1, 1, 1])
    // Freezing reaches beta, which then decides the mode as gamma does with scale.
    bn.freeze { _ in true }
    #expect(!bn.usesBatchStatistics)
}
