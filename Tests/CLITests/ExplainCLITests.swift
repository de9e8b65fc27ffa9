import Foundation
import ImageIO
import Testing

/// The report's top-losses gallery and `predict --explain` on a tiny LeNet run.
@Suite struct ExplainCLITests {
    @Test func reportHasTopLossesAndPredictExplainWritesOverlays() throws {
        let tmp = try TempDir()
        let data = try TinyData.mnist(tmp.path("data"), classes: ["0", "1", "2"])
        let out = tmp.path("run")
        try CLI.succeed(CLI.lenet(data: data, out: out, epochs: 1))
        let report = try String(contentsOf: out.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(report.contains("<h2>Top losses</h2>") && report.contains("Grad-CAM at layer"), "no gallery in the report")
        // Every one of the 9 validation images has a loss: all 9 are shown (the gallery keeps up to 12).
        #expect(report.components(separatedBy: "src=\"data:image/png;base64,").count - 1 == 9)

        let model = out.appendingPathComponent("model.h5").path
        let val = data.appendingPathComponent("val")
        let dir = tmp.path("explain")
        let r = try CLI.succeed(["predict", "--model", model, "--explain", dir.path, "--json", val.path])
        #expect(r.stderr.contains("explain 9 Grad-CAM overlays"), "\(r)")
        let written = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".gradcam.png") }
        #expect(written.count == 9)
        for name in written {
            let image = try PNGDecoder.decode(file: dir.appendingPathComponent(name), as: .rgb)
            #expect(image.width == 28 && image.height == 28 && image.channels == 3, "\(name)")
        }

        let bad = try CLI.run(["predict", "--model", model, "--explain", dir.path, "--explain-class", "7", val.path])
        #expect(bad.status == 1 && bad.stderrLines.count == 1 && bad.stderr.contains("--explain-class 7"), "\(bad)")
    }
}

/// `--tta` on predict and evaluate: probabilities stay probabilities, counts stay the image counts.
@Suite struct TestTimeAugmentationCLITests {
    @Test func predictAndEvaluateWithTTA() throws {
        let tmp = try TempDir()
        let data = try TinyData.mnist(tmp.path("data"), classes: ["0", "1", "2"])
        // Trained with translation: the corner crops are views it knows (no flips: no mirror view).
        let out = tmp.path("run")
        try CLI.succeed(CLI.lenet(data: data, out: out, epochs: 1, extra: ["--set", "augmentation={translation: 0.1}"]))
        let model = out.appendingPathComponent("model.h5").path
        let val = data.appendingPathComponent("val").path
        let plain = try #require(try CLI.succeed(["predict", "--model", model, "--json", val]).stdout.jsonObject as? [[String: Any]])
        let tta = try #require(try CLI.succeed(["predict", "--model", model, "--json", "--tta", val]).stdout.jsonObject as? [[String: Any]])
        #expect(tta.count == 9 && plain.count == 9)
        let pt = tta.compactMap { $0["probabilities"] as? [Double] }, pp = plain.compactMap { $0["probabilities"] as? [Double] }
        #expect(pt.allSatisfy { abs($0.reduce(0, +) - 1) < 1e-4 })
        #expect(zip(pt, pp).contains { a, b in zip(a, b).contains { abs($0 - $1) > 1e-6 } }, "TTA changed no probability")
        let e = try #require(try CLI.succeed(["evaluate", "--model", model, "--data", data.path, "--json", "--tta"]).stdout.jsonObject as? [String: Any])
        #expect(e["count"] as? Int == 9 && (e["accuracy"] as? Double).map { (0...1).contains($0) } == true)

        // Trained without augmentation: the only view it knows is the standard one, so TTA changes nothing.
        let still = tmp.path("still")
        try CLI.succeed(CLI.lenet(data: data, out: still, epochs: 1))
        let stillModel = still.appendingPathComponent("model.h5").path
        let a = try CLI.succeed(["predict", "--model", stillModel, "--json", val]).stdout.jsonObject as? [[String: Any]]
        let b = try CLI.succeed(["predict", "--model", stillModel, "--json", "--tta", val]).stdout.jsonObject as? [[String: Any]]
        #expect(a?.compactMap { $0["probabilities"] as? [Double] } == b?.compactMap { $0["probabilities"] as? [Double] })
    }
}

/// `--tensorboard DIR`: one event file with the epochs' scalars and the top-losses grid.
@Suite struct TensorBoardCLITests {
    @Test func trainWritesAnEventFile() throws {
        let tmp = try TempDir()
        let data = try TinyData.mnist(tmp.path("data"), classes: ["0", "1", "2"])
        let tb = tmp.path("tb")
        try CLI.succeed(CLI.lenet(data: data, out: tmp.path("run"), epochs: 2, extra: ["--tensorboard", tb.path]))
        let files = try FileManager.default.contentsOfDirectory(atPath: tb.path)
        #expect(files.count == 1 && files[0].hasPrefix("events.out.tfevents."), "\(files)")
        let size = (try FileManager.default.attributesOfItem(atPath: tb.appendingPathComponent(files[0]).path)[.size] as? NSNumber)?.intValue ?? 0
        #expect(size > 1000, "event file of \(size) bytes: no image?")
    }
}

/// `predict --explain` on a model built from a Keras full-model file (its own graph, softmax fused).
@Suite struct ExplainKerasFileTests {
    @Test func explainsAKerasFullModel() throws {
        let tmp = try TempDir()
        let fixtures = CLI.packageRoot.appendingPathComponent("Tests/WeightIOTests/Fixtures")
        let model = fixtures.appendingPathComponent("kerasfile_mnist_cnn.h5").path
        let image = fixtures.appendingPathComponent("kerasfile_mnist_cnn_input.png").path
        let dir = tmp.path("cams")
        let r = try CLI.succeed(["predict", "--model", model, "--preprocess", "none", "--explain", dir.path, image])
        #expect(r.stderr.contains("explain 1 Grad-CAM overlays"), "\(r)")
        let png = dir.appendingPathComponent("kerasfile_mnist_cnn_input.gradcam.png")
        let overlay = try PNGDecoder.decode(file: png, as: .rgb)
        #expect(overlay.width > 0 && overlay.channels == 3)
    }
}
