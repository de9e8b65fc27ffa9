import Foundation
import TensorCore
import Testing
@testable import WeightIO

@Suite struct HDF5FileTests {
    let misc = Fixture.path("formats_misc.h5")

    @Test func readsVariableLengthStringAttributesInBothCharacterSets() throws {
        let root = try HDF5File.open(misc).root()
        #expect(try root.attribute("vlen_ascii") == .string("tensorflow"))
        #expect(try root.stringAttribute("vlen_utf8") == "réseau ✓")
        #expect(try root.stringArrayAttribute("vlen_ascii_array") == ["conv1", "pool1", "fc1"])
        #expect(try root.stringArrayAttribute("vlen_utf8_array") == ["α", "béta", "γ3"])
    }

    @Test func readsFixedLengthStringAttributes() throws {
        let root = try HDF5File.open(misc).root()
        #expect(try root.stringAttribute("fixed_scalar") == "2.0.8")
        #expect(try root.attribute("fixed_array") == .strings(["conv1", "fc10", "x"]))
    }

    @Test func readsKerasEmptyListAndNumericAttributes() throws {
        let root = try HDF5File.open(misc).root()
        #expect(try root.attribute("empty_list") == .numbers([], shape: [0]))
        #expect(try root.stringArrayAttribute("empty_list") == [])
        #expect(try root.numericAttribute("int_scalar") == [42])
        #expect(try root.numericAttribute("float_array") == [0.5, -1.25, 3.0])
        #expect(throws: WeightIOError.self) { try root.stringArrayAttribute("float_array") }
        let missing = expectWeightIOError { _ = try root.attribute("nope") }
        #expect(missing?.kind == .missingObject)
        #expect(try root.attributeNames().contains("vlen_utf8"))
    }

    @Test func listsChildrenAlphabeticallyWithKinds() throws {
        let root = try HDF5File.open(misc).root()
        #expect(try root.children().map(\.name) == ["tensors"])
        let tensors = try root.group("tensors")
        let children = try tensors.children()
        #expect(children.map(\.name) == ["f16", "f16_be", "f32", "f64", "i64", "nested", "scalar"])
        #expect(children.first { $0.name == "nested" }?.kind == .group)
        #expect(children.first { $0.name == "f32" }?.kind == .dataset)
        #expect(tensors.kind(of: "nested/deep/value") == .dataset)
        #expect(tensors.kind(of: "nested/missing/value") == nil)
        #expect(try tensors.dataset("nested/deep/value").readTensor().scalars == [1, 1, 1, 1])
    }

    @Test func convertsFloat64AndFloat16DatasetsToFloat32() throws {
        let tensors = try HDF5File.open(misc).root().group("tensors")
        let f32 = try tensors.dataset("f32").readTensor()
        #expect(f32.shape == [2, 3] && f32.scalars == [1.5, -2.0, 3.25, 0.0, 1e-3, -7.0])
        let f64 = try tensors.dataset("f64").readTensor()
        #expect(f64.shape == [2, 2])
        #expect(bits(f64) == [Float(0.1), Float(1.0 / 3.0), Float(1e-40), Float(-123456.789)].map(\.bitPattern))
        let expected: [Float] = [1.0, -2.5, 65504.0, 0x1p-14, 0x1p-24, -0.0, .infinity, -.infinity, 0.33325195]
        for name in ["f16", "f16_be"] {
            let dataset = try tensors.dataset(name)
            #expect(dataset.typeDescription == "float16")
            #expect(bits(try dataset.readTensor()) == expected.map(\.bitPattern), "\(name)")
        }
        let scalar = try tensors.dataset("scalar").readTensor()
        #expect(scalar.shape == [] && scalar.scalars == [2.5])
    }

    @Test func refusesIntegerDatasetsNamingFileAndDataset() throws {
        let tensors = try HDF5File.open(misc).root().group("tensors")
        let error = expectWeightIOError { _ = try tensors.dataset("i64").readTensor() }
        #expect(error?.kind == .unsupportedType)
        #expect(error?.description.contains("formats_misc.h5") == true)
        #expect(error?.description.contains("/tensors/i64") == true)
        #expect(error?.description.contains("int64") == true)
        #expect(try tensors.dataset("i64").readInt64() == [0, 1, 2, 3, 4, 5])
    }

    @Test func halfConversionMatchesFloat16ForEveryBitPattern() {
        #if !(os(macOS) && arch(x86_64))
        for raw in 0...UInt16.max {
            let ours = halfToFloat(raw), reference = Float(Float16(bitPattern: raw))
            if reference.isNaN {
                #expect(ours.isNaN, "0x\(String(raw, radix: 16))")
            } else if ours.bitPattern != reference.bitPattern {
                Issue.record("0x\(String(raw, radix: 16)): \(ours) vs \(reference)")
                return
            }
        }
        #endif
    }

    @Test func missingEmptyNonHDF5AndTruncatedFilesGiveOneClearError() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let empty = dir.appendingPathComponent("empty.h5").path
        #expect(FileManager.default.createFile(atPath: empty, contents: Data()))
        let text = dir.appendingPathComponent("notes.h5").path
        try "just some text, not HDF5\n".write(toFile: text, atomically: true, encoding: .utf8)
        let truncated = dir.appendingPathComponent("truncated.h5").path
        let full = try Data(contentsOf: URL(fileURLWithPath: Fixture.path("lenet5_tfkeras.h5")))
        try full.prefix(full.count / 2).write(to: URL(fileURLWithPath: truncated))
        let missing = dir.appendingPathComponent("missing.h5").path

        let cases: [(String, WeightIOError.Kind, String)] = [
            (empty, .notHDF5, "not an HDF5 file"), (text, .notHDF5, "not an HDF5 file"),
            (truncated, .corruptFile, "truncated or corrupt"), (missing, .fileNotFound, "no such file"),
        ]
        for (path, kind, phrase) in cases {
            let reads: [() throws -> Void] = [{ _ = try HDF5File.open(path) }, { _ = try readWeightFile(path: path) }]
            for read in reads {
                let error = expectWeightIOError(read)
                #expect(error?.kind == kind, "\(path)")
                #expect(error?.description.hasPrefix(path + ": ") == true, "\(error?.description ?? "")")
                #expect(error?.description.contains(phrase) == true, "\(error?.description ?? "")")
                #expect(error?.description.contains("\n") == false)
            }
        }
    }

    @Test func writesDatasetsWithIntermediateGroupsAndAttributesH5pyCanRead() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("w.h5").path
        do {
            let file = try HDF5File.create(path)
            let root = try file.root()
            try root.writeDataset("a/b/kernel:0", Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6]))
            try root.setAttribute("name", string: "graft ✓")
            try root.setAttribute("names", strings: ["x", "yy"])
            try root.setAttribute("empty", strings: [])
            try root.setAttribute("name", string: "replaced")
            try file.close()
            try file.close()   // idempotent
        }
        let root = try HDF5File.open(path).root()
        #expect(try root.group("a").group("b").dataset("kernel:0").readTensor().scalars == [1, 2, 3, 4, 5, 6])
        #expect(try root.dataset("a/b/kernel:0").shape == [2, 3])
        #expect(try root.stringAttribute("name") == "replaced")
        #expect(try root.attribute("names") == .strings(["x", "yy"]))
        #expect(try root.attribute("empty") == .numbers([], shape: [0]))
    }
}
