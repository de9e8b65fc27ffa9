import Foundation
import Testing

/// `finetune` (train) on a tiny LeNet run, then predict / evaluate / inspect / export on its output.
@Suite struct TrainPredictEvaluateTests {
    @Test func trainWritesOutputsAndTheOtherCommandsReadThem() throws {
        let tmp = try TempDir()
        let data = try TinyData.mnist(tmp.path("data"), classes: ["0", "1", "2"])
        let out = tmp.path("run")
        let train = try CLI.succeed(CLI.lenet(data: data, out: out, epochs: 2))
        #expect(train.stdout.contains("done    2 epochs"), "\(train)")

        let fm = FileManager.default
        for name in ["model.h5", "model-keras.h5", "recipe.yaml", "metrics.json", "report.html", "checkpoint.h5"] {
            let attrs = try? fm.attributesOfItem(atPath: out.appendingPathComponent(name).path)
            #expect(((attrs?[.size] as? NSNumber)?.intValue ?? 0) > 0, "\(name) missing or empty")
        }
        let metrics = try Data(contentsOf: out.appendingPathComponent("metrics.json")).jsonObject as? [String: Any]
        #expect((metrics?["epochs"] as? [Any])?.count == 2)
        let recipe = try String(contentsOf: out.appendingPathComponent("recipe.yaml"), encoding: .utf8)
        #expect(recipe.contains("model: lenet5") && recipe.contains("epochs: 2"))
        let report = try String(contentsOf: out.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(report.contains("<html") || report.contains("<!DOCTYPE") || report.contains("<!doctype"))

        let model = out.appendingPathComponent("model.h5").path
        let classNames = ["0", "1", "2"]

        // predict --json: probabilities sum to 1, the top class is one of the classes.
        let image = try TinyData.anyImage(data, class: "1")
        let predict = try CLI.succeed(["predict", "--model", model, "--json", image.path])
        let predictions = try #require(predict.stdout.jsonObject as? [[String: Any]], "\(predict)")
        #expect(predictions.count == 1)
        let p = try #require(predictions.first)
        let probabilities = try #require(p["probabilities"] as? [Double])
        #expect(probabilities.count == 3)
        #expect(abs(probabilities.reduce(0, +) - 1) < 1e-4)
        #expect(probabilities.allSatisfy { (0...1).contains($0) })
        let top = try #require(p["top"] as? [[String: Any]])
        let topClass = try #require(top.first?["class"] as? String)
        #expect(classNames.contains(topClass))
        #expect(top.first?["probability"] as? Double == probabilities.max())
        #expect((p["file"] as? String).map { $0.hasSuffix(image.lastPathComponent) } == true)

        // --no-plan (the module forward instead of the oneDNN plan) predicts the same, to float rounding.
        let modulePredict = try CLI.succeed(["predict", "--model", model, "--json", "--no-plan", image.path])
        let p3 = try #require((modulePredict.stdout.jsonObject as? [[String: Any]])?.first?["probabilities"] as? [Double])
        #expect(p3.count == 3 && zip(p3, probabilities).allSatisfy { abs($0 - $1) < 1e-4 }, "\(p3) vs \(probabilities)")

        // --precision bf16 (every convolution in bf16 where oneDNN has a jitted kernel) predicts the
        // same to bf16 rounding.
        let bf16Predict = try CLI.succeed(["predict", "--model", model, "--json", "--precision", "bf16", "--bf16-layers", "all", image.path])
        let p4 = try #require((bf16Predict.stdout.jsonObject as? [[String: Any]])?.first?["probabilities"] as? [Double])
        #expect(p4.count == 3 && zip(p4, probabilities).allSatisfy { abs($0 - $1) < 0.02 }, "\(p4) vs \(probabilities)")

        // predict on a folder: one prediction per PNG.
        let folder = try CLI.succeed(["predict", "--model", model, "--json", data.appendingPathComponent("val").path])
        #expect((folder.stdout.jsonObject as? [Any])?.count == 9)

        // evaluate --json: "accuracy" in 0...1 over the 9 validation images.
        let evaluate = try CLI.succeed(["evaluate", "--model", model, "--data", data.path, "--json"])
        let summary = try #require(evaluate.stdout.jsonObject as? [String: Any], "\(evaluate)")
        let accuracy = try #require(summary["accuracy"] as? Double)
        #expect((0...1).contains(accuracy))
        #expect(summary["count"] as? Int == 9)
        #expect(summary["class_names"] as? [String] == classNames)
        let matrix = try #require(summary["confusion_matrix"] as? [[Int]])
        #expect(matrix.map { $0.reduce(0, +) } == [3, 3, 3])
        #expect(abs(Double((0..<3).map { matrix[$0][$0] }.reduce(0, +)) / 9 - accuracy) < 1e-12)

        // inspect names the architecture.
        let inspect = try CLI.succeed(["inspect", out.appendingPathComponent("model-keras.h5").path])
        #expect(inspect.stdout.contains("lenet5"), "\(inspect)")
        #expect(inspect.stdout.contains("keras"), "\(inspect)")

        // export keras-h5: a new Keras file that inspect reads back.
        let exported = tmp.path("exported-keras.h5")
        let export = try CLI.succeed(["export", "--model", model, "--format", "keras-h5", "--out", exported.path])
        #expect(export.stdout.contains("wrote"))
        #expect(fm.fileExists(atPath: exported.path))
        let inspectExported = try CLI.succeed(["inspect", exported.path])
        #expect(inspectExported.stdout.contains("lenet5") && inspectExported.stdout.contains("keras"), "\(inspectExported)")

        // export native: the copy predicts exactly what the original does.
        let native = tmp.path("copy.h5")
        try CLI.succeed(["export", "--model", model, "--out", native.path])
        let again = try CLI.succeed(["predict", "--model", native.path, "--json", image.path])
        let p2 = try #require((again.stdout.jsonObject as? [[String: Any]])?.first)
        #expect(p2["probabilities"] as? [Double] == probabilities)
    }

    @Test func zooListsLeNet() throws {
        let r = try CLI.succeed(["zoo"])
        #expect(r.stdout.contains("lenet5"))
        #expect(r.stdout.contains("vgg"))
    }
}

@Test func theExecutableIsTheOneBuiltWithTheseTests() throws {
    let exe = try CLI.finetune()
    // Under `swift test` the runner is `<scratch>/<triple>/debug/<Package>PackageTests.xctest`: use the
    // finetune built beside it, not a stale one from another scratch folder.
    if let arg0 = ProcessInfo.processInfo.arguments.first, arg0.hasSuffix(".xctest") {
        let runnerDir = URL(fileURLWithPath: arg0).resolvingSymlinksInPath().deletingLastPathComponent()
        #expect(exe.resolvingSymlinksInPath().deletingLastPathComponent().path == runnerDir.path)
    }
    let help = try CLI.succeed(["--help"])
    #expect(help.stdout.contains("finetune"))
}
