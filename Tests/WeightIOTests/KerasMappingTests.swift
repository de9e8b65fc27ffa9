import Foundation
import Testing
import TensorCore
import NN
@testable import Zoo
import WeightIO

func ramp(_ shape: [Int]) -> Tensor {
    Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { Float($0) })
}

@Test func layoutsConvertElementsToTheRightPlaces() {
    // Conv kernel: Keras (kh, kw, in, out) element [y, x, i, o] -> Graft [o, i, y, x].
    let k = ramp([3, 2, 4, 5])
    let g = KerasLayout.hwioToOihw.toGraft(k)
    #expect(g.shape == [5, 4, 3, 2])
    let (y, x, i, o) = (2, 1, 3, 4)
    #expect(g[flat: ((o * 4 + i) * 3 + y) * 2 + x] == k[flat: ((y * 2 + x) * 4 + i) * 5 + o])
    // Dense: (in, out) -> [out, in].
    let d = ramp([6, 3])
    let gd = KerasLayout.inOutToOutIn.toGraft(d)
    #expect(gd.shape == [3, 6] && gd[flat: 2 * 6 + 5] == d[flat: 5 * 3 + 2])
    // First dense after flatten (C=2, H=3, W=4): Keras row (h*W + w)*C + c holds Graft column c*H*W + h*W + w.
    let f = ramp([24, 5])
    let gf = KerasLayout.flattenedDense(channels: 2, height: 3, width: 4).toGraft(f)
    #expect(gf.shape == [5, 24])
    let (c, h, w, out) = (1, 2, 3, 4)
    #expect(gf[flat: out * 24 + (c * 12 + h * 4 + w)] == f[flat: ((h * 4 + w) * 2 + c) * 5 + out])
    #expect(KerasLayout.flattenedDense(channels: 2, height: 3, width: 4).graftShape(forKeras: [25, 5]) == nil)
    #expect(KerasLayout.hwioToOihw.graftShape(forKeras: [3, 3, 4]) == nil)
}

@Test(arguments: [(KerasLayout.asIs, [7]), (.hwioToOihw, [3, 5, 2, 4]), (.inOutToOutIn, [9, 4]),
                  (.flattenedDense(channels: 3, height: 2, width: 5), [30, 7]), (.flattenedDense(channels: 8, height: 1, width: 1), [8, 2])])
func layoutsRoundTripExactly(layout: KerasLayout, kerasShape: [Int]) {
    var rng = SeededRandom(seed: 3)
    let k = Tensor.uniform(kerasShape, limit: 1, rng: &rng)
    let g = layout.toGraft(k)
    #expect(layout.graftShape(forKeras: kerasShape) == g.shape)
    #expect(layout.kerasShape(forGraft: g.shape) == kerasShape)
    #expect(layout.toKeras(g).scalars == k.scalars)
    #expect(layout.toGraft(layout.toKeras(g)).scalars == g.scalars)
}

@Test func vgg16MapNamesEveryWeightAsKerasDoes() throws {
    let m = try Zoo.build("vgg16", ZooOptions(inputSize: 64, widthMultiplier: 0.25))
    let map = try m.kerasWeightMap()
    #expect(map.weights.count == 32 && map.bnEpsilon == nil)
    #expect(map.weights.map(\.path) == m.namedParameters().map(\.0))
    let first = map.weights[0]
    #expect(first.layer == "block1_conv1" && first.weight == .kernel && first.layout == .hwioToOihw)
    #expect(first.kerasShape == [3, 3, 3, 16])
    // fc1 rows come from a 2x2x128 map at 64x64 (512 at full width, 7x7 at 224).
    let fc1 = try #require(map.ref(layer: "fc1", weight: .kernel))
    #expect(fc1.layout == .flattenedDense(channels: 128, height: 2, width: 2) && fc1.kerasShape == [512, 1024])
    #expect(map.ref(layer: "fc2", weight: .kernel)?.layout == .inOutToOutIn)
    #expect(map.ref(layer: "predictions", weight: .bias)?.kerasShape == [1000])
    // Global pooling heads need no permutation.
    let gap = try Zoo.build("vgg16", ZooOptions(inputSize: 64, widthMultiplier: 0.25, pooling: .globalAverage))
    #expect(try gap.kerasWeightMap().ref(layer: "fc1", weight: .kernel)?.layout == .inOutToOutIn)
}

@Test func resnet50MapAndLegacyNames() throws {
    let m = try Zoo.build("resnet50", ZooOptions(inputSize: 32, widthMultiplier: 0.25))
    let map = try m.kerasWeightMap()
    #expect(map.bnEpsilon == 1.001e-5)
    #expect(map.weights.count == 320)   // 53 convs x 2 + 53 BN x 4 + predictions x 2
    let bn = try #require(map.ref(layer: "conv2_block1_1_bn", weight: .movingVariance))
    #expect(bn.path == "conv2_block1_1_bn.runningVar" && bn.layout == .asIs)
    #expect(map.ref(layer: "conv4_block6_3_bn", weight: .gamma)?.path == "conv4_block6_3_bn.weight")
    // Legacy Keras-1 names.
    let legacy = m.legacyAliases
    #expect(legacy["res2a_branch2a"] == "conv2_block1_1_conv" && legacy["bn2a_branch2a"] == "conv2_block1_1_bn")
    #expect(legacy["res2a_branch1"] == "conv2_block1_0_conv" && legacy["bn2a_branch1"] == "conv2_block1_0_bn")
    #expect(legacy["res3d_branch2c"] == "conv3_block4_3_conv" && legacy["bn5c_branch2b"] == "conv5_block3_2_bn")
    #expect(legacy["conv1"] == "conv1_conv" && legacy["bn_conv1"] == "conv1_bn" && legacy["fc1000"] == "predictions")
    #expect(map.ref(layer: "res4f_branch2c", weight: .kernel)?.path == "conv4_block6_3_conv.weight")
    #expect(map.ref(layer: "bn_conv1", weight: .beta)?.path == "conv1_bn.bias")
    // Every alias points at a real layer, and every weighted layer has exactly one alias.
    let names = Set(m.layerNames)
    #expect(legacy.values.allSatisfy { names.contains($0) })
    let weighted = Set(map.weights.map(\.layer))
    #expect(Set(legacy.values) == weighted)
    // resnet101's Caffe-style b1, b2 ... names.
    let r101 = ResNet.legacyAliases(.resnet101)
    #expect(r101["res4b22_branch2a"] == "conv4_block23_1_conv" && r101["res4w_branch2a"] == "conv4_block23_1_conv")
    // legacy epsilon is an option
    #expect(try Zoo.build("resnet50", ZooOptions(inputSize: 32, widthMultiplier: 0.25, bnEpsilon: 1e-3)).bnEpsilon == 1e-3)
    #expect((m.layer(named: "res2a_branch2a") as? Conv2D)?.outChannels == 16)
}

@Test func depthwiseKerasLayoutPlacesElements() throws {
    // Keras (kh, kw, C, m) = (2, 1, 2, 3): value (y*1 + x)*6 + c*3 + j at [y, x, c, j].
    let k = Tensor(shape: [2, 1, 2, 3], scalars: (0..<12).map(Float.init))
    let layout = KerasLayout.depthwiseToOihw(multiplier: 3)
    let g = layout.toGraft(k)
    #expect(g.shape == [6, 1, 2, 1])
    for c in 0..<2 { for j in 0..<3 { for y in 0..<2 {
        #expect(g[flat: (c * 3 + j) * 2 + y] == Float(y * 6 + c * 3 + j))
    } } }
    #expect(layout.toKeras(g).scalars == k.scalars)
    #expect(layout.graftShape(forKeras: [2, 1, 2, 2]) == nil)
}

@Test func anExtendedHeadMapsAsTheKerasKernelOfPredictions() throws {
    let m = try Zoo.build("vgg11", ZooOptions(inputSize: 32, classCount: 4, widthMultiplier: 0.125, hiddenWidth: 16))
    try m.extendHead(by: 2)
    let ref = try #require(try m.kerasWeightMap().ref(layer: "predictions", weight: .kernel))
    #expect(ref.layout == .inOutToOutIn && ref.graftShape == [6, 16])
}
