import Foundation
import Testing
import DNNL
import TensorCore
import NN
@testable import Zoo

/// Every module of a tree, depth first.
private func modules(_ m: Module) -> [Module] { [m] + m.namedChildren().flatMap { modules($0.1) } }

/// Random BatchNorm statistics and affine parameters, and non-zero convolution biases, so folding
/// BatchNorm into the convolution is exercised for real.
func randomizeStatistics(_ model: Module, seed: UInt64 = 3) {
    var rng = SeededRandom(seed: seed)
    func uniform(_ n: Int, _ lo: Float, _ hi: Float) -> Tensor {
        let t = Tensor.uniform([n], limit: 1, rng: &rng)
        return Tensor(shape: [n], scalars: t.scalars.map { lo + (hi - lo) * ($0 + 1) / 2 })
    }
    for m in modules(model) {
        if let bn = m as? BatchNorm {
            bn.weight.value = uniform(bn.channels, 0.5, 1.5)
            bn.bias.value = uniform(bn.channels, -0.3, 0.3)
            bn.runningMean.value = uniform(bn.channels, -0.2, 0.2)
            bn.runningVar.value = uniform(bn.channels, 0.3, 2)
        } else if let c = m as? Conv2D, let b = c.bias {
            b.value = uniform(c.outChannels, -0.1, 0.1)
        }
    }
}

/// max |a - b| / max |a|.
private func planRelativeError(_ a: Tensor, _ b: Tensor) -> Float {
    #expect(a.shape == b.shape)
    guard a.shape == b.shape else { return .infinity }
    var diff: Float = 0, scale: Float = 1e-12
    for i in 0..<a.count {
        diff = max(diff, abs(a[flat: i] - b[flat: i]))
        scale = max(scale, abs(a[flat: i]))
    }
    return diff / scale
}

private func expectPlanMatches(_ model: any Layer, inputShape: [Int], batches: [Int] = [1, 3],
                               threading: DNNLInferenceNet.Threading = .batch, maxSliceImages: Int = 4) -> InferencePlan {
    model.setTraining(false)
    let plan = InferencePlan(model, inputShape: inputShape, options: InferenceOptions(threading: threading, maxSliceImages: maxSliceImages))
    for (i, n) in batches.enumerated() {
        let x = randomInput([n] + inputShape, seed: UInt64(10 + i)).value
        let want = withoutGradients { model(Var(x)).value }
        let got = plan(x)
        let err = planRelativeError(want, got)
        #expect(err <= 1e-4, "batch \(n): relative error \(err)\n\(plan.describe())")
    }
    #expect(plan.nativeFailures == 0)
    return plan
}

private func tinyModel(_ name: String, size: Int, width: Double = 0.25) throws -> ZooModel {
    let m = try Zoo.build(name, ZooOptions(inputSize: size, classCount: 5, widthMultiplier: width, classifierActivation: .linear))
    randomizeStatistics(m)
    return m
}

@Test(arguments: [("vgg11_bn", 32), ("resnet18", 32), ("resnet50", 32), ("lenet5", 28), ("alexnet", 64),
                  ("mobilenet", 64), ("mobilenetv2", 64)])
func planMatchesModuleForward(name: String, size: Int) throws {
    let m = try tinyModel(name, size: size)
    let plan = expectPlanMatches(m, inputShape: m.inputShape)
    // The whole trunk is one native chain; only the head's Flatten/Dense layers (and nothing of the
    // trunk) run as modules.
    let trunkNames = Set(m.trunkLayerNames)
    #expect(plan.moduleLayers.allSatisfy { !trunkNames.contains($0) }, "\(plan.moduleLayers)")
}

@Test func trunkAloneMatchesAndFoldsEverything() throws {
    let m = try tinyModel("resnet50", size: 32)
    m.setTraining(false)
    let plan = expectPlanMatches(m.trunk, inputShape: m.inputShape, batches: [2])
    #expect(plan.moduleLayers.isEmpty)
    let d = plan.describe(batch: 2)
    // conv1_pad is folded, every BatchNorm folded, every add fused: one primitive per convolution and pool.
    #expect(d.contains("0 standalone") == false)
    #expect(!d.contains("eltwise") && !d.contains(" add"), "\(d)")
}

@Test(arguments: DNNLInferenceNet.Threading.allCases)
func threadingModesMatch(threading: DNNLInferenceNet.Threading) throws {
    let m = try tinyModel("resnet18", size: 32)
    _ = expectPlanMatches(m, inputShape: m.inputShape, batches: [3, 5], threading: threading)
}

/// 0: one slice per worker; 2 and 3 cut batches 5 and 7 into slices of two sizes.
@Test(arguments: [0, 1, 2, 3])
func sliceSizesMatch(maxSliceImages: Int) throws {
    let m = try tinyModel("resnet18", size: 32)
    _ = expectPlanMatches(m, inputShape: m.inputShape, batches: [5, 7], threading: .batch, maxSliceImages: maxSliceImages)
}

/// One-image slices: a batch of 8 holds at most one batch-1 program per worker (buffers and scratchpad
/// do not grow with the batch), where one slice per worker would hold programs of several images each.
@Test func sliceBuffersDoNotGrowWithTheBatch() throws {
    let m = try tinyModel("vgg11_bn", size: 32)
    m.setTraining(false)
    let single = InferencePlan(m, options: InferenceOptions(threading: .batch, maxSliceImages: 1))
    _ = single(randomInput([1] + m.inputShape, seed: 8).value)
    let onePerImage = single.activationBytes
    let plan = InferencePlan(m, options: InferenceOptions(threading: .batch, maxSliceImages: 1))
    _ = plan(randomInput([8] + m.inputShape, seed: 9).value)
    #expect(onePerImage > 0)
    #expect(plan.activationBytes <= min(Threads.count, 8) * onePerImage,
            "\(plan.activationBytes) bytes for 8 images, \(onePerImage) per batch-1 program, \(Threads.count) workers")
}

/// The plan shares unfolded convolution weights with the model instead of copying them; an in-place
/// update of the model afterwards (even before the plan's first call compiles its programs) must not
/// reach the plan.
@Test func planKeepsTheWeightsItWasBuiltWith() throws {
    let m = try tinyModel("vgg11", size: 32)
    m.setTraining(false)
    let plan = InferencePlan(m)
    let x = randomInput([2] + m.inputShape, seed: 12).value
    let before = withoutGradients { m(Var(x)).value }
    let convs = modules(m).compactMap { $0 as? Conv2D }
    #expect(!convs.isEmpty)
    for c in convs { c.weight.value.withUnsafeMutableBufferPointer { w in for i in w.indices { w[i] *= -0.5 } } }
    let after = withoutGradients { m(Var(x)).value }
    #expect(planRelativeError(before, after) > 0.1, "the update should change the model's output")
    #expect(planRelativeError(before, plan(x)) <= 1e-4)
}

@Test(arguments: [DNNLInferenceNet.ConvAlgorithm.direct, .winograd])
func convolutionAlgorithmsMatch(algorithm: DNNLInferenceNet.ConvAlgorithm) throws {
    let m = try tinyModel("vgg11_bn", size: 32, width: 0.5)
    m.setTraining(false)
    let plan = InferencePlan(m, options: InferenceOptions(conv: algorithm))
    let x = randomInput([2] + m.inputShape, seed: 4).value
    let err = planRelativeError(withoutGradients { m(Var(x)).value }, plan(x))
    #expect(err <= 1e-4, "relative error \(err)")
    #expect(plan.nativeFailures == 0)
}

@Test func unknownLayersFallBackToTheirModuleForward() throws {
    var rng = SeededRandom(seed: 5)
    let bn = BatchNorm(channels: 8)
    let seq = Sequential([
        Conv2D(inChannels: 3, outChannels: 8, kernel: 3, padding: .same, rng: &rng),
        L2Pool2D(kernel: 2),                       // not native: the chain splits around it
        bn, ReLU(),
        ZeroPadding2D(1),
        AvgPool2D(kernel: 3, stride: 1),           // padding folded as average-including-padding
        Conv2D(inChannels: 8, outChannels: 4, kernel: 1, rng: &rng),
        Softmax(),                                 // not native
        Flatten(),
    ])
    randomizeStatistics(seq)
    let plan = expectPlanMatches(seq, inputShape: [3, 12, 12])
    #expect(plan.moduleLayers == ["1", "7", "8"], "\(plan.describe())")
}

/// ReLU6 lowers to oneDNN's clip, fused into the convolution and as a standalone eltwise after a kept value.
@Test func relu6LowersToClip() throws {
    var rng = SeededRandom(seed: 7)
    let conv = Conv2D(inChannels: 3, outChannels: 8, kernel: 3, padding: .same, rng: &rng)
    conv.weight.value = conv.weight.value.map { $0 * 12 }   // outputs well past 6, so the clip matters
    let pw = Conv2D(inChannels: 8, outChannels: 4, kernel: 1, rng: &rng)
    let seq = Sequential([conv, BatchNorm(channels: 8), ReLU6(), pw, ReLU6()])
    randomizeStatistics(seq)
    pw.weight.value = pw.weight.value.map { $0 * 3 }
    let x = randomInput([2, 3, 10, 10], seed: 3).value
    seq.setTraining(false)
    let y = withoutGradients { seq(Var(x)).value }
    #expect(y.scalars.contains(6) && y.scalars.contains(0))
    let plan = expectPlanMatches(seq, inputShape: [3, 10, 10])
    #expect(plan.moduleLayers.isEmpty, "\(plan.describe())")
}

@Test func modulesInTrainingModeAreNotFolded() throws {
    var rng = SeededRandom(seed: 6)
    let bn = BatchNorm(channels: 4)
    let seq = Sequential([Conv2D(inChannels: 2, outChannels: 4, kernel: 3, rng: &rng), bn, ReLU(),
                          ZeroPadding2D(1), MaxPool2D(kernel: 2)])
    seq.setTraining(false)
    bn.setTraining(true)   // batch statistics: stays a module; the chain after it still folds the padding
    let plan = InferencePlan(seq, inputShape: [2, 9, 9])
    #expect(plan.moduleLayers == ["1"], "\(plan.describe())")
}

@Test func otherInputShapesRunTheModel() throws {
    let m = try tinyModel("vgg11_bn", size: 32)
    m.setTraining(false)
    let plan = InferencePlan(m)
    let x = randomInput([2, 3, 40, 40]).value
    let want = withoutGradients { m(Var(x)).value }
    #expect(planRelativeError(want, plan(x)) == 0)
}

/// MobileNetV2's expand 1x1 (+ folded BN + ReLU6) and the depthwise 3x3 (+ folded BN + ReLU6) reading it
/// run as one oneDNN primitive (the depthwise post-op) and give the module forward; with the fusion
/// off, the same plan runs them as two primitives.
@Test(arguments: [true, false])
func depthwiseFusionMatchesModuleForward(fuse: Bool) throws {
    let m = try tinyModel("mobilenetv2", size: 64, width: 0.35)
    m.setTraining(false)
    let plan = InferencePlan(m, options: InferenceOptions(fuseDepthwise: fuse))
    for (i, n) in [1, 3].enumerated() {
        let x = randomInput([n] + m.inputShape, seed: UInt64(20 + i)).value
        let err = planRelativeError(withoutGradients { m(Var(x)).value }, plan(x))
        #expect(err <= 1e-4, "batch \(n): relative error \(err)")
    }
    #expect(plan.nativeFailures == 0)
    let fused = plan.describe(batch: 3).split(separator: "\n").filter { $0.contains("+dw3x3") }.count
    // block_1 ... block_16 each have an expand convolution feeding the depthwise one.
    #expect(fused == (fuse ? 16 : 0), "\(plan.describe(batch: 3))")
}
