import Foundation
import TensorCore
import Testing
@testable import WeightIO

@Suite struct WeightFileTests {
    static let lenetLayers = ["input", "conv1", "pool1", "conv2", "pool2", "flatten", "fc1", "fc2", "predictions"]
    static let lenetWeighted = ["conv1", "conv2", "fc1", "fc2", "predictions"]

    func lenet() throws -> WeightFile { try readWeightFile(path: Fixture.path("lenet5_tfkeras.h5")) }

    @Test func detectsEachFormatFromContent() throws {
        let cases: [(String, WeightFileFormat)] = [
            ("lenet5_tfkeras.h5", .keras2Weights), ("lenet5_split_names.h5", .keras2Weights),
            ("lenet5_keras1.h5", .keras2Weights), ("lenet5_tfkeras_full.h5", .keras2FullModel),
            ("lenet5_keras3.weights.h5", .keras3Weights), ("lenet5_caffe.h5", .caffe),
            ("caffe_batchnorm.h5", .caffe), ("vgg_small_nested.h5", .keras2Weights),
        ]
        for (name, format) in cases { #expect(try detectWeightFileFormat(path: Fixture.path(name)) == format, "\(name)") }
        let error = expectWeightIOError { _ = try readWeightFile(path: Fixture.path("formats_misc.h5")) }
        #expect(error?.kind == .unrecognizedFormat)
        #expect(error?.description.hasPrefix(Fixture.path("formats_misc.h5")) == true)
    }

    @Test func readsTFKerasWeightsInLayerNamesAndWeightNamesOrder() throws {
        let file = try lenet()
        #expect(file.kerasVersion == "2.21.0" && file.backend == "tensorflow" && file.modelConfigJSON == nil)
        #expect(file.layers.map(\.name) == Self.lenetLayers)
        #expect(file.layersWithWeights.map(\.name) == Self.lenetWeighted)
        let conv1 = try #require(file.layer("conv1"))
        #expect(conv1.tensors.map(\.name) == ["kernel", "bias"])
        #expect(conv1.tensors.map(\.shape) == [[5, 5, 1, 6], [6]])
        #expect(file.layer("fc1")?[tensor: "kernel"]?.shape == [400, 120])
        #expect(file.layer("pool1")?.tensors.isEmpty == true)
        // Values are real (non-trivial) weights, not zeros.
        #expect(conv1.tensors[0].value.scalars.contains { abs($0) > 0.1 })
    }

    @Test func fullModelFileMatchesWeightsFileAndCarriesConfig() throws {
        let full = try readWeightFile(path: Fixture.path("lenet5_tfkeras_full.h5"))
        #expect(full.format == .keras2FullModel && full.kerasVersion == "2.21.0")
        #expect(full.modelConfigJSON?.contains("\"lenet5\"") == true)
        #expect(full.layer("conv1")?.className == "Conv2D")
        #expect(full.layer("pool1")?.className == "AveragePooling2D")
        expectSameWeights(full.layers, try lenet().layers)
    }

    @Test func splitLayerNamesAreConcatenated() throws {
        let root = try HDF5File.open(Fixture.path("lenet5_split_names.h5")).root()
        #expect(!root.hasAttribute("layer_names") && root.hasAttribute("layer_names1"))
        let split = try readWeightFile(path: Fixture.path("lenet5_split_names.h5"))
        #expect(split.layers.map(\.name) == Self.lenetLayers)
        expectSameWeights(split.layers, try lenet().layers)
    }

    @Test func keras1FixedLengthNamesMapToCanonicalNames() throws {
        let old = try readWeightFile(path: Fixture.path("lenet5_keras1.h5"))
        #expect(old.kerasVersion == "1.2.2" && old.backend == "tensorflow")
        #expect(old.layers.map(\.name) == Self.lenetLayers)
        expectSameWeights(old.layers, try lenet().layers)
        #expect(canonicalTensorName("block1_conv1_W_1:0", layer: "block1_conv1") == "kernel")
        #expect(canonicalTensorName("block1_conv1_b_1:0", layer: "block1_conv1") == "bias")
        #expect(canonicalTensorName("bn2a_branch2a_gamma:0", layer: "bn2a_branch2a") == "gamma")
        #expect(canonicalTensorName("bn2a_branch2a_running_mean:0", layer: "bn2a_branch2a") == "moving_mean")
        #expect(canonicalTensorName("bn2a_branch2a_running_std:0", layer: "bn2a_branch2a") == "moving_variance")
        #expect(canonicalTensorName("res2a_branch2a_W:0", layer: "res2a_branch2a") == "kernel")
        #expect(canonicalTensorName("kernel:0", layer: "x") == "kernel")
        #expect(canonicalTensorName("odd_thing:0", layer: "x") == "odd_thing")
    }

    @Test func keras3WeightsFollowModelOrderAndMatchTFKeras() throws {
        let k3 = try readWeightFile(path: Fixture.path("lenet5_keras3.weights.h5"))
        #expect(k3.format == .keras3Weights && k3.kerasVersion == nil)
        // vars@name; weighted layers in model order; weightless ones only approximately placed (keras3ModelOrder).
        #expect(k3.layersWithWeights.map(\.name) == Self.lenetWeighted)
        #expect(Set(k3.layers.map(\.name)) == Set(Self.lenetLayers))
        #expect(k3.layer("conv1")?.className == "conv2d")
        #expect(k3.layer("fc1")?.className == "dense")
        expectSameWeights(k3.layers, try lenet().layers)
        #expect(splitKeras3GroupName("conv2d_12") == ("conv2d", 12))
        #expect(splitKeras3GroupName("batch_normalization") == ("batch_normalization", 0))
    }

    @Test func keras3OrderIsExactWithinAClassAndByAddressAcrossClasses() {
        // Address order puts conv2d_10 before conv2d_2 (reused space): counters win within the class.
        let children = [HDF5Child(name: "dense", kind: .group, address: 50), HDF5Child(name: "conv2d_10", kind: .group, address: 20),
                        HDF5Child(name: "conv2d_2", kind: .group, address: 30), HDF5Child(name: "conv2d", kind: .group, address: 10),
                        HDF5Child(name: "max_pooling2d", kind: .group, address: 25)]
        #expect(keras3ModelOrder(children).map(\.name) == ["conv2d", "conv2d_2", "max_pooling2d", "conv2d_10", "dense"])
        let noAddresses = children.map { HDF5Child(name: $0.name, kind: $0.kind, address: 0) }
        #expect(keras3ModelOrder(noAddresses).map(\.name) == ["conv2d", "conv2d_2", "conv2d_10", "dense", "max_pooling2d"])
    }

    @Test func resnetBatchNormIsNamedAndOrderedTheSameInKeras2AndKeras3() throws {
        let k2 = try readWeightFile(path: Fixture.path("resnet18_small_tfkeras.h5"))
        let k3 = try readWeightFile(path: Fixture.path("resnet18_small_keras3.weights.h5"))
        let bn = try #require(k2.layer("conv2_block1_1_bn"))
        #expect(bn.tensors.map(\.name) == ["gamma", "beta", "moving_mean", "moving_variance"])
        #expect(k2.layer("conv1_conv")?.tensors.map(\.name) == ["kernel"])           // use_bias=False
        #expect(k2.layer("conv3_block1_0_conv")?.tensors.first?.shape == [1, 1, 8, 16])
        #expect(k2.layer("conv2_block1_0_conv") == nil)                              // no projection in stage 2
        #expect(k3.layer("conv2_block1_1_bn")?.className == "batch_normalization")
        // Within a class the Keras 3 order is exact; across classes it is approximate (see keras3ModelOrder).
        #expect(Set(k3.layers.map(\.name)) == Set(k2.layers.map(\.name)))
        for cls in ["conv2d", "batch_normalization", "activation", "add"] {
            let inK3 = k3.layers.filter { $0.className == cls }.map(\.name)
            #expect(inK3 == k2.layers.map(\.name).filter(Set(inK3).contains), "\(cls)")
        }
        expectSameWeights(k3.layersWithWeights.sorted { $0.name < $1.name }, k2.layersWithWeights.sorted { $0.name < $1.name })
        // Moving variance was randomised within [0.5, 2).
        #expect(bn.tensors[3].value.scalars.allSatisfy { $0 >= 0.5 && $0 < 2 })
    }

    @Test func nestedTrunkIsFlattenedToInnerLayerNames() throws {
        let nested = try readWeightFile(path: Fixture.path("vgg_small_nested.h5"))
        let names = nested.layersWithWeights.map(\.name)
        #expect(names == ["block1_conv1", "block2_conv1", "block3_conv1", "block3_conv2", "block4_conv1",
                          "block4_conv2", "block5_conv1", "block5_conv2", "head"])
        #expect(nested.layer("vgg_small_trunk") == nil)
        #expect(nested.layer("block3_conv2")?.tensors.map(\.shape) == [[3, 3, 32, 32], [32]])
        #expect(splitKeras2WeightName("vgg16/block1_conv1/kernel:0", group: "vgg16", nested: true) == ("block1_conv1", "kernel"))
        #expect(splitKeras2WeightName("block1_conv1/kernel:0", group: "vgg16", nested: nil) == ("block1_conv1", "kernel"))
        #expect(splitKeras2WeightName("c1/kernel:0", group: "c1", nested: nil) == ("c1", "kernel"))
        #expect(splitKeras2WeightName("lstm/lstm_cell/kernel:0", group: "lstm", nested: false) == ("lstm", "lstm_cell/kernel"))
    }

    @Test func caffeLayoutIsReadInNetOrderWithOIHWKernelsAndCHWFlatten() throws {
        let caffe = try readWeightFile(path: Fixture.path("lenet5_caffe.h5"))
        #expect(caffe.layers.map(\.name) == Array(Self.lenetLayers.dropFirst()))   // net order, not alphabetical
        let keras = try lenet()
        let kConv = try #require(keras.layer("conv2")?[tensor: "kernel"]), cConv = try #require(caffe.layer("conv2")?[tensor: "kernel"])
        #expect(cConv.shape == [16, 6, 5, 5] && caffe.layer("conv2")?.className == "Convolution")
        let k = kConv.value.scalars, c = cConv.value.scalars   // HWIO (5,5,6,16) vs OIHW (16,6,5,5)
        for (o, i, h, w) in [(0, 0, 0, 0), (15, 5, 4, 3), (7, 2, 1, 4)] {
            #expect(c[((o * 6 + i) * 5 + h) * 5 + w] == k[((h * 5 + w) * 6 + i) * 16 + o])
        }
        let kFC = try #require(keras.layer("fc1")?[tensor: "kernel"]), cFC = try #require(caffe.layer("fc1")?[tensor: "kernel"])
        #expect(cFC.shape == [120, 400] && caffe.layer("fc1")?.className == "InnerProduct")
        for (o, ch, h, w) in [(0, 0, 0, 1), (119, 15, 4, 4), (33, 9, 2, 3)] {   // caffe input index c*25+h*5+w, keras (h*5+w)*16+c
            #expect(cFC.value.scalars[o * 400 + ch * 25 + h * 5 + w] == kFC.value.scalars[((h * 5 + w) * 16 + ch) * 120 + o])
        }
        #expect(bits(try #require(caffe.layer("predictions")?[tensor: "bias"]).value)
                == bits(try #require(keras.layer("predictions")?[tensor: "bias"]).value))
    }

    @Test func caffeBatchNormIsUnscaledAndScaleBecomesGammaBeta() throws {
        let file = try readWeightFile(path: Fixture.path("caffe_batchnorm.h5"))
        #expect(file.layers.map(\.name) == ["conv1", "bn_conv1", "scale_conv1", "relu1", "a_pool"])
        let bn = try #require(file.layer("bn_conv1"))
        #expect(bn.className == "BatchNorm" && bn.tensors.map(\.name) == ["moving_mean", "moving_variance"])
        for (got, want) in zip(bn.tensors[0].value.scalars + bn.tensors[1].value.scalars, [Float(2), -4, 1.5, 3]) {
            #expect(abs(got - want) <= 1e-5 * abs(want))
        }
        #expect(file.layer("scale_conv1")?.tensors.map(\.name) == ["gamma", "beta"])
        #expect(file.layer("conv1")?.tensors.map(\.name) == ["kernel"])
        #expect(file.layer("relu1")?.tensors.isEmpty == true)
    }

    @Test func theanoBackendIsReported() throws {
        let file = try readWeightFile(path: Fixture.path("keras2_theano.h5"))
        #expect(file.backend == "theano" && file.kerasVersion == "2.0.8")
        #expect(file.layer("conv")?.tensors.map(\.shape) == [[2, 2, 1, 3], [3]])
    }

    @Test func integerKernelAndMissingDatasetNameFileLayerAndTensor() throws {
        let intPath = Fixture.path("keras2_int_kernel.h5")
        let intError = expectWeightIOError { _ = try readWeightFile(path: intPath) }
        #expect(intError?.kind == .unsupportedType)
        #expect(intError?.layer == "dense_int" && intError?.tensor == "dense_int/kernel:0")
        #expect(intError?.description.hasPrefix("\(intPath): layer 'dense_int', tensor 'dense_int/kernel:0': ") == true)
        let missingPath = Fixture.path("keras2_missing_dataset.h5")
        let missing = expectWeightIOError { _ = try readWeightFile(path: missingPath) }
        #expect(missing?.kind == .missingObject)
        #expect(missing?.description.hasPrefix("\(missingPath): layer 'dense_missing', tensor 'dense_missing/bias:0': ") == true)
    }

    @Test func otherSmallModelsReadWithExpectedShapes() throws {
        let alex = try readWeightFile(path: Fixture.path("alexnet_small_tfkeras.h5"))
        #expect(alex.layersWithWeights.map(\.name) == ["conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "predictions"])
        #expect(alex.layer("conv1")?[tensor: "kernel"]?.shape == [11, 11, 3, 16])
        #expect(alex.layer("fc6")?[tensor: "kernel"]?.shape == [64, 256])
        let vgg = try readWeightFile(path: Fixture.path("vgg_small_tfkeras.h5"))
        #expect(vgg.layersWithWeights.count == 11 && vgg.layer("block5_pool") != nil)
        #expect(vgg.layer("predictions")?[tensor: "kernel"]?.shape == [64, 3])
    }

    @Test func referenceIOFilesAreReadable() throws {
        for (name, input, output) in [("lenet5", [2, 28, 28, 1], [2, 10]), ("alexnet_small", [2, 64, 64, 3], [2, 5]),
                                      ("vgg_small", [2, 32, 32, 3], [2, 3]), ("resnet18_small", [2, 32, 32, 3], [2, 4])] {
            let root = try HDF5File.open(Fixture.zooPath("\(name)_io.h5")).root()
            #expect(try root.dataset("input").shape == input, "\(name)")
            let probabilities = try root.dataset("output").readTensor()
            #expect(probabilities.shape == output, "\(name)")
            #expect(abs(probabilities.scalars.reduce(0, +) - 2) < 1e-4, "\(name): two softmax rows")
        }
    }
}
