import Foundation
import ImageIO
import WeightIO
import Zoo

/// `finetune export`, `inspect`, `zoo` and `augment --preview`.
public enum ExportJob {
    /// Writes the model; returns what was written. `keras`: a tf_keras full-model `.h5` (`model_config`
    /// + weights, loadable by `load_model()` and `load_weights()`, probabilities as Graft predicts them),
    /// or Keras 2 weights only when a layer has no Keras class (LRN, ceil-mode pooling), said so.
    /// `kerasArchive`: a Keras 3 `.keras` archive instead (no fallback: refused naming the layer).
    @discardableResult
    public static func run(_ loaded: LoadedModel, keras: Bool, kerasArchive: Bool = false, to path: String) throws -> String {
        if kerasArchive {
            try loaded.model.exportKerasArchive(to: path, outputActivation: loaded.outputActivation)
            return "keras archive"
        }
        guard keras else {
            try saveNativeModel(loaded.model, options: loaded.options, classNames: loaded.classNames, to: path)
            return "native"
        }
        do {
            try loaded.model.exportKerasModel(to: path, outputActivation: loaded.outputActivation)
            return "keras-h5 full model"
        } catch let e as WeightIOError where e.kind == .writeFailed && e.detail.hasPrefix("cannot be written as a Keras model") {
            try loaded.model.exportKeras2Weights(to: path)
            return "keras-h5 weights only: the model \(e.detail.dropFirst("cannot be written as a Keras model: ".count))"
        }
    }

    public static func inspect(_ path: String) throws -> String {
        guard FileManager.default.fileExists(atPath: path) else { throw JobError("\(path): no such file") }
        return try inspectWeightFile(path: path).description
    }

    public static func zooTable() -> String {
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s + " " : s.padding(toLength: n, withPad: " ", startingAt: 0) }
        // Columns as wide as the longest name / head (googlenet-caffe, loss3_classifier).
        let nameWidth = max(14, (Zoo.all.map(\.name.count).max() ?? 0) + 1)
        let headWidth = max(12, (Zoo.all.map(\.headPath.count).max() ?? 0) + 1)
        var lines = [pad("name", nameWidth) + pad("parameters", 12) + pad("input", 11) + pad("head", headWidth) + pad("preprocess", 11) + "description"]
        for e in Zoo.all {
            let aliases = e.aliases.filter { $0.lowercased() != e.name.lowercased() }
            lines.append(pad(e.name, nameWidth) + pad(String(e.defaultParameterCount), 12)
                         + pad("\(e.defaultInputSize)x\(e.defaultInputSize)x\(e.defaultInputChannels)", 11)
                         + pad(e.headPath, headWidth) + pad(e.preprocessing.rawValue, 11) + e.description
                         + (aliases.isEmpty ? "" : " (also: \(aliases.joined(separator: ", ")))"))
        }
        lines.append("")
        lines.append("Parameter counts are at the default input size with 1000 classes (LeNet: 10), BatchNorm statistics included, as Keras counts.")
        lines.append("Shipped trunks (pretrained/, trained by Graft): " + ShippedModel.all.map { "--base \($0.alias) = \($0.file)" }.joined(separator: ", "))
        return lines.joined(separator: "\n")
    }

    public static func augmentPreview(data: String, augmentation: Recipe.Augmentation, inputSize: Int, seed: UInt64, to path: String) throws {
        let run = try RunData.load(data, validationFraction: 0, seed: seed, warn: { _ in })
        let p = ImagePreprocessing(width: inputSize, height: inputSize)
        let augmenter = try Augmenter(config: augmentation.imageConfig, preprocessing: p)
        try AugmentationPreview.write(dataset: run.train, augmenter: augmenter, to: URL(fileURLWithPath: path), seed: seed)
    }
}
