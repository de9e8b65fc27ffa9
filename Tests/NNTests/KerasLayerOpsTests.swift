import Foundation
import Testing
import TensorCore
@testable import NN

// Finite-difference checks of the ops behind the extra Keras layers, and their values by formula.

@Test(arguments: [Activation.selu, .swish, .gelu, .softplus, .softsign, .exponential, .hardSigmoid(slope: 0.2),
                  .hardSigmoid(slope: 1 / 6), .thresholdedReLU(maxValue: 0.6, slope: 0.1, threshold: 0.2),
                  .thresholdedReLU(maxValue: nil, slope: 0.3, threshold: -0.3)])
func extraActivationGradientsMatchFiniteDifferences(_ f: Activation) {
    // |x| >= 0.1 and no value near the ReLU kinks at ±0.2/0.3/0.6 or the hard sigmoid's ±2.5/±3.
    let xp = Parameter(awayFromZero([2, 3, 4, 4], seed: 21).map { v in
        let a = abs(v)
        return abs(a - 0.2) < 0.02 || abs(a - 0.3) < 0.02 || abs(a - 0.6) < 0.02 ? v * 1.2 : v
    })
    gradCheck([xp], eps: 1e-3) { ActivationLayer(f)(Var(xp)) }
}

@Test func extraActivationValuesByFormula() {
    let x = Tensor(shape: [1, 5], scalars: [-2, -0.5, 0.1, 0.5, 3])
    func run(_ f: Activation) -> [Float] { withoutGradients { activation(Var(x), f).value.scalars } }
    let xs = x.scalars
    func close(_ a: [Float], _ b: [Float]) -> Bool { zip(a, b).allSatisfy { abs($0 - $1) < 1e-5 } }
    #expect(close(run(.selu), xs.map { $0 > 0 ? 1.0507009 * $0 : 1.0507009 * 1.6732632 * (exp($0) - 1) }))
    #expect(close(run(.swish), xs.map { $0 / (1 + exp(-$0)) }))
    let gelu: [Float] = xs.map { v -> Float in let c: Float = erf(v * 0.70710678); return 0.5 * v * (1 + c) }
    #expect(close(run(.gelu), gelu))
    #expect(close(run(.softplus), xs.map { log(1 + exp($0)) }))
    #expect(close(run(.hardSigmoid(slope: 0.2)), xs.map { min(max(0.2 * $0 + 0.5, 0), 1) }))
    // Keras ReLU(max_value=0.4, negative_slope=0.1, threshold=0.2)
    #expect(close(run(.thresholdedReLU(maxValue: 0.4, slope: 0.1, threshold: 0.2)), xs.map { v in
        (v > 0.2 ? min(max(v, 0), 0.4) : 0) - 0.1 * max(0.2 - v, 0)
    }))
}

@Test func mergeGradientsMatchFiniteDifferences() {
    // No ties between the inputs (offsets off the 0.05 grid), so the maximum's winner is clear.
    let a = Parameter(distinctTensor([2, 3, 3], seed: 1)), b = Parameter(distinctTensor([2, 3, 3], seed: 2).map { $0 + 0.013 })
    let c = Parameter(distinctTensor([2, 3, 3], seed: 3, step: 0.07).map { $0 + 0.029 })
    gradCheck([a, b]) { Subtract()([Var(a), Var(b)]) }
    gradCheck([a, b, c]) { Average()([Var(a), Var(b), Var(c)]) }
    gradCheck([a, b, c], eps: 1e-3) { Maximum()([Var(a), Var(b), Var(c)]) }
    let m = withoutGradients { Maximum()([Var(a), Var(b)]).value }
    for i in 0..<m.count { #expect(m[flat: i] == max(a.value[flat: i], b.value[flat: i])) }
}

@Test func channelAffineLayersMatchTheirFormulas() {
    let xp = Parameter(randomTensor([2, 3, 2, 2], seed: 5))
    let r = Rescaling(scale: [0.5, 2, -1], offset: [0.1])
    gradCheck([xp]) { r(Var(xp)) }
    let y = withoutGradients { r(Var(xp)).value }
    let n = Normalization(mean: [0.2, -0.1, 0], variance: [4, 0.25, 1])
    gradCheck([xp]) { n(Var(xp)) }
    let z = withoutGradients { n(Var(xp)).value }
    let scales: [Float] = [0.5, 2, -1], means: [Float] = [0.2, -0.1, 0], sds: [Float] = [2, 0.5, 1]
    for i in 0..<xp.value.count {
        let ch = (i / 4) % 3, v = xp.value[flat: i]
        #expect(abs(y[flat: i] - (v * scales[ch] + 0.1)) < 1e-6)
        #expect(abs(z[flat: i] - (v - means[ch]) / sds[ch]) < 1e-5)
    }
    let inverse = withoutGradients { Normalization(mean: [0.2, -0.1, 0], variance: [4, 0.25, 1], invert: true)(Var(Tensor(shape: [1, 3, 1, 1], scalars: [1, 1, 1]))).value }
    #expect(inverse.scalars == [2.2, 0.4, 1])
}

@Test(arguments: [[3, 4, 4], [3, 1, 1], [1, 1, 1]])
func preluGradientsMatchFiniteDifferences(alphaShape: [Int]) {
    let xp = Parameter(awayFromZero([2, 3, 4, 4], seed: 8))
    let p = PReLU(alphaShape: alphaShape)
    p.alpha.value = randomTensor(alphaShape, seed: 9, scale: 0.5)
    gradCheck([xp, p.alpha], eps: 1e-3) { p(Var(xp)) }
}

@Test func cropAndUpsampleGradientsMatchFiniteDifferences() {
    let xp = Parameter(randomTensor([2, 2, 5, 4], seed: 11))
    gradCheck([xp]) { Cropping2D(top: 1, bottom: 2, left: 0, right: 1)(Var(xp)) }
    gradCheck([xp]) { UpSampling2D(height: 2, width: 3)(Var(xp)) }
    let up = withoutGradients { UpSampling2D(height: 2, width: 3)(Var(xp)).value }
    #expect(up.shape == [2, 2, 10, 12])
    #expect(up[flat: 5 * 12 + 7] == xp.value[flat: 2 * 4 + 2])
    let crop = withoutGradients { Cropping2D(top: 1, bottom: 2, left: 0, right: 1)(Var(xp)).value }
    #expect(crop.shape == [2, 2, 2, 3])
    #expect(crop[flat: 4] == xp.value[flat: 2 * 4 + 1])
}

@Test func dilatedAndSeparableConvolutionGradientsMatchFiniteDifferences() {
    var rng = SeededRandom(seed: 3)
    let xp = Parameter(randomTensor([2, 4, 7, 7], seed: 12))
    let d = DilatedConv2D(inChannels: 4, outChannels: 4, kernel: 3, padding: .same, dilation: 2, groups: 2, rng: &rng)
    d.bias!.value = randomTensor([4], seed: 13, scale: 0.1)
    gradCheck([xp, d.weight, d.bias!], eps: 1e-3, tolerance: 2e-2) { d(Var(xp)) }
    // The dilated convolution equals the convolution with the zero-inserted kernel.
    let dense = Conv2D(inChannels: 4, outChannels: 4, kernel: 5, padding: .same, groups: 2, rng: &rng)
    dense.weight.value = withoutGradients { dilateKernel(Var(d.weight.value), 2).value }
    dense.bias!.value = d.bias!.value
    let a = withoutGradients { d(Var(xp.value)).value }, b = withoutGradients { dense(Var(xp.value)).value }
    #expect(a.shape == [2, 4, 7, 7])
    for i in 0..<a.count { #expect(abs(a[flat: i] - b[flat: i]) < 1e-5) }
    let s = SeparableConv2D(inChannels: 4, outChannels: 3, kernel: 3, stride: 2, padding: .same, multiplier: 2, rng: &rng)
    s.bias!.value = randomTensor([3], seed: 14, scale: 0.1)
    s.fusedActivation = .tanh
    gradCheck([xp, s.depthwiseWeight, s.pointwiseWeight, s.bias!], eps: 1e-3, tolerance: 2e-2) { s(Var(xp)) }
    #expect(withoutGradients { s(Var(xp.value)).value.shape } == [2, 3, 4, 4])
}
