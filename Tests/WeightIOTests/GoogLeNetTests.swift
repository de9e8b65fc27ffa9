import Foundation
import Testing
import TensorCore
import NN
@testable import Zoo
import WeightIO

/// torchvision's GoogLeNet at width 1/8, 64 px, 5 classes (scripts/make_googlenet_fixtures.py: random
/// weights and BatchNorm statistics, written in the Keras-2 layout with Graft's layer names), imported
/// strictly and run: probabilities, block probes, and the oneDNN plan.
@Test func googLeNetMatchesTorchvision() throws {
    let m = try Zoo.build("googlenet", ZooOptions(inputSize: 64, classCount: 5, widthMultiplier: 0.125))
    let report = try m.importWeights(from: Fixture.path("googlenet_w8_64.h5"))
    #expect(report.loaded.count == m.namedParameters().count)
    #expect(m.trainableParameterCount == 90_765)   // torchvision's sum(p.numel() for p in parameters())
    m.setTraining(false)
    let root = try HDF5File.open(Fixture.path("googlenet_w8_64_io.h5")).root()
    let x = try root.dataset("input").readTensor()              // NCHW, as torch has it
    let ref = try root.dataset("output").readTensor()
    let (y, seen) = forwardRecording(m, x)
    print("parity googlenet_w8_64: max |Δp| = \(y.maxAbsDifference(ref))")
    #expect(y.shape == ref.shape)
    #expect(y.maxAbsDifference(ref) < 1e-4, "max |Δp| = \(y.maxAbsDifference(ref))")
    for layer in ["conv3_relu", "inception3a", "inception4e", "inception5b"] {
        let probe = try root.dataset("activations/\(layer)").readTensor()
        let ours = try #require(seen[layer], "no layer \(layer)")
        #expect(ours.shape == probe.shape, "\(layer)")
        print("parity googlenet_w8_64 \(layer): relative error \(relativeError(ours, probe))")
        #expect(relativeError(ours, probe) < 1e-4, "\(layer): relative error \(relativeError(ours, probe))")
    }
    // The oneDNN plan: every trunk node native, ceil-mode pools included.
    let plan = InferencePlan(m)
    let planned = plan(x)
    #expect(planned.maxAbsDifference(ref) < 1e-4, "plan: max |Δp| = \(planned.maxAbsDifference(ref))")
    #expect(plan.nativeFailures == 0)
    #expect(plan.moduleLayers.allSatisfy { !m.trunkLayerNames.contains($0) }, "\(plan.moduleLayers)")
}

/// BVLC GoogLeNet (deploy.prototxt in PyTorch, scripts/make_googlenet_caffe_fixtures.py) at width 1/8, 64 px,
/// 5 classes, from a Caffe HDF5 file whose `/` layer names are nested groups (`data/conv1/7x7_s2/0`).
@Test func googLeNetCaffeMatchesThePrototxt() throws {
    let m = try Zoo.build("googlenet-caffe", ZooOptions(inputSize: 64, classCount: 5, widthMultiplier: 0.125))
    let file = try readWeightFile(path: Fixture.path("googlenet_caffe_w8_64.h5"))
    #expect(file.format == .caffe && file.layer("conv1/7x7_s2") != nil && file.layer("inception_5b/pool_proj") != nil)
    let report = try m.importWeights(file)
    #expect(report.loaded.count == m.namedParameters().count && report.legacyNames["loss3/classifier"] == "loss3_classifier")
    #expect(m.parameterCount == 95_807)
    m.setTraining(false)
    let root = try HDF5File.open(Fixture.path("googlenet_caffe_w8_64_io.h5")).root()
    let x = try root.dataset("input").readTensor()
    let ref = try root.dataset("output").readTensor()
    let (y, seen) = forwardRecording(m, x)
    print("parity googlenet_caffe_w8_64: max |Δp| = \(y.maxAbsDifference(ref))")
    #expect(y.maxAbsDifference(ref) < 1e-4, "max |Δp| = \(y.maxAbsDifference(ref))")
    for layer in ["conv2_norm2", "inception_3a_output", "inception_4e_output", "inception_5b_output"] {
        let probe = try root.dataset("activations/\(layer)").readTensor()
        let ours = try #require(seen[layer], "no layer \(layer)")
        print("parity googlenet_caffe_w8_64 \(layer): relative error \(relativeError(ours, probe))")
        #expect(relativeError(ours, probe) < 1e-4, "\(layer): relative error \(relativeError(ours, probe))")
    }
    let plan = InferencePlan(m)
    #expect(plan(x).maxAbsDifference(ref) < 1e-4)
    #expect(plan.nativeFailures == 0)
}

/// Full-width torchvision.models.googlenet(aux_logits=False) at 64 px, 5 classes, with the hash weights
/// (Keras layout, kernels sqrt(75 / fan_in) * h, see scripts/make_googlenet_fixtures.py).
@Test func fullWidthGoogLeNetWithHashWeightsMatchesTorchvision() throws {
    let m = try Zoo.build("googlenet", ZooOptions(inputSize: 64, classCount: 5))
    m.setTraining(false)
    let map = try m.kerasWeightMap()
    let list = try String(contentsOfFile: Fixture.path("googlenet_64_weights.txt"), encoding: .utf8)
    try fillHashWeights(m, map: map, list: list, tensor: inceptionHashTensor)
    let root = try HDF5File.open(Fixture.path("googlenet_64_io.h5")).root()
    let x = try root.dataset("input").readTensor()
    let ref = try root.dataset("output").readTensor()
    let (y, seen) = forwardRecording(m, x)
    print("parity googlenet_64: max |Δp| = \(y.maxAbsDifference(ref))")
    #expect(y.maxAbsDifference(ref) < 1e-4, "max |Δp| = \(y.maxAbsDifference(ref))")
    for layer in ["inception3b", "inception4e", "inception5b"] {
        let probe = try root.dataset("activations/\(layer)").readTensor()
        let ours = try #require(seen[layer], "no layer \(layer)")
        let first = Tensor(shape: probe.shape, scalars: Array(ours.scalars.prefix(probe.count)))
        print("parity googlenet_64 \(layer): relative error \(relativeError(first, probe))")
        #expect(relativeError(first, probe) < 1e-4, "\(layer): relative error \(relativeError(first, probe))")
    }
    #expect(InferencePlan(m)(x).maxAbsDifference(ref) < 1e-4)
}
