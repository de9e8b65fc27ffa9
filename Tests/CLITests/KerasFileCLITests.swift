import Foundation
import Testing

/// `finetune predict --model FILE` on a Keras full-model file reproduces Keras's probabilities.
@Suite struct KerasFileCLITests {
    @Test func predictOnAKerasFullModelFileMatchesKeras() throws {
        let fixtures = CLI.packageRoot.appendingPathComponent("Tests/WeightIOTests/Fixtures")
        let model = fixtures.appendingPathComponent("kerasfile_mnist_cnn.h5").path
        let image = fixtures.appendingPathComponent("kerasfile_mnist_cnn_input.png").path
        let r = try CLI.succeed(["predict", "--model", model, "--preprocess", "none", "--json", image])
        let json = try #require(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        let p = try #require(json.first?["probabilities"] as? [Double])
        let keras = [0.3208063840866089, 0.28978127241134644, 0.3894123435020447]   // tf_keras 2.21 predict
        #expect(p.count == 3)
        #expect(zip(p, keras).allSatisfy { abs($0 - $1) < 1e-4 }, "\(p)")
    }
}

/// `finetune predict --model FILE [--architecture F]` on the MNIST tutorial CNN in every Keras file kind
/// (scripts/make_keras_file_fixtures.py) reproduces the probabilities of the Keras that wrote it.
@Suite struct KerasFileKindsCLITests {
    static let dir = CLI.packageRoot.appendingPathComponent("Tests/WeightIOTests/Fixtures/kerasfiles")

    static func keras(_ writer: String) throws -> [Double] {
        let data = try Data(contentsOf: dir.appendingPathComponent("manifest.json"))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return try #require((root["cli_mnist_input_png"] as? [String: Any])?[writer] as? [Double])
    }

    @Test(arguments: [["mnist_k2.h5"], ["mnist_k2w.h5", "mnist_k2.json"], ["mnist_k2w.h5", "mnist_k2.yaml"],
                      ["mnist_k3.keras"], ["mnist_k3legacy.h5"], ["mnist_k3.weights.h5", "mnist_k3.json"]])
    func predictMatchesKeras(files: [String]) throws {
        var args = ["predict", "--model", Self.dir.appendingPathComponent(files[0]).path]
        if files.count > 1 { args += ["--architecture", Self.dir.appendingPathComponent(files[1]).path] }
        args += ["--preprocess", "none", "--json", Self.dir.appendingPathComponent("mnist_input.png").path]
        let r = try CLI.succeed(args)
        let json = try #require(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        let p = try #require(json.first?["probabilities"] as? [Double])
        let keras = try Self.keras(files[0].contains("k3") ? "k3" : "k2")
        #expect(p.count == 3)
        #expect(zip(p, keras).allSatisfy { abs($0 - $1) < 1e-4 }, "\(files): \(p) vs \(keras)")
    }

    /// Refusals are one `error: FILE: ...` line and exit 1.
    @Test func refusalsAreOneLine() throws {
        let weights = Self.dir.appendingPathComponent("mnist_k2w.h5").path
        let image = Self.dir.appendingPathComponent("mnist_input.png").path
        var r = try CLI.run(["predict", "--model", weights, "--preprocess", "none", image])
        #expect(r.status == 1)
        #expect(r.stderr.trimmingCharacters(in: .newlines)
                == "error: \(weights): a weights-only Keras file: give its architecture too (--architecture model.json|model.yaml)")
        let lambda = FileManager.default.temporaryDirectory.appendingPathComponent("graft-lambda-\(UUID().uuidString).json")
        try #"{"class_name": "Sequential", "config": {"layers": [{"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [null, 12, 12, 1]}}, {"class_name": "Lambda", "config": {"name": "lambda_1"}}]}}"#
            .write(to: lambda, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: lambda) }
        r = try CLI.run(["predict", "--model", weights, "--architecture", lambda.path, image])
        #expect(r.status == 1)
        #expect(r.stderr.trimmingCharacters(in: .newlines) == "error: \(lambda.path): layer 'lambda_1' (Lambda) cannot be built: it holds Python code")
    }

    /// `inspect` reads a `.keras` archive: its weights and its architecture.
    @Test func inspectReadsAnArchive() throws {
        let r = try CLI.succeed(["inspect", Self.dir.appendingPathComponent("sepdw_k3.keras").path])
        #expect(r.stdout.contains("separable_conv2d"))
        #expect(r.stdout.contains("SeparableConv2D"))
    }
}

/// `finetune --base FILE` fine-tunes a Keras model file: its own trunk (frozen by default), a new head
/// for the data's classes; the run's model.h5 carries the graph, so predict and export read it back.
@Suite struct KerasFileTrainCLITests {
    @Test func fineTunesAKerasFileAndExportsIt() throws {
        let tmp = try TempDir()
        let data = try TinyData.mnist(tmp.path("data"), classes: ["1", "4"], train: 4, val: 2)
        let base = KerasFileKindsCLITests.dir.appendingPathComponent("bnadd_k3.keras").path
        let out = tmp.path("run")
        let r = try CLI.succeed(["--base", base, "--data", data.path, "--epochs", "1", "--out", out.path])
        #expect(r.stdout.contains("Keras model"), "\(r.stdout)")
        let image = try TinyData.anyImage(data, class: "4").path
        let p = try CLI.succeed(["predict", "--model", out.appendingPathComponent("model.h5").path, "--json", image])
        let probs = try #require(((try JSONSerialization.jsonObject(with: Data(p.stdout.utf8))) as? [[String: Any]])?.first?["probabilities"] as? [Double])
        #expect(probs.count == 2 && abs(probs.reduce(0, +) - 1) < 1e-5)
        let keras = tmp.path("out.keras").path
        try CLI.succeed(["export", "--model", out.appendingPathComponent("model.h5").path, "--format", "keras", "--out", keras])
        let again = try CLI.succeed(["predict", "--model", keras, "--json", image])
        let probs2 = try #require(((try JSONSerialization.jsonObject(with: Data(again.stdout.utf8))) as? [[String: Any]])?.first?["probabilities"] as? [Double])
        #expect(zip(probs, probs2).allSatisfy { abs($0 - $1) < 1e-5 }, "\(probs) vs \(probs2)")
    }
}

/// `evaluate --model FILE` on a Keras file, which names no classes: its outputs are the sorted class
/// folders, as Keras's `image_dataset_from_directory` numbers them.
@Suite struct KerasFileEvaluateCLITests {
    @Test func evaluatesWithTheSortedClassFolders() throws {
        let tmp = try TempDir()
        let data = try TinyData.mnist(tmp.path("data"), classes: ["2", "5", "8"], train: 0, val: 2)
        let model = KerasFileKindsCLITests.dir.appendingPathComponent("mnist_k3.keras").path
        let r = try CLI.succeed(["evaluate", "--model", model, "--data", data.path, "--json"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        #expect(json["accuracy"] is Double)
        #expect(r.stdout.contains("\"8\""), "\(r.stdout)")
    }
}
