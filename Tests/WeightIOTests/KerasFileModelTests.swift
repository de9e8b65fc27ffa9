import Foundation
import Testing
import TensorCore
import NN
import Zoo
@testable import WeightIO

@Suite struct KerasFileModelTests {
    /// The Keras MNIST tutorial CNN (automatic names) built from its own full-model file matches Keras.
    @Test func mnistTutorialCNNMatchesKeras() throws {
        let (model, _) = try loadKerasModel(path: Fixture.path("kerasfile_mnist_cnn.h5"))
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixture.path("kerasfile_mnist_cnn.json")))
        let io = try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let x = try #require(io["input_nhwc"] as? [[[[Double]]]])
        let p = try #require(io["probabilities"] as? [[Double]])
        let n = x.count, h = x[0].count, w = x[0][0].count
        // One channel: NHWC and NCHW hold the same order.
        let nchw: [Float] = x.flatMap { $0.flatMap { $0.flatMap { $0.map { Float($0) } } } }
        model.setTraining(false)
        let out = withoutGradients { model(Var(Tensor(shape: [n, 1, h, w], scalars: nchw))).value }
        #expect(out.shape == [n, 3])
        var worst: Float = 0
        for i in 0..<n { for k in 0..<3 { worst = max(worst, abs(out[flat: i * 3 + k] - Float(p[i][k]))) } }
        #expect(worst < 1e-4)
    }

    /// A functional CNN (BatchNorm + Activation, Add, DepthwiseConv2D, LeakyReLU, ELU, ZeroPadding2D,
    /// Concatenate, global pooling, a softmax Activation after the Dense) matches Keras.
    @Test func functionalCNNMatchesKeras() throws {
        let (model, _) = try loadKerasModel(path: Fixture.path("kerasfile_functional.h5"))
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixture.path("kerasfile_functional.json")))
        let io = try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let x = try #require(io["input_nhwc"] as? [[[[Double]]]])
        let p = try #require(io["probabilities"] as? [[Double]])
        let n = x.count, h = x[0].count, w = x[0][0].count, c = x[0][0][0].count
        var nchw = [Float](repeating: 0, count: n * c * h * w)
        for i in 0..<n { for y in 0..<h { for xx in 0..<w { for ch in 0..<c {
            nchw[((i * c + ch) * h + y) * w + xx] = Float(x[i][y][xx][ch])
        } } } }
        model.setTraining(false)
        let out = withoutGradients { model(Var(Tensor(shape: [n, c, h, w], scalars: nchw))).value }
        #expect(out.shape == [n, 3])
        var worst: Float = 0
        for i in 0..<n { for k in 0..<3 { worst = max(worst, abs(out[flat: i * 3 + k] - Float(p[i][k]))) } }
        #expect(worst < 1e-4)
    }

    /// An unsupported class is refused naming the layer and its class.
    @Test func lambdaIsRefusedNamingTheLayer() throws {
        let json = #"{"class_name": "Sequential", "config": {"layers": [{"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [null, 8, 8, 1]}}, {"class_name": "Lambda", "config": {"name": "lambda_1"}}]}}"#
        let config = try parseKerasModelConfig(json, file: "m.h5")
        #expect(throws: WeightIOError.self) { _ = try kerasModel(config, file: "m.h5") }
        do { _ = try kerasModel(config, file: "m.h5") } catch {
            #expect("\(error)" == "m.h5: layer 'lambda_1' (Lambda) cannot be built: it holds Python code")
        }
    }

    /// Keras 1 spellings (Convolution2D, nb_filter, nb_row/nb_col, border_mode, subsample, output_dim)
    /// and a Sequential whose first layer carries the input shape build the same kinds.
    @Test func keras1SpellingsBuild() throws {
        let json = #"{"class_name": "Sequential", "config": [{"class_name": "Convolution2D", "config": {"name": "convolution2d_1", "nb_filter": 4, "nb_row": 3, "nb_col": 3, "border_mode": "same", "subsample": [2, 2], "activation": "relu", "batch_input_shape": [null, 8, 8, 1]}}, {"class_name": "Flatten", "config": {"name": "flatten_1"}}, {"class_name": "Dense", "config": {"name": "dense_1", "output_dim": 2, "activation": "softmax"}}]}"#
        let model = try kerasModel(try parseKerasModelConfig(json, file: "k1.h5"), file: "k1.h5")
        let conv = try #require(model.node(named: "convolution2d_1")?.layer as? Conv2DKind)
        #expect(conv == Conv2DKind(filters: 4, kernel: 3, stride: 2, padding: .same, activation: .relu))
        #expect(try model.outputShape(for: [1, 1, 8, 8]) == [1, 2])
    }

    /// An input size the file leaves open comes from the caller (`--input-size`), else the refusal says so.
    @Test func openInputSizeNeedsOne() throws {
        let json = #"{"class_name": "Sequential", "config": {"layers": [{"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [null, null, null, 3]}}, {"class_name": "Conv2D", "config": {"name": "c", "filters": 2, "kernel_size": [3, 3]}}, {"class_name": "GlobalAveragePooling2D", "config": {"name": "g"}}, {"class_name": "Dense", "config": {"name": "d", "units": 2}}]}}"#
        let config = try parseKerasModelConfig(json, file: "open.h5")
        do { _ = try kerasModel(config, file: "open.h5"); Issue.record("built without a size") } catch {
            #expect("\(error)" == "open.h5: the model's input size is not fixed in the file (None, None, 3): give --input-size N")
        }
        #expect(try kerasModel(config, file: "open.h5", inputSize: 20).inputShape == [3, 20, 20])
    }

    /// Python's json.dumps spellings NaN and Infinity read as null.
    @Test func pythonNaNAndInfinityRead() throws {
        let json = #"{"class_name": "Sequential", "config": {"layers": [{"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [null, 8, 8, 1]}}, {"class_name": "Conv2D", "config": {"name": "c", "filters": 2, "kernel_size": [3, 3], "kernel_constraint": {"max_value": Infinity, "min_value": -Infinity, "rate": NaN}}}]}}"#
        let config = try parseKerasModelConfig(json, file: "nan.h5")
        #expect(config.layers.map(\.name) == ["in", "c"])
    }

    /// Teachable Machine's shape without an outer input layer: the input comes from the nested model's.
    @Test func nestedInputLayerGivesTheInputShape() throws {
        let json = #"""
        {"class_name": "Sequential", "config": {"name": "sequential_4", "layers": [
          {"class_name": "Sequential", "config": {"name": "sequential_1", "layers": [
            {"class_name": "Functional", "config": {"name": "base", "layers": [
              {"class_name": "InputLayer", "name": "input_1", "config": {"name": "input_1", "batch_input_shape": [null, 8, 8, 1]}, "inbound_nodes": []},
              {"class_name": "DepthwiseConv2D", "name": "dw", "config": {"name": "dw", "kernel_size": [3, 3], "groups": 1, "padding": "same"}, "inbound_nodes": [[["input_1", 0, 0, {}]]]}
            ]}}]}},
          {"class_name": "Sequential", "config": {"name": "sequential_3", "layers": [
            {"class_name": "Flatten", "config": {"name": "flatten"}},
            {"class_name": "Dense", "config": {"name": "dense_Dense2", "units": 2, "activation": "softmax"}}]}}]}}
        """#
        let model = try kerasModel(try parseKerasModelConfig(json, file: "tm.h5"), file: "tm.h5")
        #expect(model.inputShape == [1, 8, 8])
        #expect(try model.outputShape(for: [1, 1, 8, 8]) == [1, 2])
        #expect(model.node(named: "dw")?.inputs == ["input"])
    }

    /// A channels_first model builds in Graft's own layout (input (C, H, W)); a class whose channels_first
    /// form is not built, or a model mixing layouts, is refused before any work, naming the layer.
    @Test func channelsFirstBuildsOrIsRefused() throws {
        let conv = #"{"class_name": "Conv2D", "config": {"name": "conv2d", "filters": 2, "kernel_size": [3, 3], "data_format": "channels_first"}}"#
        func model(_ extra: String) -> String {
            #"{"class_name": "Sequential", "config": {"layers": [{"class_name": "InputLayer", "config": {"name": "in", "batch_input_shape": [null, 1, 8, 6]}}, "# + conv + extra + "]}}"
        }
        let built = try kerasModel(try parseKerasModelConfig(model(""), file: "cf.h5"), file: "cf.h5")
        #expect(try built.outputShape(for: [1, 1, 8, 6]) == [1, 2, 6, 4])
        for (extra, message) in [
            (#", {"class_name": "PReLU", "config": {"name": "p_re_lu"}}"#,
             "cf.h5: layer 'p_re_lu' (PReLU) cannot be built: data_format channels_first is not supported for this class"),
            (#", {"class_name": "MaxPooling2D", "config": {"name": "pool", "pool_size": [2, 2], "data_format": "channels_last"}}"#,
             "cf.h5: layer 'pool' (MaxPooling2D) cannot be built: the model mixes channels_first and channels_last layers"),
        ] {
            let config = try parseKerasModelConfig(model(extra), file: "cf.h5")
            do { _ = try kerasModel(config, file: "cf.h5"); Issue.record("built: \(extra)") } catch {
                #expect("\(error)" == message)
            }
        }
    }
}
