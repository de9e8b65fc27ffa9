import NN
import TensorCore
import Testing
@testable import Training

/// Expected values come from the PyTorch update formulas evaluated by hand (float64) for
/// w0 = [1, -2] and gradients [0.5, 0.25], [-0.5, 1.0], [0.25, -0.75] at lr 0.1.
let gradients: [[Float]] = [[0.5, 0.25], [-0.5, 1.0], [0.25, -0.75]]

func run<O: Optimizer>(_ opt: inout O, lr: Float = 0.1, steps: Int = 3) -> [[Float]] {
    let p = param([1, -2])
    var trace: [[Float]] = []
    for g in gradients.prefix(steps) {
        p.grad = Tensor(shape: [2], scalars: g)
        opt.step([("w", p)], lr: lr)
        trace.append(p.value.scalars)
    }
    return trace
}

func expectTrace(_ got: [[Float]], _ want: [[Float]], tol: Float = 2e-6) {
    #expect(got.count == want.count)
    for (g, w) in zip(got, want) { #expect(approxEqual(g, w, tol: tol), "got \(g), want \(w)") }
}

@Suite struct OptimizerTests {
    @Test func plainSGD() {
        var o = SGD()
        expectTrace(run(&o), [[0.95, -2.025], [1, -2.125], [0.975, -2.05]])
    }

    @Test func sgdMomentum() {
        var o = SGD(momentum: 0.9)
        expectTrace(run(&o), [[0.95, -2.025], [0.955, -2.1475], [0.9345, -2.18275]])
        #expect(o.exportState()["w.step"]?.scalars == [3])
        #expect(approxEqual(o.exportState()["w.momentum"]!.scalars, [0.205, 0.3525]))
    }

    @Test func sgdNesterov() {
        var o = SGD(momentum: 0.9, nesterov: true)
        expectTrace(run(&o), [[0.905, -2.0475], [0.9595, -2.25775], [0.91605, -2.214475]])
    }

    @Test func sgdL2WeightDecayIsAddedToGradient() {
        var o = SGD(options: .init(weightDecay: 0.1))
        expectTrace(run(&o), [[0.94, -2.005], [0.9806, -2.08495], [0.945794, -1.9891005]])
    }

    @Test func sgdL1UsesSign() {
        var o = SGD(options: .init(l1: 0.2))
        expectTrace(run(&o), [[0.93, -2.005], [0.96, -2.085], [0.915, -1.99]])
        // sign(0) = 0: a zero weight with zero gradient stays put.
        let z = param([0], grad: [0])
        o.step([("z", z)], lr: 0.1)
        #expect(z.value.scalars == [0])
    }

    @Test func adam() {
        var o = Adam()
        expectTrace(run(&o), [[0.900000002, -2.1], [0.90526316, -2.18843764], [0.887790607, -2.20610847]])
        let s = o.exportState()
        #expect(Set(s.keys) == ["w.m", "w.v", "w.step"])
        #expect(s["w.step"]?.scalars == [3])
    }

    @Test func adamCoupledL2() {
        var o = Adam(options: .init(weightDecay: 0.1))
        expectTrace(run(&o), [[0.900000002, -2.09999998], [0.886683623, -2.17849551], [0.850351862, -2.16743967]])
    }

    @Test func adamWDecouplesDecay() {
        var o = AdamW(options: .init(weightDecay: 0.1))
        expectTrace(run(&o), [[0.890000002, -2.08], [0.88636316, -2.14763764], [0.860026975, -2.1438321]])
    }

    @Test func skipsFrozenBuffersAndGradless() {
        let frozen = param([1], grad: [1]); frozen.isFrozen = true
        let buffer = Parameter(Tensor(shape: [1], scalars: [1]), kind: .buffer); buffer.grad = Tensor(shape: [1], scalars: [1])
        let noGrad = param([1])
        var o = SGD(momentum: 0.9)
        o.step([("a", frozen), ("b", buffer), ("c", noGrad)], lr: 1)
        #expect(frozen.value.scalars == [1] && buffer.value.scalars == [1] && noGrad.value.scalars == [1])
        #expect(o.exportState().isEmpty)
    }

    @Test func paramGroupsScaleLearningRate() {
        let trunk = param([1], grad: [1]), head = param([1], grad: [1])
        var o = SGD(options: .init(groups: [.prefixes(["features"], lrScale: 0.1)]))
        o.step([("features.0.weight", trunk), ("fc.weight", head)], lr: 0.5)
        #expect(approxEqual(trunk.value.scalars, [0.95]))
        #expect(approxEqual(head.value.scalars, [0.5]))
        // weightDecayScale 0 exempts a group from decay.
        let bias = param([1], grad: [0])
        var d = SGD(options: .init(weightDecay: 1, groups: [ParamGroup(weightDecayScale: 0) { $0.hasSuffix(".bias") }]))
        let weight = param([1], grad: [0])
        d.step([("fc.bias", bias), ("fc.weight", weight)], lr: 0.5)
        #expect(bias.value.scalars == [1] && weight.value.scalars == [0.5])
    }

    @Test func stateRoundTripContinuesIdentically() throws {
        for make in [{ AnyOpt(SGD(momentum: 0.9, nesterov: true)) }, { AnyOpt(Adam()) }, { AnyOpt(AdamW()) }] {
            var straight = make()
            let a = param([1, -2])
            var resumed = make()
            let b = param([1, -2])
            for (i, g) in gradients.enumerated() {
                a.grad = Tensor(shape: [2], scalars: g); b.grad = Tensor(shape: [2], scalars: g)
                straight.base.step([("w", a)], lr: 0.1)
                if i == 1 {  // checkpoint after two steps into a fresh optimizer
                    var fresh = make()
                    try fresh.base.importState(resumed.base.exportState())
                    resumed = fresh
                }
                resumed.base.step([("w", b)], lr: 0.1)
            }
            #expect(a.value.scalars == b.value.scalars)
        }
    }

    @Test func importRejectsUnknownKeys() {
        var o = Adam()
        #expect(throws: OptimizerStateError.unexpectedKey("w.momentum")) { try o.importState(["w.momentum": Tensor(zeros: [1])]) }
        var s = SGD(momentum: 0.9)
        #expect(throws: OptimizerStateError.self) { try s.importState(["w.m": Tensor(zeros: [1])]) }
    }

    @Test func largeTensorsTakeTheParallelPathWithSameResult() {
        let n = 200_000
        let big = Parameter(Tensor(shape: [n], repeating: 1)); big.grad = Tensor(shape: [n], repeating: 0.5)
        var o = Adam()
        o.step([("big", big)], lr: 0.1)
        let v = big.value.scalars
        #expect(v.allSatisfy { $0 == v[0] } && abs(v[0] - 0.9) < 1e-6)
    }
}

/// Existential box so the round-trip test can loop over optimizer kinds.
struct AnyOpt { var base: any Optimizer; init(_ o: any Optimizer) { base = o } }
