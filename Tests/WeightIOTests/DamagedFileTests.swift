import CHDF5
import Foundation
import Testing
import TensorCore
import Zoo
@testable import WeightIO

/// Damaged files, each made here from a file Graft wrote (byte-patched or rewritten through libhdf5):
/// every one is refused with one error naming the file, quickly, before anything large is allocated.
@Suite struct DamagedFileTests {
    /// A Keras 3 weights file with one dense layer: kernel [4099, 3], bias [3].
    static func keras3File(_ path: String, kernel: Tensor = Tensor(shape: [4099, 3], repeating: 0.5)) throws {
        let file = try HDF5File.create(path)
        let root = try file.root()
        try root.writeDataset("layers/dense/vars/0", kernel)
        try root.writeDataset("layers/dense/vars/1", Tensor(shape: [3], repeating: 0))
        try file.close()
    }

    /// Rewrites every stored (4099, 3) dimension pair (current and maximum extent) as `dims`.
    static func patchDims(_ path: String, to dims: (UInt64, UInt64)) throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        func le(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
        let pattern = le(4099) + le(3)
        var patched = 0
        var i = 0
        while i + pattern.count <= bytes.count {
            if Array(bytes[i..<(i + pattern.count)]) == pattern {
                bytes.replaceSubrange(i..<(i + 16), with: le(dims.0) + le(dims.1))
                patched += 1
                i += 16
            } else {
                i += 1
            }
        }
        #expect(patched >= 1, "no dimension pair found to patch")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    static func refusal(_ path: String, policy: WeightReadPolicy = WeightReadPolicy()) -> WeightIOError? {
        expectWeightIOError { _ = try readWeightFile(path: path, policy: policy) }
    }

    @Test func theUndamagedFileReads() throws {
        let dir = try makeTemporaryDirectory()
        let path = dir.appendingPathComponent("k3.weights.h5").path
        try Self.keras3File(path)
        let file = try readWeightFile(path: path, policy: WeightReadPolicy())
        #expect(file.layer("dense")?[tensor: "kernel"]?.shape == [4099, 3])
    }

    @Test func dimensionsWhoseProductOverflowsAreRefused() throws {
        let dir = try makeTemporaryDirectory()
        let path = dir.appendingPathComponent("overflow.h5").path
        try Self.keras3File(path)
        try Self.patchDims(path, to: (1 << 62, 1 << 62))
        let error = Self.refusal(path)
        #expect(error?.file == path)
        #expect(error?.kind == .malformed)
        #expect(error?.description.contains("overflows") == true, "\(String(describing: error))")
    }

    @Test func aSmallFileDeclaringGigabytesIsRefusedBeforeReading() throws {
        let dir = try makeTemporaryDirectory()
        let path = dir.appendingPathComponent("huge.h5").path
        try Self.keras3File(path)
        try Self.patchDims(path, to: (1 << 31, 3))   // 24 GiB of float32 in a 50 KB file
        let started = Date()
        let error = Self.refusal(path)
        #expect(Date().timeIntervalSince(started) < 5)
        #expect(error?.file == path)
        #expect(error?.tensor == "vars/0")
        #expect(error?.description.contains("more than the file") == true, "\(String(describing: error))")
    }

    @Test func aHardLinkCycleInAKeras3LayersGroupIsRefused() throws {
        let dir = try makeTemporaryDirectory()
        let path = dir.appendingPathComponent("cycle.weights.h5").path
        let file = try HDF5File.create(path)
        let root = try file.root()
        try root.createGroup("layers/functional/layers")
        // layers/functional/layers/loop -> /layers/functional: read it and it contains itself.
        #expect(H5Lcreate_hard(root.id, "layers/functional", root.id, "layers/functional/layers/loop",
                               chdf5_p_default(), chdf5_p_default()) >= 0)
        try file.close()
        let error = Self.refusal(path)
        #expect(error?.file == path)
        #expect(error?.description.contains("link cycle") == true, "\(String(describing: error))")
    }

    @Test func nestingDeeperThanTheLimitIsRefused() throws {
        let dir = try makeTemporaryDirectory()
        let path = dir.appendingPathComponent("deep.weights.h5").path
        let file = try HDF5File.create(path)
        let deep = Array(repeating: "layers/functional", count: GroupWalk.maxDepth + 2).joined(separator: "/")
        try file.root().createGroup(deep + "/layers")
        try file.close()
        let error = Self.refusal(path)
        #expect(error?.file == path)
        #expect(error?.description.contains("deeper than") == true, "\(String(describing: error))")
    }

    @Test func nonFiniteWeightsAreRefusedNamingTheTensorUnlessAllowed() throws {
        let dir = try makeTemporaryDirectory()
        let path = dir.appendingPathComponent("nan.weights.h5").path
        var kernel = Tensor(shape: [4, 3], repeating: 1)
        kernel.withUnsafeMutableBufferPointer { $0[5] = .nan; $0[7] = .infinity }
        try Self.keras3File(path, kernel: kernel)
        let error = Self.refusal(path)
        #expect(error?.file == path)
        #expect(error?.layer == "dense")
        #expect(error?.tensor == "kernel")
        #expect(error?.description.contains("2 of 12") == true, "\(String(describing: error))")
        let allowed = try readWeightFile(path: path, policy: WeightReadPolicy(allowNonFiniteWeights: true))
        #expect(allowed.layer("dense")?[tensor: "kernel"]?.value[flat: 5].isNaN == true)
    }

    /// A saved lenet5 whose `zoo_options` are rewritten with `change`.
    static func nativeModel(_ path: String, _ change: (inout [String: Any]) -> Void) throws {
        let model = try Zoo.build("lenet5", ZooOptions(classCount: 10))
        let saved = path + ".orig.h5"
        try saveNativeModel(model, to: saved)
        let file = try readWeightFile(path: saved, policy: WeightReadPolicy())
        var attributes = file.attributes
        var options = try JSONSerialization.jsonObject(with: Data(attributes["zoo_options"]!.utf8)) as! [String: Any]
        change(&options)
        attributes["zoo_options"] = String(decoding: try JSONSerialization.data(withJSONObject: options), as: UTF8.self)
        try writeNativeCheckpoint(path: path, parameters: model.namedParameters().map { ($0.0, $0.1.value) }, attributes: attributes)
    }

    @Test(arguments: [("inputChannels", 2_147_483_648), ("classCount", 0), ("inputSize", -3), ("classCount", 1 << 40)])
    func nativeOptionsOutOfRangeAreRefusedNamingTheFile(key: String, value: Int) throws {
        let dir = try makeTemporaryDirectory()
        let path = dir.appendingPathComponent("bad-\(key).h5").path
        try Self.nativeModel(path) { $0[key] = value }
        let error = expectWeightIOError { _ = try loadNativeModel(path: path) }
        #expect(error?.file == path)
        #expect(error?.description.contains(key) == true, "\(String(describing: error))")
    }

    @Test func nativeOptionsThatBuildAFarLargerModelThanTheFileHoldsAreRefused() throws {
        let dir = try makeTemporaryDirectory()
        let path = dir.appendingPathComponent("big.h5").path
        try Self.nativeModel(path) { $0["inputChannels"] = 4000 }   // in range, but not what the file holds
        let error = expectWeightIOError { _ = try loadNativeModel(path: path) }
        #expect(error?.file == path)
        #expect(error?.description.contains("zoo_options") == true, "\(String(describing: error))")
    }

    @Test func aFIFOOrADeviceIsRefusedWithoutBlocking() throws {
        let dir = try makeTemporaryDirectory()
        let fifo = dir.appendingPathComponent("weights.h5").path
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect(Self.refusal(fifo)?.kind == .notHDF5)
        let zero = dir.appendingPathComponent("zero.h5").path
        try FileManager.default.createSymbolicLink(atPath: zero, withDestinationPath: "/dev/zero")
        #expect(Self.refusal(zero)?.kind == .notHDF5)
    }
}

/// The contained reader: the wire format round-trips, and a child that crashes or hangs becomes one
/// error naming the file.
@Suite struct ContainedReadTests {
    @Test func aWeightFileRoundTripsThroughTheWireFormat() throws {
        let dir = try makeTemporaryDirectory()
        let source = Fixture.path("lenet5_keras3.weights.h5")
        let original = try readWeightFileInProcess(path: source)
        let wire = dir.appendingPathComponent("wire").path
        let out = open(wire, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        try encodeWeightFile(original, to: FrameWriter(fd: out))
        close(out)
        let input = open(wire, O_RDONLY)
        defer { close(input) }
        let again = try decodeWeightFile(ContainedStream(fd: input), maxElements: 1 << 30)
        #expect(again.format == original.format)
        #expect(again.path == original.path)
        expectSameWeights(again.layers, original.layers)
    }

    @Test func aChildKilledByASignalIsReportedAsADamagedFile() throws {
        let path = Fixture.path("lenet5_keras3.weights.h5")
        let reader = ContainedReader(command: ["/bin/sh", "-c", "kill -SEGV $$", "sh"])
        let error = expectWeightIOError { _ = try readWeightFile(path: path, policy: WeightReadPolicy(containment: reader)) }
        #expect(error?.description == "\(path): the HDF5 library failed reading it (the file is damaged)")
    }

    @Test func aChildThatDoesNotFinishIsKilledAtTheTimeout() throws {
        let path = Fixture.path("lenet5_keras3.weights.h5")
        var reader = ContainedReader(command: ["/bin/sh", "-c", "exec sleep 60", "sh"])
        reader.baseTimeout = 0.5
        reader.bytesPerSecond = 1e12
        let started = Date()
        let error = expectWeightIOError { _ = try readWeightFile(path: path, policy: WeightReadPolicy(containment: reader)) }
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(error?.file == path)
        #expect(error?.description.contains("did not finish") == true, "\(String(describing: error))")
    }

    @Test func aChildThatWritesGarbageIsReportedAsADamagedFile() throws {
        let path = Fixture.path("lenet5_keras3.weights.h5")
        let reader = ContainedReader(command: ["/bin/sh", "-c", "printf 'garbage'; exit 0", "sh"])
        let error = expectWeightIOError { _ = try readWeightFile(path: path, policy: WeightReadPolicy(containment: reader)) }
        #expect(error?.file == path)
        #expect(error?.kind == .corruptFile)
    }
}
