import Foundation
import Testing
import TensorCore
import NN
import Zoo
@testable import WeightIO

/// The Keras-made models of scripts/make_keras_file_fixtures.py, in every file kind.
struct KerasFileFixture {
    var file: String, architecture: String?, model: String, probabilities: [[Double]]
    var input: [[[[Double]]]]

    static let directory = Fixture.path("kerasfiles")

    static func all() throws -> [KerasFileFixture] {
        let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/manifest.json"))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let files = try #require(root["files"] as? [[String: Any]])
        let inputs = try #require(root["inputs_nhwc"] as? [String: Any])
        return try files.map { f in
            let model = try #require(f["model"] as? String)
            return KerasFileFixture(file: try #require(f["file"] as? String), architecture: f["architecture"] as? String,
                                    model: model, probabilities: try #require(f["probabilities"] as? [[Double]]),
                                    input: try #require(inputs[model] as? [[[[Double]]]]))
        }
    }

    /// The input as NCHW.
    var nchw: Tensor {
        let n = input.count, h = input[0].count, w = input[0][0].count, c = input[0][0][0].count
        var v = [Float](repeating: 0, count: n * c * h * w)
        for i in 0..<n { for y in 0..<h { for x in 0..<w { for ch in 0..<c {
            v[((i * c + ch) * h + y) * w + x] = Float(input[i][y][x][ch])
        } } } }
        return Tensor(shape: [n, c, h, w], scalars: v)
    }

    /// max |Δp| of the model's outputs against Keras's, through the module forward and the inference plan.
    func worstDifference(_ model: ZooModel) -> (module: Float, plan: Float) {
        model.setTraining(false)
        let x = nchw
        let out = withoutGradients { model(Var(x)).value }
        let planned = InferencePlan(model, inputShape: Array(x.shape.dropFirst()))(x)
        var a: Float = 0, b: Float = 0
        let k = probabilities[0].count
        for i in 0..<probabilities.count { for j in 0..<k {
            a = max(a, abs(out[flat: i * k + j] - Float(probabilities[i][j])))
            b = max(b, abs(planned[flat: i * k + j] - Float(probabilities[i][j])))
        } }
        return (a, b)
    }
}

@Suite struct KerasFileKindsTests {
    /// Every fixture but the YAML ones (Training reads YAML; TrainingTests covers them) matches Keras
    /// within 1e-4, module forward and inference plan alike.
    @Test func everyFileKindMatchesKeras() throws {
        let fixtures = try KerasFileFixture.all().filter { !($0.architecture?.hasSuffix(".yaml") ?? false) }
        #expect(fixtures.count >= 13)
        for f in fixtures {
            let dir = KerasFileFixture.directory
            let arch = try f.architecture.map { try parseKerasModelConfig(String(contentsOfFile: dir + "/" + $0, encoding: .utf8), file: $0) }
            let (model, _) = try loadKerasModel(path: dir + "/" + f.file, architecture: arch)
            let (module, plan) = f.worstDifference(model)
            print("parity \(f.file)\(f.architecture.map { " + " + $0 } ?? ""): max |dp| module \(module), plan \(plan)")
            #expect(module < 1e-4, "\(f.file): \(module)")
            #expect(plan < 1e-4, "\(f.file) (plan): \(plan)")
        }
    }

    /// The format comes from the content: a `.keras` archive renamed `.h5` still loads.
    @Test func archiveIsFoundFromItsContent() throws {
        let dir = KerasFileFixture.directory
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("graft-test-\(UUID().uuidString).h5").path
        try FileManager.default.copyItem(atPath: dir + "/mnist_k3.keras", toPath: copy)
        defer { try? FileManager.default.removeItem(atPath: copy) }
        #expect(try modelFileContainer(path: copy) == .zip)
        #expect(try loadKerasModel(path: copy).model.outputShape(for: [1, 1, 12, 12]) == [1, 3])
    }

    /// A weights-only file without its architecture is refused in one line saying what to add.
    @Test func weightsOnlyFileNeedsItsArchitecture() throws {
        let path = KerasFileFixture.directory + "/mnist_k2w.h5"
        do { _ = try loadKerasModel(path: path); Issue.record("loaded without architecture") } catch {
            #expect("\(error)" == "\(path): a weights-only Keras file: give its architecture too (--architecture model.json|model.yaml)")
        }
    }

    /// An architecture that does not fit the weights is refused naming the tensors.
    @Test func wrongArchitectureIsRefused() throws {
        let dir = KerasFileFixture.directory
        let arch = try parseKerasModelConfig(String(contentsOfFile: dir + "/bnadd_k2.json", encoding: .utf8))
        #expect(throws: (any Error).self) { _ = try loadKerasModel(path: dir + "/mnist_k2w.h5", architecture: arch) }
    }

    /// Unsupported classes and options are refused before any work, in one line naming file, layer,
    /// class and what is missing.
    @Test(arguments: [
        (#"{"class_name": "Lambda", "config": {"name": "lambda_1", "function": "x"}}"#,
         "m.h5: layer 'lambda_1' (Lambda) cannot be built: it holds Python code"),
        (#"{"class_name": "LSTM", "config": {"name": "lstm"}}"#,
         "m.h5: layer 'lstm' (LSTM) cannot be built: Graft has no layer kind for this class"),
        (#"{"class_name": "Conv2D", "config": {"name": "conv2d", "filters": 2, "kernel_size": [3, 3], "activation": "hard_silu"}}"#,
         "m.h5: layer 'conv2d' (Conv2D) cannot be built: activation 'hard_silu' is not supported"),
        (#"{"class_name": "UpSampling2D", "config": {"name": "up_sampling2d", "size": [2, 2], "interpolation": "bilinear"}}"#,
         "m.h5: layer 'up_sampling2d' (UpSampling2D) cannot be built: interpolation 'bilinear' is not supported (nearest only)"),
        (#"{"class_name": "Conv2D", "config": {"name": "conv2d", "filters": 2, "kernel_size": [3, 3], "dilation_rate": [1, 2]}}"#,
         "m.h5: layer 'conv2d' (Conv2D) cannot be built: dilation_rate [1, 2] is not supported (square dilation only)"),
        (#"{"class_name": "Softmax", "config": {"name": "softmax", "axis": 1}}"#,
         "m.h5: layer 'softmax' (Softmax) cannot be built: axis 1 is not supported (channels, -1, only)"),
        (#"{"class_name": "Merge", "config": {"name": "merge_1", "mode": "cos"}}"#,
         "m.h5: layer 'merge_1' (Merge) cannot be built: merge mode 'cos' is not supported"),
        (#"{"class_name": "Conv2D", "config": {"name": "conv2d", "filters": 2, "kernel_size": [3, 3], "padding": "causal"}}"#,
         "m.h5: layer 'conv2d' (Conv2D) cannot be built: padding 'causal' is not supported"),
    ])
    func unsupportedLayersAreRefusedInOneLine(layer: String, message: String) throws {
        let json = #"{"class_name": "Sequential", "config": {"layers": [{"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [null, 8, 8, 1]}}, "# + layer + "]}}"
        let config = try parseKerasModelConfig(json, file: "m.h5")
        do { _ = try kerasModel(config, file: "m.h5"); Issue.record("built") } catch {
            #expect("\(error)" == message)
        }
    }
}

@Suite struct KerasFileTrainingTests {
    /// Every kind of the Keras-made models trains: in training mode each trainable parameter gets a
    /// finite gradient, and a small step against it lowers the loss.
    @Test(arguments: ["mnist_k3.keras", "bnadd_k3.keras", "sepdw_k3.keras", "keras1_k1.h5"])
    func kerasFileModelsTrain(file: String) throws {
        let fixture = try #require(try KerasFileFixture.all().first { $0.file == file })
        let (model, _) = try loadKerasModel(path: KerasFileFixture.directory + "/" + file)
        let x = fixture.nchw
        let target = Tensor(shape: [x.shape[0], 3], scalars: (0..<(x.shape[0] * 3)).map { Float($0 % 3 == 0 ? 1 : 0) })
        func loss() -> Var { euclideanLoss(model(Var(x)), target) }
        // Inference mode keeps dropout and noise off (a deterministic comparison); gradients flow all the same.
        model.setTraining(false)
        let before = withoutGradients { loss().value[flat: 0] }
        let params = model.namedParameters().filter { $0.1.requiresGrad }
        #expect(!params.isEmpty)
        for (_, p) in params { p.zeroGrad() }
        loss().backward()
        for (path, p) in params {
            let g = try #require(p.grad, "\(file): \(path) has no gradient")
            let finite = g.scalars.allSatisfy { $0.isFinite }
            #expect(finite, "\(file): \(path)")
        }
        for (_, p) in params {
            if let g = p.grad { p.value = Tensor(shape: p.shape, scalars: zip(p.value.scalars, g.scalars).map { $0 - 0.02 * $1 }) }
        }
        let after = withoutGradients { loss().value[flat: 0] }
        #expect(after < before, "\(file): \(before) -> \(after)")
    }
}

@Suite struct ZooArchitectureCheckTests {
    /// `inspect` says "matches" only for a file whose own architecture agrees with the zoo model, says
    /// whether its own architecture builds, and a weights-only import says its architecture was not checked.
    @Test func inspectAndImportSayWhatWasChecked() throws {
        let full = try inspectWeightFile(path: Fixture.path("lenet5_tfkeras_full.h5")).description
        #expect(full.contains("matches zoo architecture lenet5"), "\(full)")
        #expect(full.contains("its own architecture builds"))
        let own = try inspectWeightFile(path: KerasFileFixture.directory + "/sepdw_k2.h5").description
        #expect(own.contains("its own architecture builds") && !own.contains("matches zoo architecture"))
        let (_, report) = try loadPretrained("lenet5", options: ZooOptions(inputSize: 28), weights: Fixture.path("lenet5_tfkeras.h5"))
        #expect(report.architectureNotChecked)
        #expect(report.description.contains("architecture not checked"))
        let (_, checked) = try loadPretrained("lenet5", options: ZooOptions(inputSize: 28), weights: Fixture.path("lenet5_tfkeras_full.h5"))
        #expect(!checked.architectureNotChecked)
    }

    /// A full-model file whose config disagrees on the layout or the input channels is refused, naming it.
    @Test func dataFormatAndInputChannelsAreCompared() throws {
        let model = try Zoo.build("lenet5", ZooOptions(inputSize: 28))
        let channels = #"{"class_name": "Sequential", "config": {"layers": [{"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [null, 28, 28, 3]}}]}}"#
        #expect(model.architectureDisagreement(try parseKerasModelConfig(channels)) == "input channels 3 in the file, 1 in lenet5")
        let format = #"{"class_name": "Sequential", "config": {"layers": [{"class_name": "Conv2D", "config": {"name": "conv1", "filters": 6, "kernel_size": [5, 5], "data_format": "channels_first"}}]}}"#
        #expect(model.architectureDisagreement(try parseKerasModelConfig(format)) == "layer 'conv1': data_format channels_first in the file, channels_last in lenet5")
    }
}

@Suite struct KerasModelExportTests {
    func temporary() -> String { FileManager.default.temporaryDirectory.appendingPathComponent("graft-export-\(UUID().uuidString).h5").path }

    /// A written full-model file builds again from its own config and computes the same outputs (tf_keras
    /// `load_model` on these files: scripts/verify_keras_model_export.py).
    @Test(arguments: ["mnist_k2.h5", "bnadd_k3.keras", "teachable_k2.h5", "keras1_k1.h5"])
    func kerasFileModelsRoundTrip(file: String) throws {
        let fixture = try #require(try KerasFileFixture.all().first { $0.file == file })
        let (model, _) = try loadKerasModel(path: KerasFileFixture.directory + "/" + file)
        let out = temporary()
        defer { try? FileManager.default.removeItem(atPath: out) }
        try model.exportKerasModel(to: out)
        #expect(try detectWeightFileFormat(path: out) == .keras2FullModel)
        let (back, report) = try loadKerasModel(path: out)
        #expect(report.loaded.count == model.namedParameters().count)
        model.setTraining(false); back.setTraining(false)
        let x = fixture.nchw
        let a = withoutGradients { model(Var(x)).value }, b = withoutGradients { back(Var(x)).value }
        #expect(a.shape == b.shape)
        for i in 0..<a.count { #expect(abs(a[flat: i] - b[flat: i]) < 1e-6) }
    }

    /// A zoo model with ReLU6 (written as ReLU layers), depthwise convolutions, zero padding and a
    /// convolutional head round-trips too; a logits model gets its probabilities layer.
    @Test func zooModelRoundTripsWithItsOutputActivation() throws {
        let model = try Zoo.build("mobilenetv2", ZooOptions(inputSize: 32, classCount: 4, widthMultiplier: 0.35))
        ModelSetupForTest.logits(model)
        let out = temporary()
        defer { try? FileManager.default.removeItem(atPath: out) }
        try model.exportKerasModel(to: out, outputActivation: .softmax)
        let (back, _) = try loadKerasModel(path: out)
        model.setTraining(false); back.setTraining(false)
        let x = Tensor.uniform([2, 3, 32, 32], limit: 1, rng: &ModelSetupForTest.rng)
        let a = withoutGradients { softmax(model(Var(x))).value }, b = withoutGradients { back(Var(x)).value }
        #expect(a.shape == b.shape)
        for i in 0..<a.count { #expect(abs(a[flat: i] - b[flat: i]) < 1e-5) }
    }

    /// A written `.keras` archive reads back as the same model (Keras 3's `load_model` on these:
    /// scripts/verify_keras_archive_export.py).
    @Test(arguments: ["mnist_k2.h5", "bnadd_k3.keras", "teachable_k2.h5"])
    func archivesRoundTrip(file: String) throws {
        let fixture = try #require(try KerasFileFixture.all().first { $0.file == file })
        let (model, _) = try loadKerasModel(path: KerasFileFixture.directory + "/" + file)
        let out = temporary() + ".keras"
        defer { try? FileManager.default.removeItem(atPath: out) }
        try model.exportKerasArchive(to: out)
        #expect(try modelFileContainer(path: out) == .zip)
        #expect(kerasSnakeCase("PReLU") == "p_re_lu" && kerasSnakeCase("BatchNormalization") == "batch_normalization")
        let (back, report) = try loadKerasModel(path: out)
        #expect(report.loaded.count == model.namedParameters().count)
        model.setTraining(false); back.setTraining(false)
        let x = fixture.nchw
        let a = withoutGradients { model(Var(x)).value }, b = withoutGradients { back(Var(x)).value }
        for i in 0..<a.count { #expect(abs(a[flat: i] - b[flat: i]) < 1e-6) }
    }

    /// What Keras cannot express is refused with the reason (the CLI then writes weights only).
    @Test func unexpressibleLayersAreRefused() throws {
        let (model, _) = try loadKerasModel(path: KerasFileFixture.directory + "/sepdw_k3.keras")
        do { try model.exportKerasModel(to: temporary()); Issue.record("written") } catch let e as WeightIOError {
            #expect(e.kind == .writeFailed && e.detail.contains("hardSigmoid"))
        }
    }
}

enum ModelSetupForTest {
    nonisolated(unsafe) static var rng = SeededRandom(seed: 5)
    /// The output layer without its fused activation, as training leaves it.
    static func logits(_ model: ZooModel) {
        guard let name = model.headPath else { return }
        if let d = model.head[name] as? Dense { d.fusedActivation = nil }
    }
}
