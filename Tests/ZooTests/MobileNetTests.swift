import Foundation
import Testing
import TensorCore
import NN
@testable import Zoo

// MobileNet / MobileNetV2 structure and transfer surgery at small widths (Keras parity is WeightIO's).

@Test func mobileNetStructureFollowsKeras() throws {
    let m = try tiny("mobilenet", size: 64, classes: 5)
    #expect(m.headLayerNames == ["global_average_pooling2d", "dropout", "conv_preds", "reshape_2", "predictions"])
    #expect(m.headPath == "conv_preds")
    #expect(m.trunkLayerNames.filter { $0.hasPrefix("conv_pad_") } == ["conv_pad_2", "conv_pad_4", "conv_pad_6", "conv_pad_12"])
    // int(filters · alpha): 0.25 · 32 = 8, 0.25 · 1024 = 256; the strided stem is Keras 'same' (asymmetric).
    #expect((m.layer(named: "conv1") as? Conv2D)?.outChannels == 8)
    #expect(m.spec.trunkOutputShape == [256, 2, 2])
    #expect(m.trunk.graph.node(named: "conv_pad_2")?.layer as? ZeroPadding2DKind == ZeroPadding2DKind(top: 0, bottom: 1, left: 0, right: 1))
    #expect(m.bnEpsilon == 1e-3)
    let depth2 = try tiny("mobilenet", size: 64) { $0.depthMultiplier = 2 }
    #expect((depth2.layer(named: "conv_dw_1") as? Conv2D)?.outChannels == 16)
    #expect((depth2.layer(named: "conv_pw_1") as? Conv2D)?.inChannels == 16)
    #expect(throws: ZooError.self) { try tiny("mobilenet", size: 64) { $0.activation = .relu } }
    #expect(throws: ZooError.self) { try tiny("mobilenetv2", size: 64) { $0.depthMultiplier = 2 } }
    #expect(throws: ZooError.self) { try tiny("mobilenet", size: 64) { $0.pooling = .flatten } }

    let v2 = try tiny("mobilenetv2", size: 64, classes: 5)
    #expect(v2.headLayerNames == ["global_average_pooling2d", "predictions"])
    #expect(v2.trunkLayerNames.prefix(4) == ["Conv1", "bn_Conv1", "Conv1_relu", "expanded_conv_depthwise"])
    // Keras adds where shapes allow: at alpha 0.25 also expanded_conv (8 -> 8 channels), unlike alpha 1 (32 -> 16).
    #expect(v2.trunkLayerNames.filter { $0.hasSuffix("_add") }.count == 11 && v2.trunkLayerNames.contains("expanded_conv_add"))
    #expect(try Zoo.entry(named: "mobilenetv2").spec().trunkLayerNames.filter { $0.hasSuffix("_add") }.count == 10)
    // _make_divisible(32 · 0.25) = 8; Conv_1 stays 1280 for alpha <= 1.
    #expect((v2.layer(named: "Conv1") as? Conv2D)?.outChannels == 8)
    #expect(v2.spec.trunkOutputShape == [1280, 2, 2])
    #expect(MobileNet.makeDivisible(1280 * 1.4) == 1792 && MobileNet.makeDivisible(16 * 0.35) == 8 && MobileNet.makeDivisible(96 * 0.35) == 32)
    // correct_pad: (0, 1) on an even side, (1, 1) on an odd one.
    #expect(v2.trunk.graph.node(named: "block_1_pad")?.layer as? ZeroPadding2DKind == ZeroPadding2DKind(top: 0, bottom: 1, left: 0, right: 1))
    let odd = try tiny("mobilenetv2", size: 66)
    #expect(odd.trunk.graph.node(named: "block_3_pad")?.layer as? ZeroPadding2DKind == ZeroPadding2DKind(top: 1, bottom: 1, left: 1, right: 1))
    // The CIFAR stem: stride 1, a 32 px input keeps a 2x2 map at the end.
    let cifar = try tiny("mobilenetv2", size: 32) { $0.cifarStem = true }
    #expect(conv(cifar, "Conv1").stride == [1, 1] && cifar.spec.trunkOutputShape == [1280, 2, 2])
    #expect(try tiny("mobilenetv2", size: 32).spec.trunkOutputShape == [1280, 1, 1])

    for model in [m, v2] {
        model.setTraining(false)
        let y = withoutGradients { model(randomInput([2, 3, 64, 64])) }.value
        #expect(y.shape == [2, 5])
        for r in 0..<2 { #expect(abs((0..<5).map { y[flat: r * 5 + $0] }.reduce(0, +) - 1) < 1e-5) }
    }
}

@Test(arguments: ["mobilenet", "mobilenetv2"])
func mobileNetFreezesByKerasLayerName(name: String) throws {
    let m = try tiny(name, size: 64)
    let head = name == "mobilenet" ? "conv_preds" : "predictions"
    m.freezeTrunk()
    #expect(m.namedParameters().filter { $0.1.requiresGrad }.map(\.0) == [head + ".weight", head + ".bias"])
    m.unfreezeAll()
    let block = name == "mobilenet" ? "conv_pw_6_relu" : "block_6"   // a layer name, or a block prefix
    let next = name == "mobilenet" ? "conv_dw_7.weight" : "block_7_expand.weight"
    _ = try m.freeze(upTo: block)
    #expect(m.parameter(at: next)?.isFrozen == false)
    #expect(m.parameter(at: (name == "mobilenet" ? "conv_pw_6_bn" : "block_6_project_BN") + ".weight")?.isFrozen == true)
}

@Test func mobileNetRebuildAndExtendTheConvolutionalHead() throws {
    let m = try tiny("mobilenet", size: 64, classes: 5) { $0.classifierActivation = .linear }
    m.setTraining(false)
    let x = randomInput([3, 3, 64, 64], seed: 9)
    let before = withoutGradients { m(x) }.value
    let old = try #require(m.layer(named: "conv_preds") as? Conv2D)
    try m.extendHead(by: 3)
    let wide = try #require(m.layer(named: "conv_preds") as? Conv2D)
    #expect(wide.outChannels == 8 && wide.weight.shape == [8, 256, 1, 1])
    #expect(Array(wide.weight.value.scalars.prefix(5 * 256)) == old.weight.value.scalars)
    #expect(Array(wide.bias!.value.scalars.prefix(5)) == old.bias!.value.scalars)
    #expect(m.head.graph.node(named: "reshape_2")?.layer as? ReshapeKind == ReshapeKind(targetShape: [8]))
    let after = withoutGradients { m(x) }.value
    #expect(after.shape == [3, 8])
    var worst: Float = 0
    for r in 0..<3 { for c in 0..<5 { worst = max(worst, abs(after[flat: r * 8 + c] - before[flat: r * 5 + c])) } }
    #expect(worst <= 1e-5, "old logits moved by \(worst)")
    // The head stays linear (logits) and keeps its pooling and dropout.
    #expect(m.headLayerNames == ["global_average_pooling2d", "dropout", "conv_preds", "reshape_2", "predictions"])
    #expect((m.head.graph.node(named: "predictions")?.layer as? ActivationKind)?.activation == .linear)

    // keras.applications.MobileNet(classes: 4, pooling max) is what rebuildHead builds.
    try m.rebuildHead(classCount: 4, pooling: .globalMax, classifierActivation: .softmax)
    #expect(m.headLayerNames == ["global_max_pooling2d", "dropout", "conv_preds", "reshape_2", "predictions"])
    #expect((m.layer(named: "conv_preds") as? Conv2D)?.outChannels == 4)
    #expect(withoutGradients { m(x) }.shape == [3, 4])
    #expect(throws: ZooError.self) { try m.rebuildHead(classCount: 4, pooling: .flatten) }

    let notop = try tiny("mobilenet", size: 64) { $0.includeTop = false }
    #expect(notop.headPath == nil)
    try notop.rebuildHead(classCount: 2)
    #expect(notop.headPath == "conv_preds" && notop.headLayerNames.first == "global_average_pooling2d")

    let v2 = try tiny("mobilenetv2", size: 64, classes: 5) { $0.classifierActivation = .linear }
    try v2.extendHead(by: 2)
    #expect((v2.layer(named: "predictions") as? ExtendedDense)?.outputSize == 7)
}

/// A few SGD steps on a fixed batch lower the loss (gradients flow through ReLU6, depthwise, the
/// residual adds and the convolutional head).
@Test(arguments: ["mobilenet", "mobilenetv2"])
func mobileNetTrainingStepLowersTheLoss(name: String) throws {
    let m = try tiny(name, size: 32, classes: 3) { $0.classifierActivation = .linear; $0.dropout = 0 }
    m.setTraining(true)
    let x = randomInput([4, 3, 32, 32], seed: 3)
    let labels = [0, 1, 2, 1]
    var losses: [Float] = []
    for _ in 0..<4 {
        m.zeroGrad()
        let loss = softmaxCrossEntropy(logits: m(x), labels: labels)
        losses.append(loss.value[flat: 0])
        loss.backward()
        for (_, p) in m.namedParameters() where p.requiresGrad {
            guard let g = p.grad else { continue }
            p.value = Tensor(shape: p.shape, scalars: zip(p.value.scalars, g.scalars).map { $0 - 0.01 * $1 })
        }
    }
    #expect(losses.last! < losses.first!, "\(name): \(losses)")
    let dw = name == "mobilenet" ? "conv_dw_1.weight" : "block_1_depthwise.weight"
    #expect(m.parameter(at: dw)?.grad?.scalars.contains { $0 != 0 } == true)
}
