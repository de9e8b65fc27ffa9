import Foundation
import Testing
import TensorCore
@testable import NN

@Test(arguments: [(Float(0), false), (0.1, false), (0, true), (0.2, true)])
func softmaxCrossEntropyGradients(_ smoothing: Float, _ weighted: Bool) {
    let zp = Parameter(randomTensor([4, 5], seed: 1, scale: 3))
    let labels = [0, 3, 3, 4]
    let w: [Float]? = weighted ? [1, 0.5, 2, 3, 0.25] : nil
    gradCheck([zp], eps: 1e-3) { softmaxCrossEntropy(logits: Var(zp), labels: labels, labelSmoothing: smoothing, classWeights: w) }
}

/// -Σ q log softmax(z), averaged with sample weights, in Double.
private func referenceCE(_ z: [[Double]], _ labels: [Int], smoothing: Double, weights: [Double]?) -> Double {
    var total = 0.0, wsum = 0.0
    for (row, l) in zip(z, labels) {
        let m = row.max()!
        let lse = log(row.map { exp($0 - m) }.reduce(0, +)) + m
        let k = Double(row.count)
        var loss = 0.0
        for (j, v) in row.enumerated() {
            let q = (j == l ? 1 - smoothing : 0) + smoothing / k
            loss -= q * (v - lse)
        }
        let w = weights?[l] ?? 1
        total += w * loss; wsum += w
    }
    return total / wsum
}

@Test func softmaxCrossEntropyValues() {
    let rows: [[Float]] = [[1, 2, 3], [0.5, -1, 4], [2, 2, 2]]
    let z = Var(Tensor(shape: [3, 3], scalars: rows.flatMap { $0 }))
    let labels = [2, 0, 1]
    let dz = rows.map { $0.map(Double.init) }
    for (s, w) in [(0.0, nil), (0.1, nil), (0.0, [1.0, 2, 0.5]), (0.3, [1.0, 2, 0.5])] as [(Double, [Double]?)] {
        let loss = softmaxCrossEntropy(logits: z, labels: labels, labelSmoothing: Float(s), classWeights: w?.map { Float($0) })
        #expect(loss.shape == [1])
        #expect(abs(Double(loss.value[flat: 0]) - referenceCE(dz, labels, smoothing: s, weights: w)) < 1e-5)
    }
    // uniform logits: log K
    let u = softmaxCrossEntropy(logits: Var(Tensor(zeros: [2, 10])), labels: [3, 7])
    #expect(abs(u.value[flat: 0] - log(10)) < 1e-6)
    // huge logits stay finite
    let big = softmaxCrossEntropy(logits: Var(Tensor(shape: [1, 3], scalars: [1000, 0, -1000])), labels: [1])
    #expect(abs(big.value[flat: 0] - 1000) < 1e-3)
    // fused gradient (p - onehot) / N
    let zp = Parameter(Tensor(shape: [1, 2], scalars: [0, 0]))
    softmaxCrossEntropy(logits: Var(zp), labels: [1]).backward()
    #expect(zp.grad?.scalars == [0.5, -0.5])
}

@Test func sigmoidCrossEntropyValuesAndGradients() {
    let zp = Parameter(randomTensor([3, 4], seed: 2, scale: 4))
    let t = Tensor(shape: [3, 4], scalars: [1, 0, 0, 1, 0, 0, 1, 0, 0.5, 1, 0, 1])
    gradCheck([zp], eps: 1e-3) { sigmoidCrossEntropy(logits: Var(zp), targets: t) }
    var expected = 0.0
    for i in 0..<12 {
        let z = Double(zp.value[flat: i]), y = Double(t[flat: i]), p = 1 / (1 + exp(-z))
        expected -= y * log(p) + (1 - y) * log(1 - p)
    }
    let loss = sigmoidCrossEntropy(logits: Var(zp.value), targets: t)
    #expect(abs(Double(loss.value[flat: 0]) - expected / 3) < 1e-5)
    let big = sigmoidCrossEntropy(logits: Var(Tensor(shape: [1, 2], scalars: [500, -500])), targets: Tensor(shape: [1, 2], scalars: [0, 0]))
    #expect(abs(big.value[flat: 0] - 500) < 1e-3)
}

@Test func euclideanLossIsCaffeNormalised() {
    let pp = Parameter(Tensor(shape: [2, 2], scalars: [1, 2, 3, 4]))
    let t = Tensor(shape: [2, 2], scalars: [0, 2, 5, 4])
    let loss = euclideanLoss(Var(pp), t)
    #expect(loss.value.scalars == [(1 + 4) / 4])     // Σ d² / (2N), N = 2
    loss.backward()
    #expect(pp.grad?.scalars == [0.5, 0, -1, 0])     // (p - t) / N
    let qp = Parameter(randomTensor([3, 5], seed: 8))
    let target = randomTensor([3, 5], seed: 9)
    gradCheck([qp]) { euclideanLoss(Var(qp), target) }
}

@Test func lossEnumDispatches() {
    let z = Var(randomTensor([2, 3], seed: 4))
    #expect(Loss.softmax(z, labels: [0, 2]).value.scalars == softmaxCrossEntropy(logits: z, labels: [0, 2]).value.scalars)
    let onehot = oneHot([0, 2], classes: 3)
    #expect(onehot.scalars == [1, 0, 0, 0, 0, 1])
    #expect(Loss.sigmoid(z, labels: [0, 2]).value.scalars == sigmoidCrossEntropy(logits: z, targets: onehot).value.scalars)
    #expect(Loss.euclidean(z, labels: [0, 2]).value.scalars == euclideanLoss(z, onehot).value.scalars)
    #expect(Loss(rawValue: "softmax") == .softmax && Loss.allCases.count == 3)
}
