import Foundation
import Testing
import TensorCore
import NN
@testable import Zoo

let fixturesDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

@Test func entriesResolveByNameAndAliasAndUnknownNamesListTheKnownOnes() throws {
    #expect(try Zoo.entry(named: "vgg16").name == "vgg16")
    #expect(try Zoo.entry(named: "ResNet-50").name == "resnet50")
    #expect(try Zoo.entry(named: "lenet-5").name == "lenet5")
    #expect(Set(Zoo.names) == ["lenet5", "alexnet", "alexnet-caffe", "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn",
                               "vgg13_bn", "vgg16_bn", "vgg19_bn", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
                               "mobilenet", "mobilenetv2", "inceptionv3", "googlenet", "googlenet-caffe"])
    do {
        _ = try Zoo.entry(named: "inception")
        Issue.record("expected unknownModel")
    } catch let e as ZooError {
        guard case let .unknownModel(n, known) = e else { Issue.record("\(e)"); return }
        #expect(n == "inception" && known.contains("resnet50"))
        #expect(e.description.contains("vgg16"))
    }
    for e in Zoo.all {
        // MobileNet's weighted output layer is its 1x1 convolution; `predictions` is the activation after it.
        let heads = ["mobilenet": "conv_preds", "googlenet": "fc", "googlenet-caffe": "loss3_classifier"]
        #expect(e.headPath == heads[e.name, default: "predictions"], "\(e.name)")
        let spec = try e.spec()
        #expect(spec.headRecipe.outputName == e.headPath, "\(e.name)")
        #expect(spec.inputShape == [e.defaultInputChannels, e.defaultInputSize, e.defaultInputSize], "\(e.name)")
        #expect(spec.preprocessing == e.preprocessing)
        // The last head layer is the weighted output, except MobileNet's, whose reshape and activation follow it.
        #expect(spec.headLayerNames.last == (e.name == "mobilenet" ? "predictions" : e.headPath), "\(e.name)")
    }
}

/// Keras's `count_params()` (BatchNorm statistics included), and torchvision's count plus the BN buffers
/// for the torchvision-shaped models. Computed from specs: nothing is allocated.
@Test(arguments: [
    ("lenet5", 61_706), ("alexnet", 61_100_840), ("alexnet-caffe", 60_965_224),
    ("vgg11", 132_863_336), ("vgg13", 133_047_848), ("vgg16", 138_357_544), ("vgg19", 143_667_240),
    ("vgg16_bn", 138_365_992 + 2 * 4224),
    ("resnet18", 11_689_512 + 2 * 4800), ("resnet50", 25_636_712), ("resnet101", 44_707_176), ("resnet152", 60_419_944),
    ("mobilenet", 4_253_864), ("mobilenetv2", 3_538_984),
    ("inceptionv3", 23_851_784), ("googlenet", 6_624_904 + 2 * 7280),
    ("googlenet-caffe", 6_998_552),
])
func parameterCountsAtDefaultsMatchKeras(name: String, count: Int) throws {
    #expect(try Zoo.entry(named: name).defaultParameterCount == count)
}

@Test func parameterCountsFollowOptions() throws {
    // VGG16 without top = Keras's notop count; with 10 classes at 32x32 fc1 is 512 -> 4096.
    #expect(try Zoo.entry(named: "vgg16").parameterCount(ZooOptions(includeTop: false)) == 14_714_688)
    #expect(try Zoo.entry(named: "resnet50").parameterCount(ZooOptions(includeTop: false)) == 23_587_712)
    let small = try Zoo.entry(named: "vgg16").parameterCount(ZooOptions(inputSize: 32, classCount: 10))
    #expect(small == 14_714_688 + (512 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 10 + 10))
    // resnet18 with a 3-class head: 512*3+3 instead of 512*1000+1000.
    #expect(try Zoo.entry(named: "resnet18").parameterCount(ZooOptions(classCount: 3)) == 11_699_112 - 513_000 + 1539)
}

/// A small input each architecture takes (InceptionV3 refuses less than 75 px, as Keras does).
func smallInputSize(_ name: String) -> Int {
    name.hasPrefix("lenet") ? 32 : name == "alexnet-caffe" ? 96 : name == "inceptionv3" ? 75 : 64
}

/// The spec (used for counts and key lists) and the materialised model agree on every path and shape.
@Test(arguments: Zoo.names)
func specAndBuiltModelAgree(name: String) throws {
    let e = try Zoo.entry(named: name)
    let o = ZooOptions(inputSize: smallInputSize(name), widthMultiplier: 0.25, dropout: 0.1)
    let spec = try e.spec(o)
    let model = try e.build(o)
    let built = model.namedParameters().map { "\($0.0) \($0.1.shape)" }
    #expect(built == spec.parameterShapes.map { "\($0.path) \($0.shape)" })
    #expect(model.parameterCount == spec.parameterCount)
    #expect(model.trunkLayerNames == spec.trunkLayerNames)
    #expect(model.headLayerNames == spec.headLayerNames)
}

/// Golden key lists (path and Graft shape at the default options) in Fixtures/keys/<model>.txt.
/// Regenerate with GRAFT_REGENERATE_KEYS=1 and review the diff against Keras's layer names.
@Test(arguments: Zoo.names)
func parameterPathsMatchGoldenKeyList(name: String) throws {
    let spec = try Zoo.entry(named: name).spec()
    let lines = spec.parameterShapes.map { "\($0.path)\t\($0.shape.map(String.init).joined(separator: "x"))" }
    let text = lines.joined(separator: "\n") + "\n"
    let url = fixturesDir.appendingPathComponent("keys/\(name).txt")
    if ProcessInfo.processInfo.environment["GRAFT_REGENERATE_KEYS"] != nil {
        try text.write(to: url, atomically: true, encoding: .utf8)
    }
    let golden = try String(contentsOf: url, encoding: .utf8)
    #expect(golden == text, "parameter paths of \(name) differ from \(url.path)")
    // The built model has the same paths (keys don't depend on width or input size).
    let small = try Zoo.entry(named: name).build(ZooOptions(inputSize: smallInputSize(name), widthMultiplier: 0.25))
    #expect(small.namedParameters().map(\.0) == spec.parameterShapes.map(\.path))
}

/// keras.applications counts (`count_params()`, checked with Keras 3.15) at other widths, input sizes
/// and class counts: MobileNet truncates int(filters · alpha), MobileNetV2 rounds with `_make_divisible`
/// and keeps Conv_1 at 1280 unless alpha > 1.
@Test(arguments: [
    ("mobilenet", 0.25, 1, 224, 1000, 475_544), ("mobilenet", 0.5, 1, 128, 10, 834_666),
    ("mobilenet", 0.75, 2, 160, 1000, 4_416_352), ("mobilenet", 0.35, 1, 64, 7, 417_034),
    ("mobilenetv2", 0.35, 1, 224, 1000, 1_691_208), ("mobilenetv2", 1.4, 1, 224, 1000, 6_156_712),
    ("mobilenetv2", 0.5, 1, 96, 10, 719_034),
])
func mobileNetParameterCountsMatchKeras(name: String, alpha: Double, depth: Int, size: Int, classes: Int, count: Int) throws {
    let o = ZooOptions(inputSize: size, classCount: classes, widthMultiplier: alpha, depthMultiplier: depth == 1 ? nil : depth)
    let n = try Zoo.entry(named: name).parameterCount(o)
    #expect(n == count, "\(name) alpha \(alpha): \(n)")
}
