import ArgumentParser
import TensorCore
import Training

/// How a command names its model: a Graft model file, or a zoo name with a weights file.
struct ModelOptions: ParsableArguments {
    @Option(help: "A model file: Graft (model.h5 from a training run), Keras full-model .h5, Keras 3 .keras, or Keras weights with --architecture.") var model: String?
    @Option(help: "Keras architecture (to_json() / to_yaml() output) for a weights-only --model file.") var architecture: String?
    @Option(help: "Zoo name, or a shipped trunk (vgg, resnet, lenet).") var base: String?
    @Option(help: "Weights file for --base (Keras 2/3, Caffe HDF5, Graft).") var weights: String?
    @Option(help: "Class count of the weights' head.") var classes: Int?
    @Option(name: .customLong("input-size")) var inputSize: Int?
    @Option(help: "Width multiplier of --base, as the weights were made (Keras alpha for MobileNet; default 1).") var width: Double?

    @Flag(name: .customLong("allow-nonfinite-weights"), help: "Load weights that hold NaN or infinite values (refused by default).")
    var allowNonFinite = false

    func load(_ runtime: RuntimeOptions) throws -> LoadedModel {
        allowNonFiniteWeights(allowNonFinite)
        return try LoadedModel.load(.init(model: model, base: base, weights: weights, classes: classes, inputSize: inputSize, width: width,
                                          architecture: architecture),
                             inference: runtime.inference)
    }
}

extension Preprocessing: ExpressibleByArgument {}
