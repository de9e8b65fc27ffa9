import Testing
import TensorCore
@testable import NN

@Test(arguments: [
    ("2x2", 2, nil as Int?, Padding.valid), ("3x3 s2", 3, 2, .valid), ("3x3 s2 same", 3, 2, .same),
    ("3x3 s1 same", 3, 1, .same), ("2x2 pad 1", 2, 2, .symmetric(1)),
])
func poolingGradients(_ name: String, _ k: Int, _ s: Int?, _ p: Padding) {
    let xp = Parameter(distinctTensor([2, 2, 6, 5], seed: 3))
    let maxPool = MaxPool2D(kernel: k, stride: s, padding: p)
    gradCheck([xp], eps: 1e-3) { maxPool(Var(xp)) }
    let avg = AvgPool2D(kernel: k, stride: s, padding: p)
    gradCheck([xp]) { avg(Var(xp)) }
    let l2 = L2Pool2D(kernel: k, stride: s, padding: p)
    gradCheck([xp], eps: 1e-3) { l2(Var(xp)) }
}

@Test func fast2x2PathMatchesTheGenericPathOnOddSizes() {
    // 5x7 with 2x2/2: the fast path (full windows) must ignore the last row and column like the generic one.
    let xp = Parameter(distinctTensor([2, 3, 5, 7], seed: 8))
    gradCheck([xp], eps: 1e-3) { MaxPool2D(kernel: 2)(Var(xp)) }
    gradCheck([xp]) { AvgPool2D(kernel: 2)(Var(xp)) }
    let generic = MaxPool2D(kernelSize: (2, 2), strides: (2, 2), padding: .explicit(top: 0, bottom: 1, left: 0, right: 1))
    let a = MaxPool2D(kernel: 2)(Var(xp.value)).value
    let b = generic(Var(xp.value)).value
    #expect(a.shape == [2, 3, 2, 3] && b.shape == [2, 3, 3, 4])
    for n in 0..<6 { for y in 0..<2 { for x in 0..<3 { #expect(a[flat: (n * 2 + y) * 3 + x] == b[flat: (n * 3 + y) * 4 + x]) } } }
}

@Test func globalPoolGradientsAndShapes() throws {
    let xp = Parameter(distinctTensor([2, 3, 4, 3], seed: 5))
    gradCheck([xp]) { GlobalAvgPool2D()(Var(xp)) }
    gradCheck([xp], eps: 1e-3) { GlobalMaxPool2D()(Var(xp)) }
    #expect(try GlobalAvgPool2D().outputShape(for: [2, 3, 4, 3]) == [2, 3])
    let y = GlobalMaxPool2D()(Var(Tensor(shape: [1, 2, 1, 3], scalars: [1, 5, 2, -1, -4, -2])))
    #expect(y.value.scalars == [5, -1])
    let a = GlobalAvgPool2D()(Var(Tensor(shape: [1, 2, 1, 3], scalars: [1, 5, 3, -1, -4, -1])))
    #expect(a.value.scalars == [3, -2])
    #expect(shapeErrorMessage { try GlobalMaxPool2D().outputShape(for: [2, 3]) }.contains("GlobalMaxPool2D"))
}

/// Keras `keepdims=True` (MobileNet's head): [N, C, 1, 1], the same values and gradients; `Reshape`
/// then gives [N, C] back.
@Test func keepDimsGlobalPoolAndReshape() throws {
    let x = distinctTensor([2, 3, 4, 3], seed: 5)
    for (plain, kept) in [(GlobalAvgPool2D() as any Layer, GlobalAvgPool2D(keepDims: true) as any Layer),
                          (GlobalMaxPool2D(), GlobalMaxPool2D(keepDims: true))] {
        #expect(try kept.outputShape(for: [2, 3, 4, 3]) == [2, 3, 1, 1])
        let y = kept(Var(x)).value
        #expect(y.shape == [2, 3, 1, 1] && y.scalars == plain(Var(x)).value.scalars)
        let xp = Parameter(x)
        gradCheck([xp]) { Reshape([3])(kept(Var(xp))) }
    }
    #expect(try Reshape([3]).outputShape(for: [2, 3, 1, 1]) == [2, 3])
    #expect(throws: ShapeError.self) { try Reshape([4]).outputShape(for: [2, 3, 1, 1]) }
}

@Test func maxPoolRoutesTheGradientOnlyToTheMaximum() {
    let xp = Parameter(Tensor(shape: [1, 1, 2, 4], scalars: [1, 9, 3, 4,
                                                              5, 2, 8, 7]))
    let y = MaxPool2D(kernel: 2)(Var(xp))
    #expect(y.value.scalars == [9, 8])
    y.backward(seed: Tensor(shape: [1, 1, 1, 2], scalars: [10, 20]))
    #expect(xp.grad?.scalars == [0, 10, 0, 0, 0, 0, 20, 0])
}

@Test func overlappingMaxPoolAccumulatesSharedWinners() {
    let xp = Parameter(Tensor(shape: [1, 1, 1, 3], scalars: [1, 5, 2]))
    let y = MaxPool2D(kernelSize: (1, 2), strides: (1, 1))(Var(xp))
    #expect(y.value.scalars == [5, 5])
    y.backward()
    #expect(xp.grad?.scalars == [0, 2, 0])
}

@Test func averagePoolSpreadsTheGradientEvenly() {
    let xp = Parameter(Tensor(shape: [1, 1, 2, 4], scalars: [1, 2, 3, 4, 5, 6, 7, 8]))
    let y = AvgPool2D(kernel: 2)(Var(xp))
    #expect(y.value.scalars == [3.5, 5.5])
    y.backward(seed: Tensor(shape: [1, 1, 1, 2], scalars: [4, 8]))
    #expect(xp.grad?.scalars == [1, 1, 2, 2, 1, 1, 2, 2])
}

@Test func samePoolingIgnoresPaddedCells() throws {
    // 3x3 input, 2x2 window, stride 2, 'same': output 2x2, pad bottom/right by 1 (Keras).
    let x = Var(Tensor(shape: [1, 1, 3, 3], scalars: [1, 2, 3, 4, 5, 6, 7, 8, 9]))
    #expect(AvgPool2D(kernel: 2, padding: .same)(x).value.scalars == [3, 4.5, 7.5, 9])
    #expect(MaxPool2D(kernel: 2, padding: .same)(Var(x.value.map { -$0 })).value.scalars == [-1, -3, -7, -9])
    let l2 = L2Pool2D(kernel: 2, padding: .same)(x).value.scalars
    #expect(close(l2, [((1 + 4 + 16 + 25) / 4 as Float).squareRoot(), ((9 + 36) / 2 as Float).squareRoot(),
                       ((49 + 64) / 2 as Float).squareRoot(), 9]))
    #expect(try MaxPool2D(kernel: 3, stride: 2, padding: .same).outputShape(for: [1, 4, 7, 7]) == [1, 4, 4, 4])
    #expect(try MaxPool2D(kernel: 3, stride: 2).outputShape(for: [1, 4, 7, 7]) == [1, 4, 3, 3])
    #expect(try MaxPool2D(kernel: 3, stride: 2).outputShape(for: [1, 4, 55, 55]) == [1, 4, 27, 27])
}

@Test func poolingShapeErrorsNameTheLayer() {
    let msg = shapeErrorMessage { try MaxPool2D(kernel: 3, stride: 2).outputShape(for: [1, 8, 2, 2]) }
    #expect(msg.contains("MaxPool2D(3x3, stride 2)") && msg.contains("empty"))
    #expect(shapeErrorMessage { try AvgPool2D(kernel: 2).outputShape(for: [1, 8, 4]) }.contains("AvgPool2D(2x2)"))
    #expect(shapeErrorMessage { try L2Pool2D(kernel: 2, padding: .symmetric(2)).outputShape(for: [1, 1, 8, 8]) }
        .contains("smaller than the window"))
    #expect(shapeErrorMessage { try AvgPool2D(kernel: 2).outputShape(for: [1, 8, 2, 2]) } == "")
}
