import Testing
import TensorCore
@testable import NN

private func makeConv(_ c: Int, _ o: Int, kernel: (Int, Int), stride: (Int, Int) = (1, 1), padding: Padding = .valid,
                      useBias: Bool = true, groups: Int = 1, seed: UInt64 = 3) -> Conv2D {
    var rng = SeededRandom(seed: seed)
    let conv = Conv2D(inChannels: c, outChannels: o, kernelSize: kernel, strides: stride, padding: padding,
                      useBias: useBias, groups: groups, rng: &rng)
    // non-zero bias so its gradient path is exercised with a non-trivial forward
    if let b = conv.bias { b.value = randomTensor(b.shape, seed: seed + 1, scale: 0.5) }
    return conv
}

/// Direct 7-loop convolution (the reference).
private func naiveConv(_ x: Tensor, _ w: Tensor, _ b: Tensor?, stride: Int, pad: (Int, Int, Int, Int), groups: Int) -> Tensor {
    let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (o, cg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
    let oh = (h + pad.0 + pad.1 - kh) / stride + 1, ow = (wd + pad.2 + pad.3 - kw) / stride + 1
    var out = [Float](repeating: 0, count: n * o * oh * ow)
    let og = o / groups
    for b0 in 0..<n { for oc in 0..<o { for y in 0..<oh { for xx in 0..<ow {
        var s: Float = b?[flat: oc] ?? 0
        let grp = oc / og
        for ci in 0..<cg { for ky in 0..<kh { for kx in 0..<kw {
            let iy = y * stride - pad.0 + ky, ix = xx * stride - pad.2 + kx
            if iy < 0 || iy >= h || ix < 0 || ix >= wd { continue }
            s += x[flat: ((b0 * c + grp * cg + ci) * h + iy) * wd + ix] * w[flat: ((oc * cg + ci) * kh + ky) * kw + kx]
        } } }
        out[((b0 * o + oc) * oh + y) * ow + xx] = s
    } } } }
    _ = c
    return Tensor(shape: [n, o, oh, ow], scalars: out)
}

@Test func convForwardMatchesNaiveLoop() {
    let conv = makeConv(4, 6, kernel: (3, 3), stride: (2, 2), padding: .explicit(top: 1, bottom: 0, left: 2, right: 1), groups: 2)
    let x = randomTensor([2, 4, 7, 6], seed: 11)
    let y = conv(Var(x)).value
    let ref = naiveConv(x, conv.weight.value, conv.bias!.value, stride: 2, pad: (1, 0, 2, 1), groups: 2)
    #expect(y.shape == ref.shape)
    #expect(y.maxAbsDifference(ref) < 1e-5)
}

@Test func convHandComputed() {
    // 1x1x3x3 input, 2x2 kernel of ones, bias 1: each output is the window sum + 1.
    var rng = SeededRandom(seed: 0)
    let conv = Conv2D(inChannels: 1, outChannels: 1, kernel: 2, rng: &rng)
    conv.weight.value = Tensor(shape: [1, 1, 2, 2], repeating: 1)
    conv.bias!.value = Tensor(shape: [1], scalars: [1])
    let y = conv(Var(Tensor(shape: [1, 1, 3, 3], scalars: [1, 2, 3, 4, 5, 6, 7, 8, 9])))
    #expect(y.value.scalars == [13, 17, 25, 29])
}

@Test(arguments: [
    ("valid stride 1", (3, 3), (1, 1), Padding.valid, true, 1),
    ("same stride 2 (asymmetric)", (3, 3), (2, 2), Padding.same, true, 1),
    ("explicit asymmetric", (2, 3), (1, 2), Padding.explicit(top: 0, bottom: 2, left: 1, right: 0), true, 1),
    ("groups, no bias", (3, 3), (1, 1), Padding.symmetric(1), false, 2),
    ("1x1 pointwise", (1, 1), (1, 1), Padding.valid, true, 1),
    ("1x7 same (InceptionV3)", (1, 7), (1, 1), Padding.same, false, 1),
    ("3x1 same stride 2", (3, 1), (2, 2), Padding.same, false, 1),
])
func convGradients(_ name: String, _ k: (Int, Int), _ s: (Int, Int), _ p: Padding, _ bias: Bool, _ groups: Int) {
    let conv = makeConv(4, 6, kernel: k, stride: s, padding: p, useBias: bias, groups: groups)
    let xp = Parameter(randomTensor([2, 4, 6, 5], seed: 21))
    gradCheck([xp, conv.weight] + (conv.bias.map { [$0] } ?? [])) { conv(Var(xp)) }
}

@Test(arguments: [Activation.relu, .tanh, .sigmoid, .leakyReLU(), .elu(), .absTanh, .softmax])
func convFusedActivationGradients(_ act: Activation) {
    let conv = makeConv(2, 3, kernel: (3, 3), padding: .same)
    conv.fusedActivation = act
    let xp = Parameter(randomTensor([2, 2, 4, 4], seed: 5))
    // fused result equals conv followed by the activation op
    conv.fusedActivation = nil
    let plain = activation(conv(Var(xp.value)), act).value
    conv.fusedActivation = act
    #expect(conv(Var(xp.value)).value.maxAbsDifference(plain) < 1e-6)
    gradCheck([xp, conv.weight, conv.bias!], eps: 1e-3, tolerance: 2e-2) { conv(Var(xp)) }
}

@Test func sameShapesFollowTheKerasRule() throws {
    #expect(Padding.sameAmounts(input: 64, kernel: 11, stride: 4) == (3, 4))
    #expect(Padding.sameAmounts(input: 7, kernel: 3, stride: 2) == (1, 1))
    #expect(Padding.sameAmounts(input: 6, kernel: 3, stride: 2) == (0, 1))
    #expect(Padding.sameAmounts(input: 5, kernel: 1, stride: 2) == (0, 0))
    var rng = SeededRandom(seed: 0)
    let alex = Conv2D(inChannels: 3, outChannels: 8, kernel: 11, stride: 4, padding: .same, rng: &rng)
    #expect(try alex.outputShape(for: [1, 3, 64, 64]) == [1, 8, 16, 16])
    let g = try alex.geometry(for: [1, 3, 64, 64])
    #expect((g.padTop, g.padBottom, g.padLeft, g.padRight) == (3, 4, 3, 4))
    let small = Conv2D(inChannels: 3, outChannels: 8, kernel: 3, stride: 2, padding: .same, rng: &rng)
    #expect(try small.outputShape(for: [2, 3, 7, 7]) == [2, 8, 4, 4])
    let valid = Conv2D(inChannels: 3, outChannels: 8, kernel: 3, stride: 2, rng: &rng)
    #expect(try valid.outputShape(for: [2, 3, 7, 7]) == [2, 8, 3, 3])
    #expect(small(Var(Tensor(zeros: [2, 3, 7, 7]))).shape == [2, 8, 4, 4])
}

@Test func emptyOutputAndChannelMismatchThrowNamingTheLayer() {
    var rng = SeededRandom(seed: 0)
    let conv = Conv2D(inChannels: 1, outChannels: 2, kernel: 5, rng: &rng)
    let msg = shapeErrorMessage { try conv.outputShape(for: [1, 1, 3, 3]) }
    #expect(msg.contains("Conv2D(1->2, 5x5)") && msg.contains("[1, 1, 3, 3]") && msg.contains("empty"))
    #expect(shapeErrorMessage { try conv.outputShape(for: [1, 3, 8, 8]) }.contains("has 3 channels, expected 1"))
    let seq = Sequential(named: [("conv1", conv)])
    #expect(shapeErrorMessage { try seq.outputShape(for: [1, 1, 3, 3]) }.hasPrefix("conv1 (Conv2D(1->2, 5x5))"))
    #expect(shapeErrorMessage { try conv.outputShape(for: [1, 1, 5, 5]) } == "")
}

@Test func frozenConvGetsNoGradientAndNoInputGradientWork() {
    let trunk = makeConv(2, 3, kernel: (3, 3), padding: .same, seed: 1)
    let head = makeConv(3, 2, kernel: (1, 1), seed: 2)
    trunk.weight.isFrozen = true
    trunk.bias!.isFrozen = true
    let x = Var(randomTensor([1, 2, 4, 4], seed: 3))
    let h = trunk(x)
    #expect(!h.requiresGrad)                       // nothing below needs a gradient: no tape at all
    let y = head(h)
    let grads = y.pullback!(Tensor(shape: y.shape, repeating: 1))
    #expect(grads[0] == nil)                        // conv2dBackwardData skipped for the constant input
    #expect(grads[1] != nil && grads[2] != nil)
    y.backward()
    #expect(trunk.weight.grad == nil && trunk.bias!.grad == nil)
    #expect(head.weight.grad != nil && head.bias!.grad != nil)

    // Frozen weight, trainable bias (BitFit): only the bias gradient is produced, and it is right.
    head.zeroGrad()
    head.weight.isFrozen = true
    let y2 = head(Var(randomTensor([2, 3, 4, 4], seed: 4)))
    let g2 = y2.pullback!(Tensor(shape: y2.shape, repeating: 1))
    #expect(g2[0] == nil && g2[1] == nil)
    #expect(g2[2]?.scalars == [32, 32])              // 2 images x 16 positions
}

@Test func initialisersFollowKeras() {
    var rng = SeededRandom(seed: 9)
    let conv = Conv2D(inChannels: 16, outChannels: 32, kernel: 3, rng: &rng)
    let limit = (6.0 / Float(16 * 9 + 32 * 9)).squareRoot()
    let w = conv.weight.value.scalars
    #expect(w.allSatisfy { abs($0) <= limit } && w.contains { abs($0) > 0.9 * limit })
    #expect(conv.bias!.value.scalars.allSatisfy { $0 == 0 })
    let he = Conv2D(inChannels: 16, outChannels: 64, kernel: 3, initializer: .heNormal, rng: &rng).weight.value.scalars
    let std = (he.map { $0 * $0 }.reduce(0, +) / Float(he.count)).squareRoot()
    #expect(abs(std - (2.0 / 144).squareRoot()) < 0.01)
    #expect(he.allSatisfy { abs($0) <= 2 * (2.0 / 144).squareRoot() / 0.8796 + 1e-6 })
}

@Test func denseGradientsAndFusedSoftmax() {
    var rng = SeededRandom(seed: 4)
    let dense = Dense(inputSize: 5, outputSize: 3, rng: &rng)
    dense.bias!.value = randomTensor([3], seed: 8)
    let xp = Parameter(randomTensor([4, 5], seed: 6))
    gradCheck([xp, dense.weight, dense.bias!]) { dense(Var(xp)) }
    dense.fusedActivation = .softmax
    let y = dense(Var(xp.value)).value
    for r in 0..<4 { #expect(abs((0..<3).map { y[flat: r * 3 + $0] }.reduce(0, +) - 1) < 1e-5) }
    gradCheck([xp, dense.weight, dense.bias!], eps: 1e-3) { dense(Var(xp)) }
}

@Test func zeroPaddingValuesShapeAndGradient() throws {
    let pad = ZeroPadding2D(top: 1, bottom: 0, left: 0, right: 2)
    #expect(try pad.outputShape(for: [1, 1, 2, 2]) == [1, 1, 3, 4])
    #expect(try ZeroPadding2D(3).outputShape(for: [2, 3, 5, 5]) == [2, 3, 11, 11])
    let y = pad(Var(Tensor(shape: [1, 1, 2, 2], scalars: [1, 2, 3, 4])))
    #expect(y.value.scalars == [0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0])
    let xp = Parameter(randomTensor([2, 2, 3, 2], seed: 1))
    gradCheck([xp]) { pad(Var(xp)) }
    #expect(shapeErrorMessage { try pad.outputShape(for: [1, 2, 2]) }.contains("ZeroPadding2D"))
}
