import Testing
import TensorCore
@testable import NN

@Test func flattenKeepsCHWOrderAndRoutesGradients() throws {
    let t = Tensor(shape: [2, 2, 1, 2], scalars: [1, 2, 3, 4, 5, 6, 7, 8])
    let y = Flatten()(Var(t))
    #expect(y.shape == [2, 4] && y.value.scalars == t.scalars)
    #expect(try Flatten().outputShape(for: [5, 512, 7, 7]) == [5, 25088])
    let xp = Parameter(randomTensor([2, 3, 2, 2], seed: 1))
    gradCheck([xp]) { Flatten()(Var(xp)) }
    #expect(shapeErrorMessage { try Flatten().outputShape(for: [7]) }.contains("Flatten"))
}

@Test func addIsTheResidualSum() {
    let a = Parameter(awayFromZero([2, 3, 2, 2], seed: 1)), b = Parameter(randomTensor([2, 3, 2, 2], seed: 2))
    #expect((Var(a.value) + Var(b.value)).value.maxAbsDifference(a.value + b.value) == 0)
    gradCheck([a, b]) { add(relu(Var(a)), Var(b)) }
    // x + x accumulates twice; a constant operand gets no gradient
    let x = Parameter(Tensor(shape: [2], scalars: [1, 2]))
    let v = Var(x)
    add(v, v).backward()
    #expect(x.grad?.scalars == [2, 2])
    let y = add(Var(a), Var(Tensor(zeros: [2, 3, 2, 2])))
    #expect(y.pullback!(Tensor(shape: y.shape, repeating: 1))[1] == nil)
}

@Test(arguments: [0, 1, 2, 3])
func concatValuesAndGradients(_ axis: Int) {
    var s1 = [2, 3, 2, 2], s2 = [2, 3, 2, 2]
    s1[axis] = 1; s2[axis] = 3
    let a = Parameter(randomTensor(s1, seed: 3)), b = Parameter(randomTensor(s2, seed: 4))
    gradCheck([a, b]) { concat([Var(a), Var(b)], axis: axis) }
    var expected = s1; expected[axis] = 4
    #expect(concat([Var(a.value), Var(b.value)], axis: axis).shape == expected)
}

@Test func concatOfChannelsByHand() {
    let a = Var(Tensor(shape: [2, 1, 1, 2], scalars: [1, 2, 3, 4]))
    let b = Var(Tensor(shape: [2, 2, 1, 1], scalars: [5, 6, 7, 8]))
    let c = Var(Tensor(shape: [2, 1, 1, 1], scalars: [9, 10]))
    #expect(concat([a, Var(Tensor(shape: [2, 1, 1, 2], scalars: [5, 6, 7, 8]))]).value.scalars == [1, 2, 5, 6, 3, 4, 7, 8])
    #expect(concat([b, c], axis: 1).value.scalars == [5, 6, 9, 7, 8, 10])
}

@Test func dropoutWithAFixedMask() {
    let xp = Parameter(randomTensor([3, 4], seed: 5))
    let mask = Tensor(shape: [3, 4], scalars: [2, 0, 2, 2, 0, 0, 2, 2, 2, 0, 2, 0])
    gradCheck([xp]) { dropout(Var(xp), mask: mask) }
    let y = dropout(Var(xp.value), mask: mask).value
    for i in 0..<12 { #expect(y[flat: i] == xp.value[flat: i] * mask[flat: i]) }
}

@Test func dropoutLayerIsInvertedSeededAndOffInInference() {
    let x = Var(Tensor(shape: [100, 100], repeating: 1))
    let d = Dropout(rate: 0.25, seed: 42)
    let y = d(x).value.scalars
    let kept = y.filter { $0 != 0 }
    #expect(kept.allSatisfy { abs($0 - 1 / 0.75) < 1e-6 })
    #expect(abs(Float(kept.count) / 10_000 - 0.75) < 0.02)
    #expect(Dropout(rate: 0.25, seed: 42)(x).value.scalars == y)     // same seed, same mask
    #expect(d(x).value.scalars != y)                                  // the stream advances
    d.setTraining(false)
    #expect(d(x) === x)
    #expect(d.namedParameters().isEmpty)
    #expect(try! d.outputShape(for: [3, 7]) == [3, 7])
}
