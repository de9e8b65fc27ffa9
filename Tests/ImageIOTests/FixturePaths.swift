import Foundation
import Testing
@testable import ImageIO

/// Where test data comes from. The repository ships no images: everything the default run needs
/// is made at test time (`MadeSuite` in TestPNGFactory.swift, `Fixtures.tinyFolder()` /
/// `Fixtures.tinySplit()` below). Tests of the real PngSuite and of the files made by
/// `shared/data/make_pngtests.py` read them from the `shared/` folder beside the repository
/// (`<package root>/../shared/data/png-suite`) and are skipped, saying why, when it is absent.
enum Fixtures {
    /// The package root: this file is `<root>/Tests/ImageIOTests/FixturePaths.swift`.
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `shared/data`: `GRAFT_SHARED_DATA` when set (tests only; e.g. `/nonexistent` to check the
    /// skips), else `<package root>/../shared/data`.
    static let sharedData: URL = {
        if let path = ProcessInfo.processInfo.environment["GRAFT_SHARED_DATA"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        return packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data").standardizedFileURL
    }()

    /// The shared PngSuite folder: `pngsuite/` (official PngSuite), `generated/` and `manifest.json`.
    static let pngSuite = sharedData.appendingPathComponent("png-suite")

    /// True when the shared PngSuite (its manifest.json) is there; the tests that need it are
    /// `.enabled(if: Fixtures.hasSharedPNGSuite, Fixtures.noSharedPNGSuite)`.
    static let hasSharedPNGSuite = FileManager.default.fileExists(atPath: pngSuite.appendingPathComponent("manifest.json").path)
    static let noSharedPNGSuite = Comment(rawValue:
        "needs the shared PngSuite, not found at \(pngSuite.path) (expected in shared/ beside the repository; GRAFT_SHARED_DATA overrides shared/data)")

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

    /// The tiny folder-per-class dataset (made once per test process, removed at exit):
    /// `airplane/` and `frog/` with 4 PNGs each, plus files that must be left out:
    /// `frog/broken.png` (truncated in IDAT, skipped with a warning), `frog/README.txt` (not an image),
    /// `airplane/.hidden.png` (hidden) and `stray.png` (outside any class folder).
    static func tinyFolder() throws -> URL { try TinyData.built.get().appendingPathComponent("tiny-folder") }

    /// The tiny explicit split: `train/` (3 per class) and `val/` (1 per class), same two classes.
    static func tinySplit() throws -> URL { try TinyData.built.get().appendingPathComponent("tiny-split") }
}

/// Synthetic 32x32 RGB images for the tiny datasets. The classes look different: "airplane" is
/// sky blue with a light diagonal gradient, "frog" is green with a dark checkerboard; every image
/// also has its own seeded noise, so no two files are alike.
enum TinyData {
    static let airplaneFiles = ["tr0005", "tr0019", "tr0025", "tr0037"]
    static let frogFiles = ["tr0093", "tr0101", "tr0131", "tr0141"]
    static let split: [(folder: String, airplane: [String], frog: [String])] = [
        ("train", ["tr0039", "tr0042", "tr0069"], ["tr0150", "tr0155", "tr0210"]),
        ("val", ["te0014"], ["te0008"]),
    ]

    /// The image stored as `<class>/<name>.png` (class 0 airplane, 1 frog).
    static func image(classIndex: Int, name: String) -> Image {
        let size = 32
        var rng = PatternRNG(seed: UInt64(classIndex + 1) &* 1_000_003 &+ UInt64(abs(name.hashValueStable)))
        var pixels = [UInt8](repeating: 0, count: size * size * 3)
        for y in 0..<size {
            for x in 0..<size {
                let noise = Int(rng.next() % 41) - 20
                let rgb: [Int]
                if classIndex == 0 {
                    let g = (x + y) * 2
                    rgb = [90 + g / 2, 150 + g / 3, 220]
                } else {
                    let dark = (x / 4 + y / 4) % 2 == 0 ? 0 : 50
                    rgb = [60 - dark / 2, 170 - dark, 50 - dark / 2]
                }
                for c in 0..<3 { pixels[(y * size + x) * 3 + c] = UInt8(clamping: rgb[c] + noise) }
            }
        }
        return Image(width: size, height: size, channels: 3, pixels: pixels)
    }

    struct BuildError: Error, Sendable, CustomStringConvertible { let description: String }

    static let root = FileManager.default.temporaryDirectory
        .appendingPathComponent("graft-imageio-tiny-\(getpid())-\(UUID().uuidString)")

    static let built: Result<URL, BuildError> = {
        do {
            try build(at: root)
            atexit { try? FileManager.default.removeItem(at: TinyData.root) }
            return .success(root)
        } catch {
            return .failure(BuildError(description: "cannot write the tiny datasets under \(root.path): \(error)"))
        }
    }()

    private static func write(_ image: Image, _ url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try PNGEncoder.write(image, to: url)
    }

    static func build(at root: URL) throws {
        let folder = root.appendingPathComponent("tiny-folder")
        for (c, names) in [airplaneFiles, frogFiles].enumerated() {
            for name in names {
                try write(image(classIndex: c, name: name), folder.appendingPathComponent("\(["airplane", "frog"][c])/\(name).png"))
            }
        }
        // Left out by the dataset: a hidden PNG (valid), a root-level file, a non-image, a truncated PNG.
        try write(image(classIndex: 0, name: "hidden"), folder.appendingPathComponent("airplane/.hidden.png"))
        try write(image(classIndex: 0, name: "stray"), folder.appendingPathComponent("stray.png"))
        try Data("notes, not an image\n".utf8).write(to: folder.appendingPathComponent("frog/README.txt"))
        let good = try PNGEncoder.encode(image(classIndex: 1, name: "broken"))
        try Data(BrokenPNG.truncatedInIDAT.damage(good)).write(to: folder.appendingPathComponent("frog/broken.png"))

        let split = root.appendingPathComponent("tiny-split")
        for part in self.split {
            for (c, names) in [part.airplane, part.frog].enumerated() {
                for name in names {
                    try write(image(classIndex: c, name: name),
                              split.appendingPathComponent("\(part.folder)/\(["airplane", "frog"][c])/\(name).png"))
                }
            }
        }
    }
}

private extension String {
    /// FNV-1a of the UTF-8 bytes (String.hashValue is randomly seeded per process).
    var hashValueStable: Int {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in utf8 { h = (h ^ UInt64(b)) &* 0x0100_0000_01B3 }
        return Int(truncatingIfNeeded: h >> 1)
    }
}
