import Foundation
import TensorCore
import Testing
@testable import WeightIO

/// Fixtures live beside the tests (no SwiftPM resources); scripts/make_fixtures.py makes them.
enum Fixture {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let zooDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ZooTests").appendingPathComponent("Fixtures")

    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
    static func zooPath(_ name: String) -> String { zooDirectory.appendingPathComponent(name).path }
}

/// A fresh directory under the system temp dir, removed by the caller's `defer`.
func makeTemporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("graft-weightio-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Runs `body` and returns the WeightIOError it throws (failing the test if it throws nothing or something else).
func expectWeightIOError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> WeightIOError? {
    do {
        try body()
        Issue.record("expected a WeightIOError, nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as WeightIOError {
        return error
    } catch {
        Issue.record("expected a WeightIOError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// Bit patterns, so -0.0/NaN compare exactly.
func bits(_ t: Tensor) -> [UInt32] { t.scalars.map(\.bitPattern) }

/// Asserts two weight files hold the same layers (with weights) and bit-identical tensors.
func expectSameWeights(_ a: [LayerWeights], _ b: [LayerWeights], sourceLocation: SourceLocation = #_sourceLocation) {
    let la = a.filter { !$0.tensors.isEmpty }, lb = b.filter { !$0.tensors.isEmpty }
    #expect(la.map(\.name) == lb.map(\.name), sourceLocation: sourceLocation)
    for (x, y) in zip(la, lb) {
        #expect(x.tensors.map(\.name) == y.tensors.map(\.name), "layer \(x.name)", sourceLocation: sourceLocation)
        for (s, t) in zip(x.tensors, y.tensors) {
            #expect(s.shape == t.shape, "\(x.name)/\(s.name)", sourceLocation: sourceLocation)
            #expect(bits(s.value) == bits(t.value), "\(x.name)/\(s.name)", sourceLocation: sourceLocation)
        }
    }
}
