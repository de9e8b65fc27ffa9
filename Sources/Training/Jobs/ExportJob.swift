import Foundation
import ImageIO
import WeightIO
import Zoo

/// `finetune export`, `inspect`, `zoo` and `augment --preview`.
public enum ExportJob {
    public static func run(_ loaded: LoadedModel, keras: Bool, to path: String) throws {
        if keras { try loaded.model.exportKeras2Weights(to: path) }
        else { try saveNativeModel(loaded.model, options: loaded.options, classNames: loaded.classNames, to: path) }
    }

    public static func inspect(_ path: String) throws -> String {
        guard FileManager.default.fileExists(atPath: path) else { throw JobError("\(path): no such file") }
        return try inspectWeightFile(path: path).description
    }

    public static func zooTable() -> String {
        var lines = ["name            params (default)  input     head         preprocessing  description"]
        for e in Zoo.all {
            let name = (e.name + (e.aliases.isEmpty ? "" : " (\(e.aliases.joined(separator: ",")))")).padding(toLength: 15, withPad: " ", startingAt: 0)
            let params = String(e.defaultParameterCount).padding(toLength: 17, withPad: " ", startingAt: 0)
            let input = "\(e.defaultInputSize)x\(e.defaultInputSize)x\(e.defaultInputChannels)".padding(toLength: 9, withPad: " ", startingAt: 0)
            lines.append("\(name) \(params) \(input) \(e.headPath.padding(toLength: 12, withPad: " ", startingAt: 0)) \(e.preprocessing.rawValue.padding(toLength: 14, withPad: " ", startingAt: 0)) \(e.description)")
        }
        lines.append("")
        lines.append("shipped trunks (pretrained/, trained by Graft): " + ShippedModel.all.map { "\($0.alias) = \($0.file)" }.joined(separator: ", "))
        return lines.joined(separator: "\n")
    }

    public static func augmentPreview(data: String, augmentation: Recipe.Augmentation, inputSize: Int, seed: UInt64, to path: String) throws {
        let run = try RunData.load(data, validationFraction: 0, seed: seed, warn: { _ in })
        let p = ImageIO.Preprocessing(width: inputSize, height: inputSize)
        let augmenter = try Augmenter(config: augmentation.imageConfig, preprocessing: p)
        try AugmentationPreview.write(dataset: run.train, augmenter: augmenter, to: URL(fileURLWithPath: path), seed: seed)
    }
}
