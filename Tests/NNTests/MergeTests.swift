import Testing
import TensorCore
@testable import NN

// Merge layers (Add, Multiply, Concatenate) and the depthwise convolution (a grouped Conv2D with one
// input channel per group) that model graphs use.

@Test func mergeLayersByHand() {
    let a = Var(Tensor(shape: [1, 1, 1, 2], scalars: [1, 2])), b = Var(Tensor(shape: [1, 1, 1, 2], scalars: [3, 5]))
    #expect(Add()([a, b]).value.scalars == [4, 7])
    #expect(Multiply()([a, b]).value.scalars == [3, 10])
    let c = Concatenate()([a, b, a])
    #expect(c.shape == [1, 3, 1, 2] && c.value.scalars == [1, 2, 3, 5, 1, 2])
}

@Test func multiplyGradients() {
    let a = Parameter(awayFromZero([2, 3, 2, 2], seed: 1)), b = Parameter(awayFromZero([2, 3, 2, 2], seed: 2))
    gradCheck([a, b]) { Multiply()([Var(a), Var(b)]) }
}

@Test func concatenateLayerGradients() {
    let a = Parameter(randomTensor([2, 3, 2, 3], seed: 3)), b = Parameter(randomTensor([2, 1, 2, 3], seed: 4))
    let c = Parameter(randomTensor([2, 2, 2, 3], seed: 5))
    gradCheck([a, b, c]) { Concatenate()([Var(a), Var(b), Var(c)]) }
    // Only the inputs that need a gradient get one; the others are constants.
    gradCheck([b]) { Concatenate()([Var(a.value), Var(b), Var(c.value)]) }
}

@Test func mergeShapeErrorsSayWhatDisagrees() {
    #expect(shapeErrorMessage { try Add().outputShape(for: [[1, 2, 3, 3], [1, 2, 4, 4]]) }.contains("inputs disagree"))
    #expect(shapeErrorMessage { try Concatenate().outputShape(for: [[1, 2, 3, 3], [1, 5, 4, 4]]) }.contains("off axis 1"))
    #expect((try? Concatenate().outputShape(for: [[1, 2, 3, 3], [1, 5, 3, 3]])) == [1, 7, 3, 3])
    #expect(shapeErrorMessage { try Multiply().outputShape(for: [[1, 2]]) }.contains("at least 2 inputs"))
}

/// Depthwise: groups = channels, multiplier 1 and 2, bias, stride and 'same' padding.
@Test(arguments: [(1, Padding.valid, 1, true), (2, .same, 2, true), (2, .symmetric(1), 1, false)])
func depthwiseConvGradients(_ multiplier: Int, _ padding: Padding, _ stride: Int, _ bias: Bool) {
    var rng = SeededRandom(seed: 8)
    let c = 3
    let conv = Conv2D(inChannels: c, outChannels: c * multiplier, kernel: 3, stride: stride, padding: padding,
                      useBias: bias, groups: c, rng: &rng)
    if let b = conv.bias { b.value = randomTensor([c * multiplier], seed: 9, scale: 0.1) }
    #expect(conv.weight.shape == [c * multiplier, 1, 3, 3])
    let xp = Parameter(randomTensor([2, c, 5, 6], seed: 10))
    gradCheck([xp, conv.weight] + (conv.bias.map { [$0] } ?? [])) { conv(Var(xp)) }
}

/// Output channel c·m + j of a depthwise convolution sees only input channel c.
@Test func depthwiseChannelsAreIndependent() {
    var rng = SeededRandom(seed: 11)
    let conv = Conv2D(inChannels: 2, outChannels: 4, kernel: 1, useBias: false, groups: 2, rng: &rng)
    conv.weight.value = Tensor(shape: [4, 1, 1, 1], scalars: [1, 2, 3, 4])
    let x = Var(Tensor(shape: [1, 2, 1, 1], scalars: [10, 100]))
    #expect(conv(x).value.scalars == [10, 20, 300, 400])
}
