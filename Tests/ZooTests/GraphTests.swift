import Foundation
import Testing
import TensorCore
import NN
@testable import Zoo

/// A small branching graph: a stem, a depthwise branch (multiplier 2, BatchNorm, ReLU) and a pointwise
/// branch concatenated on the channels, a 1x1 mix added back to the stem, then a padded strided
/// depthwise convolution, global pooling and a dense layer.
private func branchingGraph(size: Int = 9) throws -> ModelGraph {
    var b = GraphBuilder(shape: [3, size, size])
    let stem = try b.conv("stem", 4, kernel: 3, padding: .same, activation: .relu)
    try b.depthwiseConv("dw", kernel: 3, padding: .same, depthMultiplier: 2, bias: false, from: stem)
    try b.batchNorm("dw_bn", epsilon: 1e-3)
    let dw = try b.activation("dw_relu", .relu)
    let pw = try b.conv("pw", 6, kernel: 1, from: stem)
    try b.concatenate("cat", [dw, pw])
    let mix = try b.conv("mix", 4, kernel: 1)
    try b.add("res", [stem, mix])
    try b.activation("res_relu", .relu)
    try b.zeroPad("down_pad", 1)
    try b.depthwiseConv("down", kernel: 3, stride: 2, activation: .relu)
    try b.pooling(.globalAverage)
    try b.dense("predictions", 5)
    return try b.graph()
}

private func randomizeBatchNorms(_ m: Module) {
    var rng = SeededRandom(seed: 4)
    for (_, child) in m.namedModules() {
        guard let bn = child as? BatchNorm else { continue }
        let u = { (lo: Float, hi: Float) in Tensor(shape: [bn.channels], scalars: (0..<bn.channels).map { _ in lo + (hi - lo) * rng.nextFloat() }) }
        bn.weight.value = u(0.5, 1.5); bn.bias.value = u(-0.3, 0.3)
        bn.runningMean.value = u(-0.2, 0.2); bn.runningVar.value = u(0.3, 2)
    }
}

@Test func graphShapesAndParameters() throws {
    let g = try branchingGraph()
    #expect(g.shapes["dw"] == [8, 9, 9] && g.shapes["cat"] == [14, 9, 9] && g.shapes["down"] == [4, 5, 5])
    #expect(g.outputShape == [5])
    let paths = g.parameterShapes.map { "\($0.path) \($0.shape)" }
    #expect(paths.contains("dw.weight [8, 1, 3, 3]") && !paths.contains { $0.hasPrefix("dw.bias") })
    #expect(paths.contains("mix.weight [4, 14, 1, 1]") && paths.contains("down.weight [4, 1, 3, 3]"))
    var rng = SeededRandom(seed: 1)
    let m = GraphModule(graph: g, rng: &rng)
    #expect(m.namedParameters().map { "\($0.0) \($0.1.shape)" } == paths)
    #expect(try m.outputShape(for: [2, 3, 9, 9]) == [2, 5])
}

@Test func shapeErrorsNameTheNode() throws {
    var b = GraphBuilder(shape: [3, 8, 8])
    let a = try b.conv("a", 4, kernel: 3)                      // 6x6
    let c = try b.conv("c", 4, kernel: 1, from: b.input)       // 8x8
    do {
        try b.concatenate("cat", [a, c])
        Issue.record("concatenating 6x6 and 8x8 maps should fail")
    } catch let ShapeError.invalidInput(layer, _, reason) {
        #expect(layer == "cat" && reason.contains("disagree"), "\(reason)")
    }
    #expect(throws: ShapeError.self) { try b.add("sum", [a, c]) }
    #expect(throws: ShapeError.self) { try b.node("late", AddKind(), ["nowhere", a]) }
}

@Test func graphTrainsOnTheTape() throws {
    var rng = SeededRandom(seed: 2)
    let m = GraphModule(graph: try branchingGraph(), rng: &rng)
    let x = randomInput([2, 3, 9, 9], seed: 3)
    m(x).backward(seed: Tensor(shape: [2, 5], repeating: 1))
    for (path, p) in m.namedParameters() where p.requiresGrad {
        let g = try #require(p.grad, "\(path) has no gradient")
        #expect(g.scalars.contains { $0 != 0 }, "\(path): all-zero gradient")
    }
}

/// The inference plan lowers depthwise convolutions (grouped oneDNN convolutions) and the
/// concatenation (oneDNN concat) and gives the tape forward's output.
@Test func planMatchesTapeForDepthwiseAndConcat() throws {
    var rng = SeededRandom(seed: 5)
    let m = GraphModule(graph: try branchingGraph(), rng: &rng)
    randomizeBatchNorms(m)
    m.setTraining(false)
    let plan = InferencePlan(m, inputShape: [3, 9, 9])
    for (i, n) in [1, 3].enumerated() {
        let x = randomInput([n, 3, 9, 9], seed: UInt64(20 + i)).value
        let want = withoutGradients { m(Var(x)).value }
        let got = plan(x)
        #expect(got.shape == want.shape)
        let scale = max(want.scalars.map(abs).max() ?? 1, 1e-6)
        #expect(got.maxAbsDifference(want) / scale <= 1e-4, "\(plan.describe())")
    }
    #expect(plan.nativeFailures == 0)
    #expect(plan.moduleLayers == ["predictions"], "\(plan.describe())")
    let d = plan.describe(batch: 2)
    #expect(d.contains("concat") && d.contains("->8 3x3/1 g4") && d.contains("->4 3x3/2 g4"), "\(d)")
}

/// A concatenation whose inputs are read again later is not fused into (the values stay as they were).
@Test func planKeepsBranchValuesReadTwice() throws {
    var b = GraphBuilder(shape: [2, 6, 6])
    let c = try b.conv("c", 4, kernel: 3, padding: .same)
    let r = try b.activation("r", .relu, from: c)             // would fuse into c, but c is read again
    try b.concatenate("cat", [r, c])
    try b.concatenate("cat2", ["cat", c])
    var rng = SeededRandom(seed: 6)
    let m = GraphModule(graph: try b.graph(), rng: &rng)
    m.setTraining(false)
    let plan = InferencePlan(m, inputShape: [2, 6, 6])
    let x = randomInput([2, 2, 6, 6], seed: 7).value
    #expect(plan(x).maxAbsDifference(withoutGradients { m(Var(x)).value }) <= 1e-5, "\(plan.describe())")
    #expect(plan.moduleLayers.isEmpty)
}

/// A nested model (a Keras trunk inside an outer model) runs inlined, its nodes keeping their names.
@Test func nestedSubModelsAreInlined() throws {
    var inner = GraphBuilder(input: "trunk_input", shape: [3, 8, 8])
    try inner.conv("block1_conv1", 4, kernel: 3, activation: .relu)
    try inner.pool("block1_pool", .max, kernel: 2, stride: 2)
    let trunk = try inner.graph()
    var outer = GraphBuilder(shape: [3, 8, 8])
    try outer.node("vgg", SubModel(trunk))
    try outer.pooling(.globalAverage)
    try outer.dense("head", 2)
    let g = try outer.graph()
    #expect(g.shapes["vgg"] == [4, 3, 3])
    #expect(g.parameterShapes.map(\.path) == ["block1_conv1.weight", "block1_conv1.bias", "head.weight", "head.bias"])
    let flat = try g.flattened()
    #expect(flat.nodes.map(\.name) == ["block1_conv1", "block1_pool", "avg_pool", "head"])
    #expect(flat.node(named: "block1_conv1")?.inputs == ["input"] && flat.node(named: "avg_pool")?.inputs == ["block1_pool"])
    var rng = SeededRandom(seed: 3)
    let m = GraphModule(graph: g, rng: &rng)
    #expect(m.namedParameters().map(\.0) == g.parameterShapes.map(\.path))
    #expect(m(randomInput([2, 3, 8, 8])).shape == [2, 2])
}

/// Every kind the zoo knows builds a module that `describing` recognises again.
@Test func kindsDescribeTheModulesTheyBuild() throws {
    let samples: [(any ModuleBuildable, [[Int]])] = [
        (Conv2DKind(filters: 4, kernel: 3, groups: 2), [[4, 5, 5]]),
        (DepthwiseConv2DKind(kernel: 3, depthMultiplier: 2), [[3, 5, 5]]),
        (BatchNormKind(epsilon: 1e-3), [[3, 5, 5]]),
        (ActivationKind(.tanh), [[3, 5, 5]]),
        (ZeroPadding2DKind(top: 1, bottom: 2, left: 0, right: 1), [[3, 5, 5]]),
        (Pool2DKind(.average, kernel: 2, stride: 2), [[3, 5, 5]]),
        (GlobalPool2DKind(.max), [[3, 5, 5]]),
        (FlattenKind(), [[3, 5, 5]]),
        (DenseKind(units: 3), [[7]]),
        (DropoutKind(rate: 0.5), [[7]]),
        (LocalResponseNormKind(size: 5, alpha: 1e-4, beta: 0.75, k: 1), [[3, 5, 5]]),
        (AddKind(), [[3, 5, 5], [3, 5, 5]]),
        (MultiplyKind(), [[3, 5, 5], [3, 5, 5]]),
        (ConcatenateKind(), [[3, 5, 5], [2, 5, 5]]),
        (ReshapeKind(targetShape: [7]), [[7, 1, 1]]),
        (GlobalPool2DKind(.average, keepDims: true), [[3, 5, 5]]),
        (ActivationKind(.relu6), [[3, 5, 5]]),
        (ActivationKind(.thresholdedReLU(maxValue: 4, slope: 0.1, threshold: 0.2)), [[3, 5, 5]]),
        (Conv2DKind(filters: 4, kernel: 3, padding: .same, groups: 2, dilation: 2), [[4, 7, 7]]),
        (SeparableConv2DKind(filters: 5, kernel: 3, stride: 2, depthMultiplier: 2), [[3, 7, 7]]),
        (SubtractKind(), [[3, 5, 5], [3, 5, 5]]),
        (AverageKind(), [[3, 5, 5], [3, 5, 5]]),
        (MaximumKind(), [[3, 5, 5], [3, 5, 5], [3, 5, 5]]),
        (Cropping2DKind(top: 1, bottom: 0, left: 2, right: 1), [[3, 5, 5]]),
        (UpSampling2DKind(height: 2, width: 3), [[3, 5, 5]]),
        (RescalingKind(scale: [0.5], offset: [-1]), [[3, 5, 5]]),
        (NormalizationKind(mean: nil, variance: nil), [[3, 5, 5]]),
        (NormalizationKind(mean: [1, 2, 3], variance: [1, 4, 9]), [[3, 5, 5]]),
        (PReLUKind(sharedHeight: true, sharedWidth: true), [[3, 5, 5]]),
    ]
    #expect(Set(samples.map { String(describing: type(of: $0.0)) }) == Set(LayerKinds.names))
    var rng = SeededRandom(seed: 1)
    for (kind, inputs) in samples {
        let module = kind.makeModule(inputs, rng: &rng)
        let back = try #require(LayerKinds.kind(of: module), "\(kind)")
        #expect(back.identity == kind.identity, "\(kind) -> \(back)")
        #expect(module.namedParameters().map { "\($0.0) \($0.1.shape)" } == kind.parameters(inputs).map { "\($0.name) \($0.shape)" })
    }
}

