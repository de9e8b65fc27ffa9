import Foundation

/// Test fixtures live next to the test sources (no SwiftPM resources).
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let pngSuite = root.appendingPathComponent("png-suite")
    static let tinyFolder = root.appendingPathComponent("tiny-folder")
    static let tinySplit = root.appendingPathComponent("tiny-split")

    /// One entry of png-suite/manifest.json.
    struct ManifestEntry: Decodable, Sendable, CustomStringConvertible {
        let file: String
        let expect: String
        let width: Int?
        let height: Int?
        let expected_raw: String?
        let expected_channels: Int?
        let expected_sample_bits: Int?
        let color_type: Int?
        let bit_depth: Int?
        let interlace: String?
        var description: String { file }
        var url: URL { pngSuite.appendingPathComponent(file) }
    }

    static func manifest() throws -> [ManifestEntry] {
        try JSONDecoder().decode([ManifestEntry].self,
                                 from: Data(contentsOf: pngSuite.appendingPathComponent("manifest.json")))
    }

    /// A fresh empty folder under the system temp directory.
    static func temporaryFolder(_ label: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("graft-imageio-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
