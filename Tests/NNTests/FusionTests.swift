import Testing
import TensorCore
@testable import NN

/// relu(x) absorbs a BatchNorm or add node below it (`Var.reluPullback`): the gradients must be
/// bit-identical to the unfused relu-then-op chain, and still match finite differences.

/// The same computation with the ReLU kept as its own node (an identity in between blocks fusion).
private func unfusedReLU(_ x: Var) -> Var { activation(reshape(x, x.shape), .relu) }

@Test func batchNormReLUFusionMatchesUnfusedBitForBit() {
    let xp = Parameter(randomTensor([4, 3, 5, 5], seed: 3, scale: 2))
    let gamma = Parameter(randomTensor([3], seed: 4).map { 1 + 0.5 * $0 }), beta = Parameter(randomTensor([3], seed: 5))
    let seed = randomTensor([4, 3, 5, 5], seed: 6)
    func run(_ fused: Bool) -> [[Float]] {
        for p in [xp, gamma, beta] { p.zeroGrad() }
        let y = batchNormTraining(Var(xp), gamma: Var(gamma), beta: Var(beta), epsilon: 1e-3).output
        let out = fused ? relu(y) : unfusedReLU(y)
        out.backward(seed: seed)
        return [out.value.scalars] + [xp, gamma, beta].map { $0.grad!.scalars }
    }
    #expect(run(true) == run(false))
    gradCheck([xp, gamma, beta], eps: 1e-2, tolerance: 2e-2) {
        relu(batchNormTraining(Var(xp), gamma: Var(gamma), beta: Var(beta), epsilon: 1e-3).output)
    }
}

@Test func addReLUFusionMatchesUnfused() {
    let a = Parameter(awayFromZero([2, 3, 4, 4], seed: 1)), b = Parameter(awayFromZero([2, 3, 4, 4], seed: 2))
    let seed = randomTensor([2, 3, 4, 4], seed: 3)
    func run(_ fused: Bool) -> [[Float]] {
        a.zeroGrad(); b.zeroGrad()
        let s = add(Var(a), Var(b))
        let out = fused ? relu(s) : unfusedReLU(s)
        out.backward(seed: seed)
        return [out.value.scalars, a.grad!.scalars, b.grad!.scalars]
    }
    #expect(run(true) == run(false))
}

@Test(arguments: [(1, 4, 4), (2, 4, 8), (2, 3, 3)])
func addShortcutAMatchesSubsampleAndZeroPad(_ stride: Int, _ cin: Int, _ cout: Int) {
    let hin = 7, h = (hin - 1) / stride + 1
    let xp = Parameter(awayFromZero([2, cin, hin, hin], seed: 7)), yp = Parameter(awayFromZero([2, cout, h, h], seed: 8))
    // Reference: strided subsampling then zero channels, as BenchBasicBlock used to build it.
    let ref = withoutGradients { () -> Tensor in
        var s = maxPool2d(Var(xp.value), Pool2DGeometry(batch: 2, channels: cin, inHeight: hin, inWidth: hin,
                                                          kernelHeight: 1, kernelWidth: 1, strideH: stride, strideW: stride))
        if cout > cin { s = concat([s, Var(Tensor(zeros: [2, cout - cin, h, h]))]) }
        return add(Var(yp.value), s).value
    }
    #expect(addShortcutA(Var(yp), Var(xp), stride: stride).value.scalars == ref.scalars)
    gradCheck([xp, yp]) { addShortcutA(Var(yp), Var(xp), stride: stride) }
    // |y| >= 0.3 and |x| <= 0.1 keep the ReLU kink out of the finite-difference stencil.
    let y3 = Parameter(yp.value.map { 3 * $0 }), xs = Parameter(randomTensor(xp.shape, seed: 9, scale: 0.1))
    gradCheck([xs, y3]) { relu(addShortcutA(Var(y3), Var(xs), stride: stride)) }
}

@Test func backwardReleasesTheTape() {
    let w = Parameter(randomTensor([3, 4], seed: 1))
    let h = linear(Var(randomTensor([2, 4], seed: 2)), Var(w), nil)
    let y = relu(h)
    y.backward()
    #expect(w.grad != nil)
    #expect(y.pullback == nil && y.node!.parents.isEmpty && h.pullback == nil)
}
