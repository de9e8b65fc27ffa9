import Foundation
import Testing
import TensorCore
@testable import NN

@Test(arguments: [("ReLU", 0), ("LeakyReLU", 1), ("ELU", 2), ("Tanh", 3), ("AbsTanh", 4), ("Sigmoid", 5), ("Softmax", 6)])
func activationLayerGradients(_ name: String, _ index: Int) {
    let layers: [ActivationLayer] = [ReLU(), LeakyReLU(alpha: 0.2), ELU(alpha: 0.7), Tanh(), AbsTanh(), Sigmoid(), Softmax()]
    let layer = layers[index]
    for shape in [[3, 5], [2, 3, 2, 2]] {
        let xp = Parameter(awayFromZero(shape, seed: 7, margin: 0.05))
        gradCheck([xp], eps: 1e-3) { layer(Var(xp)) }
    }
}

@Test func activationValuesByHand() {
    let x = Var(Tensor(shape: [1, 4], scalars: [-2, -0.5, 0, 1.5]))
    #expect(ReLU()(x).value.scalars == [0, 0, 0, 1.5])
    #expect(close(LeakyReLU()(x).value.scalars, [-0.6, -0.15, 0, 1.5]))
    let eluExpected: [Float] = [2 * expm1(Float(-2)), 2 * expm1(Float(-0.5)), 0, 1.5]
    #expect(close(ELU(alpha: 2)(x).value.scalars, eluExpected))
    #expect(close(Tanh()(x).value.scalars, [tanh(-2), tanh(-0.5), 0, tanh(1.5)]))
    #expect(close(AbsTanh()(x).value.scalars, [tanh(2), tanh(0.5), 0, tanh(1.5)]))
    let sig: [Float] = [-2, -0.5, 0, 1.5].map { (v: Float) -> Float in 1 / (1 + exp(-v)) }
    #expect(close(Sigmoid()(x).value.scalars, sig))
    #expect(ActivationLayer(.linear)(x) === x)
}

@Test func softmaxNormalisesChannelsAndIsStable() {
    let y = Softmax()(Var(Tensor(shape: [2, 3], scalars: [1, 2, 3, 1000, 1000, 1000]))).value.scalars
    let e: [Float] = [exp(Float(-2)), exp(Float(-1)), 1]
    let s: Float = e.reduce(0, +)
    let expected: [Float] = e.map { $0 / s }
    let third: [Float] = [1.0 / 3, 1.0 / 3, 1.0 / 3]
    #expect(close(Array(y[0..<3]), expected))
    #expect(close(Array(y[3..<6]), third))
    // NCHW: normalised over channels at every pixel
    let z = Softmax()(Var(randomTensor([2, 4, 3, 3], seed: 2, scale: 5))).value
    for n in 0..<2 { for p in 0..<9 {
        let total = (0..<4).map { z[flat: (n * 4 + $0) * 9 + p] }.reduce(0, +)
        #expect(abs(total - 1) < 1e-5)
    } }
    #expect(shapeErrorMessage { try Softmax().outputShape(for: [5]) }.contains("Softmax"))
}

@Test func reluGradientIsMaskedByTheInput() {
    let xp = Parameter(Tensor(shape: [1, 4], scalars: [-1, 2, -3, 4]))
    let y = relu(Var(xp))
    y.backward(seed: Tensor(shape: [1, 4], scalars: [10, 20, 30, 40]))
    #expect(xp.grad?.scalars == [0, 20, 0, 40])
    // |tanh| flips the sign of the tanh gradient for negative inputs
    xp.zeroGrad()
    absTanh(Var(xp)).backward()
    let g = xp.grad!.scalars
    #expect(g[0] < 0 && g[1] > 0 && g[2] < 0 && g[3] > 0)
}

@Test func vectorMathMatchesLibm() {
    var worstExp: Float = 0, worstTanh: Float = 0, worstSig: Float = 0
    var x: Float = -20
    while x < 20 {
        let v = SIMD8<Float>((0..<8).map { x + Float($0) * 0.0013 })
        let e = VectorMath.exp(v), t = VectorMath.tanh(v), s = VectorMath.sigmoid(v)
        for i in 0..<8 {
            worstExp = max(worstExp, abs(e[i] - exp(v[i])) / exp(v[i]))
            worstTanh = max(worstTanh, abs(t[i] - tanh(v[i])) / max(abs(tanh(v[i])), 1e-30))
            worstSig = max(worstSig, abs(s[i] - 1 / (1 + exp(-v[i]))))
        }
        x += 0.0107
    }
    #expect(worstExp < 1e-6 && worstTanh < 1e-6 && worstSig < 1e-6, "exp \(worstExp) tanh \(worstTanh) sigmoid \(worstSig)")
    let extremes = VectorMath.exp(SIMD8<Float>(-200, -88, -50, 0, 50, 88, 200, 1))
    #expect(extremes[3] == 1 && extremes[0] >= 0 && extremes[0] < 1e-37 && extremes[6].isFinite)
    #expect(VectorMath.tanh(SIMD8<Float>(repeating: 30)) == SIMD8<Float>(repeating: 1))
}

@Test func relu6ClipsAtZeroAndSix() {
    let x = Var(Tensor(shape: [1, 5], scalars: [-2, 0.5, 5.5, 6.5, 100]))
    #expect(ReLU6()(x).value.scalars == [0, 0.5, 5.5, 6, 6])
    // Both flat regions pass no gradient (TensorFlow's Relu6Grad).
    let xp = Parameter(x.value)
    relu6(Var(xp)).backward(seed: Tensor(shape: [1, 5], scalars: [10, 20, 30, 40, 50]))
    #expect(xp.grad?.scalars == [0, 20, 30, 0, 0])
}

@Test func relu6GradientMatchesFiniteDifferences() {
    // Values spread over [-9, 9], kept 0.05 away from both kinks (0 and 6) so the stencil stays on one side.
    let raw = randomTensor([2, 3, 4, 4], seed: 17, scale: 9)
    let x = raw.map { v -> Float in
        var v = v
        if abs(v) < 0.05 { v = v >= 0 ? 0.05 : -0.05 }
        if abs(v - 6) < 0.05 { v = v >= 6 ? 6.05 : 5.95 }
        return v
    }
    #expect(x.scalars.contains { $0 > 6 } && x.scalars.contains { $0 < 0 } && x.scalars.contains { $0 > 0 && $0 < 6 })
    let xp = Parameter(x)
    gradCheck([xp], eps: 1e-3) { ReLU6()(Var(xp)) }
    // Fused into a convolution it is the same function and gradient.
    var rng = SeededRandom(seed: 3)
    let conv = Conv2D(inChannels: 3, outChannels: 4, kernel: 3, padding: .same, rng: &rng)
    let big = Parameter(randomTensor([2, 3, 5, 5], seed: 4, scale: 8))
    let plain = relu6(conv(Var(big.value))).value
    conv.fusedActivation = .relu6
    #expect(conv(Var(big.value)).value.maxAbsDifference(plain) < 1e-6)
    #expect(plain.scalars.contains { $0 == 6 } && plain.scalars.contains { $0 == 0 })
    gradCheck([big, conv.weight, conv.bias!], eps: 1e-3, tolerance: 2e-2) { conv(Var(big)) }
}
