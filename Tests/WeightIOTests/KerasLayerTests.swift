import Foundation
import Testing
import TensorCore
import NN
import Zoo
@testable import WeightIO

/// WeightIO's table lists exactly the kinds the zoo knows (a kind missing its `KerasLayer`
/// conformance does not compile into the table; one missing from the table fails here).
@Test func kerasTableListsEveryZooKind() {
    #expect(KerasLayers.all.map { String(describing: $0) } == LayerKinds.names)
}

@Test func kindsFromKerasConfigs() throws {
    var dw = KerasLayerConfig(name: "dw", className: "DepthwiseConv2D")
    dw.kernelSize = [3, 3]; dw.strides = [2, 2]; dw.padding = "same"; dw.depthMultiplier = 2; dw.useBias = false; dw.activation = "relu"
    let kind = try #require(KerasLayers.kind(dw) as? DepthwiseConv2DKind)
    #expect(kind == DepthwiseConv2DKind(kernel: 3, stride: 2, padding: .same, depthMultiplier: 2, useBias: false, activation: .relu))
    #expect(kind.kerasDisagreement(dw, module: nil) == nil)
    dw.depthMultiplier = 1
    #expect(kind.kerasDisagreement(dw, module: nil)?.what == "depth_multiplier")

    var cat = KerasLayerConfig(name: "cat", className: "Concatenate")
    cat.axis = -1
    #expect(KerasLayers.kind(cat) is ConcatenateKind)
    cat.axis = 1                                           // the height of channels-last data
    #expect(KerasLayers.kind(cat) == nil)
    #expect(ConcatenateKind().kerasDisagreement(cat, module: nil)?.what == "axis")

    var pool = KerasLayerConfig(name: "p", className: "AveragePooling2D")
    pool.poolSize = [2, 2]
    #expect(KerasLayers.kind(pool) as? Pool2DKind == Pool2DKind(.average, kernel: 2, stride: 2))
    #expect(KerasLayers.className(of: Pool2DKind(.max, kernel: 2, stride: 2)) == "MaxPooling2D")
    #expect(KerasLayers.className(of: LocalResponseNormKind(size: 5, alpha: 1, beta: 1, k: 1)) == nil)
}

/// Keras `ReLU(6.0)` (MobileNet) and `Activation("relu6")` are ReLU6; other ReLU options have no kind.
@Test func reluLayerConfigsWithMaxValue() throws {
    var relu = KerasLayerConfig(name: "conv1_relu", className: "ReLU")
    #expect(KerasLayers.kind(relu) as? ActivationKind == ActivationKind(.relu))
    relu.maxValue = 6
    let kind = try #require(KerasLayers.kind(relu) as? ActivationKind)
    #expect(kind == ActivationKind(.relu6))
    #expect(kind.kerasDisagreement(relu, module: nil) == nil)
    #expect(ActivationKind(.relu).kerasDisagreement(relu, module: nil) == KerasDisagreement("activation", file: "relu6", model: "relu"))
    relu.maxValue = 4
    let clipped = try #require(KerasLayers.kind(relu) as? ActivationKind)
    #expect(clipped == ActivationKind(.thresholdedReLU(maxValue: 4, slope: 0, threshold: 0)))
    #expect(clipped.kerasDisagreement(relu, module: nil) == nil)
    #expect(kind.kerasDisagreement(relu, module: nil)?.file == "ReLU(max_value=4.0)")
    relu.maxValue = 6; relu.negativeSlope = 0.1
    #expect(KerasLayers.kind(relu) as? ActivationKind == ActivationKind(.thresholdedReLU(maxValue: 6, slope: 0.1, threshold: 0)))
    #expect(kind.kerasDisagreement(relu, module: nil) != nil)

    var act = KerasLayerConfig(name: "a", className: "Activation")
    act.activation = "relu6"
    #expect(KerasLayers.kind(act) as? ActivationKind == ActivationKind(.relu6))
    #expect(ActivationKind(.relu6).kerasDisagreement(act, module: nil) == nil)
    #expect(ActivationKind(.relu).kerasDisagreement(act, module: nil)?.what == "activation")
    // The full-model config parser reads the options.
    let json = #"{"class_name": "Functional", "config": {"layers": [{"class_name": "ReLU", "config": {"name": "r", "max_value": 6.0, "negative_slope": 0.0, "threshold": 0.0}}]}}"#
    let parsed = try parseKerasModelConfig(json)
    #expect(parsed.layers.first?.maxValue == 6 && parsed.layers.first?.negativeSlope == 0)
}

/// tf_keras's `model.layers` order for a branching graph: by decreasing depth, ties in traversal order.
@Test func kerasOrderOfABranchingGraph() throws {
    var b = GraphBuilder(shape: [3, 8, 8])
    let stem = try b.conv("stem", 4, kernel: 1)
    try b.conv("a1", 4, kernel: 1, from: stem)
    let a = try b.conv("a2", 4, kernel: 1)
    let s = try b.conv("s1", 4, kernel: 1, from: stem)
    try b.add("add", [s, a])
    try b.concatenate("cat", ["add", stem])
    let order = kerasLayerOrder(try b.graph())
    #expect(order == ["input", "stem", "a1", "s1", "a2", "add", "cat"])
}

@Test func depthwiseWeightsMapToKerasNames() throws {
    var b = GraphBuilder(shape: [3, 8, 8])
    try b.depthwiseConv("dw", kernel: 3, depthMultiplier: 2)
    let refs = try b.graph().kerasWeightRefs()
    #expect(refs.map { "\($0.layer)/\($0.weight.rawValue) \($0.kerasShape)" } == ["dw/depthwise_kernel [3, 3, 3, 2]", "dw/bias [6]"])
}

/// A Keras full-model file's architecture read as a graph is the zoo's LeNet-5 graph.
@Test func kerasModelConfigReadsAsTheZooGraph() throws {
    let file = try readWeightFile(path: Fixture.path("lenet5_tfkeras_full.h5"))
    let config = try parseKerasModelConfig(try #require(file.modelConfigJSON))
    let read = try config.graph()
    let zoo = try LeNet5.spec(ZooOptions(inputSize: 28)).graph
    #expect(read.inputShape == zoo.inputShape)
    #expect(read.nodes.map(\.name) == zoo.nodes.map(\.name))
    for (a, b) in zip(read.nodes, zoo.nodes) { #expect(a.layer.identity == b.layer.identity, "\(a.name): \(a.layer) vs \(b.layer)") }
    #expect(read.parameterShapes.map { "\($0.path) \($0.shape)" } == zoo.parameterShapes.map { "\($0.path) \($0.shape)" })
}
