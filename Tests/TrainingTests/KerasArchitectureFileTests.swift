import Foundation
import Testing
import WeightIO
@testable import Training

/// `--architecture model.yaml`: what Keras 2.0-2.5's `to_yaml()` wrote (tuples tagged `!!python/tuple`)
/// reads as the same architecture as the model's `to_json()`, and builds a model matching Keras.
@Suite struct KerasArchitectureFileTests {
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../WeightIOTests/Fixtures/kerasfiles").standardized.path

    @Test(arguments: ["mnist", "bnadd", "sepdw"])
    func yamlReadsAsTheJSONArchitecture(model: String) throws {
        let yaml = try KerasArchitectureFile.read(path: Self.dir + "/\(model)_k2.yaml")
        let json = try KerasArchitectureFile.read(path: Self.dir + "/\(model)_k2.json")
        #expect(yaml.layers.map(\.name) == json.layers.map(\.name))
        #expect(yaml.layers.map(\.summary) == json.layers.map(\.summary))
        #expect(yaml.layers.map(\.inbound) == json.layers.map(\.inbound))
        let (m, report) = try loadKerasModel(path: Self.dir + "/\(model)_k2w.h5", architecture: yaml)
        #expect(!report.loaded.isEmpty)
        #expect(try m.graph == (try loadKerasModel(path: Self.dir + "/\(model)_k2w.h5", architecture: json)).model.graph)
    }

    @Test func anHDF5FileIsNotAnArchitecture() throws {
        let path = Self.dir + "/mnist_k2.h5"
        #expect(throws: JobError.self) { _ = try KerasArchitectureFile.read(path: path) }
    }
}
