import Foundation
import TensorCore
import Testing
@testable import WeightIO

@Suite struct WeightWritersTests {
    func leftovers(_ dir: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains(".tmp-") }
    }

    @Test func nativeCheckpointRoundTripIsBitExact() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("model.graft.h5").path
        let odd: [Float] = [0, -0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude, -.infinity, 1.0 / 3.0]
        let params: [(path: String, value: Tensor)] = [
            ("block1_conv1.weight", Tensor(shape: [2, 1, 3, 1], scalars: odd)),
            ("block1_conv1.bias", Tensor(shape: [2], scalars: [0.25, -7])),
            ("layer2.0.bn1.runningVar", Tensor(shape: [3], scalars: [1, 2, 3])),
            ("a_scalar", Tensor(shape: [], scalars: [42])),
            ("fc.weight", Tensor(shape: [2, 2], scalars: [1, 2, 3, 4])),
        ]
        let attributes = ["architecture": "vgg16", "class_names": #"["cat","dog"]"#, "input_size": "224"]
        try writeNativeCheckpoint(path: path, parameters: params, attributes: attributes)
        #expect(try leftovers(dir).isEmpty)

        let checkpoint = try readNativeCheckpoint(path: path)
        #expect(checkpoint.attributes == attributes.merging(["graft_format": "1"]) { a, _ in a })
        #expect(checkpoint.parameters.map(\.name) == params.map(\.path))   // saved order, not alphabetical
        for (saved, read) in zip(params, checkpoint.parameters) {
            #expect(read.shape == saved.value.shape && bits(read.value) == bits(saved.value), "\(saved.path)")
        }
        #expect(try HDF5File.open(path).root().kind(of: "params/block1_conv1.weight") == .dataset)

        // The odd values include -inf, which the default read policy refuses.
        let file = try readWeightFile(path: path, policy: WeightReadPolicy(allowNonFiniteWeights: true))
        #expect(file.format == .graftNative && file.attributes["architecture"] == "vgg16")
        #expect(file.layers.map(\.name) == ["block1_conv1", "layer2.0.bn1", "a_scalar", "fc"])
        #expect(file.layer("block1_conv1")?.tensors.map(\.name) == ["weight", "bias"])
    }

    @Test func keras2WriterOutputReadsBackAsItsInput() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        for fixture in ["lenet5_tfkeras.h5", "resnet18_small_tfkeras.h5"] {
            let source = try readWeightFile(path: Fixture.path(fixture))
            let path = dir.appendingPathComponent("out_" + fixture).path
            try writeKeras2Weights(path: path, layers: source.layers)
            let back = try readWeightFile(path: path)
            #expect(back.format == .keras2Weights && back.kerasVersion == "2.21.0" && back.backend == "tensorflow")
            #expect(back.layers.map(\.name) == source.layers.map(\.name))
            expectSameWeights(back.layers, source.layers)

            let root = try HDF5File.open(path).root()
            #expect(try root.attribute("backend") == .string("tensorflow"))
            let layerNames = try root.attribute("layer_names")
            #expect(layerNames == .strings(source.layers.map(\.name)))
            #expect(try root.group(source.layers[0].name).attribute("weight_names") == .numbers([], shape: [0]))
        }
        let root = try HDF5File.open(dir.appendingPathComponent("out_lenet5_tfkeras.h5").path).root()
        #expect(try root.group("conv1").stringArrayAttribute("weight_names") == ["conv1/kernel:0", "conv1/bias:0"])
        #expect(try root.dataset("conv1/conv1/kernel:0").shape == [5, 5, 1, 6])
        #expect(try leftovers(dir).isEmpty)
    }

    @Test func keras2WriterSplitsLargeLayerNamesLikeTFKeras() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("many.h5").path
        let long = String(repeating: "x", count: 90)
        let layers = (0..<1500).map { LayerWeights(name: "\(long)_\(String(format: "%04d", $0))", tensors: []) }
        try writeKeras2Weights(path: path, layers: layers)
        let root = try HDF5File.open(path).root()
        #expect(!root.hasAttribute("layer_names") && root.hasAttribute("layer_names0") && root.hasAttribute("layer_names2"))
        #expect(try readWeightFile(path: path).layers.map(\.name) == layers.map(\.name))
    }

    @Test func failedWriteRemovesTemporaryAndKeepsDestination() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("keep.h5").path
        try writeNativeCheckpoint(path: path, parameters: [("w", Tensor(shape: [1], scalars: [7]))])
        let before = try Data(contentsOf: URL(fileURLWithPath: path))

        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try writeAtomically(to: path) { temporary in
                let file = try HDF5File.create(temporary)
                try file.root().writeDataset("half", Tensor(shape: [1], scalars: [1]))
                #expect(FileManager.default.fileExists(atPath: temporary))
                throw Boom()
            }
        }
        let duplicate = expectWeightIOError {
            try writeKeras2Weights(path: path, layers: [LayerWeights(name: "a", tensors: []), LayerWeights(name: "a", tensors: [])])
        }
        #expect(duplicate?.kind == .malformed && duplicate?.layer == "a")
        let badShape = expectWeightIOError {
            try writeKeras2Weights(path: path, layers: [LayerWeights(name: "d", tensors: [
                NamedTensor(name: "kernel", shape: [3, 3], value: Tensor(shape: [2], scalars: [1, 2]))])])
        }
        #expect(badShape?.tensor == "kernel")
        let slash = expectWeightIOError { try writeNativeCheckpoint(path: path, parameters: [("a/b", Tensor(shape: [1], scalars: [1]))]) }
        #expect(slash?.kind == .malformed)
        // A failure inside HDF5 (the destination directory does not exist) names the destination.
        let nowhere = dir.appendingPathComponent("no/such/dir/x.h5").path
        let hdf5Failure = expectWeightIOError { try writeNativeCheckpoint(path: nowhere, parameters: []) }
        #expect(hdf5Failure?.kind == .writeFailed && hdf5Failure?.file == nowhere)

        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(try readNativeCheckpoint(path: path)["w"]?.scalars == [7])
        #expect(try leftovers(dir).isEmpty)
    }
}
