import Foundation
import Testing
import ImageIO

/// `predict` and `evaluate` read JPEG as well as PNG; a broken JPEG given directly is one error line.
@Suite(.serialized) struct JPEGInputTests {
    /// MNIST digits re-encoded as JPEG (quality 95) beside the PNG originals.
    static func jpegDigits(_ root: URL) throws -> URL {
        let digits = (0...9).map(String.init)
        let data = try TinyData.mnist(root, classes: digits, train: 0, val: 1)
        let fm = FileManager.default
        for c in digits {
            let dir = data.appendingPathComponent("val/\(c)")
            for name in try fm.contentsOfDirectory(atPath: dir.path) where name.hasSuffix(".png") {
                let png = dir.appendingPathComponent(name)
                let image = try PNGDecoder.decode(file: png, as: .gray)
                try Data(JPEGEncoder.encode(image, options: .init(quality: 95))).write(to: png.deletingPathExtension().appendingPathExtension("jpg"))
                try fm.removeItem(at: png)
            }
        }
        return data
    }

    @Test func predictAndEvaluateReadJPEG() throws {
        let tmp = try TempDir()
        let data = try Self.jpegDigits(tmp.path("data"))
        let model = CLI.packageRoot.appendingPathComponent("pretrained/lenet5-mnist5k.h5").path
        let r = try CLI.succeed(["predict", "--model", model, "--json", data.appendingPathComponent("val").path])
        let rows = try #require(r.stdout.jsonObject as? [[String: Any]])
        #expect(rows.count == 10)
        #expect(rows.allSatisfy { ($0["file"] as? String)?.hasSuffix(".jpg") == true })
        // The shipped LeNet reads JPEG digits as well as PNG ones: its top-1 is the folder's digit.
        let right = rows.filter { row in
            let file = row["file"] as? String ?? "", top = (row["top"] as? [[String: Any]])?.first?["class"] as? String
            return file.contains("/val/\(top ?? "-")/")
        }
        #expect(right.count >= 8, "\(rows)")
        let e = try CLI.succeed(["evaluate", "--model", model, "--data", data.path, "--json"])
        let summary = try #require(e.stdout.jsonObject as? [String: Any])
        #expect((summary["accuracy"] as? Double ?? 0) >= 0.8, "\(e.stdout)")
    }

    @Test func brokenJPEGGivenDirectlyIsOneErrorLine() throws {
        let tmp = try TempDir()
        let data = try Self.jpegDigits(tmp.path("data"))
        let good = try #require(try FileManager.default.contentsOfDirectory(atPath: data.appendingPathComponent("val/3").path).first)
        let bytes = try Data(contentsOf: data.appendingPathComponent("val/3/\(good)"))
        let cut = tmp.path("cut.jpg"), text = tmp.path("text.jpg")
        try bytes.prefix(bytes.count / 2).write(to: cut)
        try "not a photo".write(to: text, atomically: true, encoding: .utf8)
        let model = CLI.packageRoot.appendingPathComponent("pretrained/lenet5-mnist5k.h5").path
        for file in [cut, text] {
            let r = try CLI.run(["predict", "--model", model, file.path])
            #expect(r.status == 1 && !r.terminatedBySignal, "\(r)")
            #expect(r.stderrLines.count == 1 && r.stderrLines[0].hasPrefix("error: ") && r.stderrLines[0].contains(file.path), "\(r)")
        }
    }
}
