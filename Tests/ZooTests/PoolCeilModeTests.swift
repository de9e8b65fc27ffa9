import Testing
import TensorCore
import NN
@testable import Zoo

/// PyTorch's ceil_mode output sizes: out = ceil((in + 2p - k) / s) + 1, less 1 when the last window
/// would start past the input and its left padding.
@Test(arguments: [(112, 3, 2, 0, 56), (111, 3, 2, 0, 55), (14, 3, 2, 0, 7), (7, 2, 2, 0, 4), (13, 3, 1, 1, 13), (5, 2, 2, 1, 3)])
func ceilModePoolSizesFollowPyTorch(size: Int, kernel: Int, stride: Int, pad: Int, expected: Int) throws {
    let k = Pool2DKind(.max, kernel: kernel, stride: stride, padding: .symmetric(pad), ceilMode: true)
    #expect(try k.outputShape([[2, size, size]]) == [2, expected, expected])
    var rng = SeededRandom(seed: 1)
    let m = try #require(k.makeModule([[2, size, size]], rng: &rng) as? MaxPool2D)
    #expect(try m.outputShape(for: [1, 2, size, size]) == [1, 2, expected, expected])
}

@Test func ceilModeLastWindowTakesTheMaxOfWhatItCovers() throws {
    // 4x4, 3x3/2: floor gives 1x1; ceil gives 2x2, the second row/column of windows covering rows/columns 2-3.
    let x = Tensor(shape: [1, 1, 4, 4], scalars: (0..<16).map { -Float($0) })   // max is each window's top-left
    let k = Pool2DKind(.max, kernel: 3, stride: 2, ceilMode: true)
    var rng = SeededRandom(seed: 1)
    let m = try #require(k.makeModule([[1, 4, 4]], rng: &rng) as? MaxPool2D)
    let y = withoutGradients { m(Var(x)) }.value
    #expect(y.shape == [1, 1, 2, 2] && y.scalars == [0, -2, -8, -10])
    #expect(throws: ShapeError.self) { try Pool2DKind(.average, kernel: 3, stride: 2, ceilMode: true).outputShape([[1, 4, 4]]) }
    #expect(throws: ShapeError.self) { try Pool2DKind(.max, kernel: 3, stride: 2, padding: .same, ceilMode: true).outputShape([[1, 4, 4]]) }
}
