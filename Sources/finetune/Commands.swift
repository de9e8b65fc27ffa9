import ArgumentParser
import Foundation
import TensorCore
import Training

struct Predict: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Classify PNG and JPEG images (files or folders).")
    @OptionGroup var source: ModelOptions
    @Option(help: "none | scale | caffe | torch | tf (default: the model's). none feeds 0..255 RGB floats.") var preprocess: Preprocessing?
    @Option(help: "Classes to show per image.") var top = 3
    @Flag(help: "One JSON array: file, probabilities (class order), top.") var json = false
    @Argument(help: "PNG or JPEG files, or folders of them.") var images: [String]
    @OptionGroup(title: "Runtime") var runtime: RuntimeFlags

    func run() throws {
        try runReportingErrors {
            let loaded = try source.load(runtime.applied())
            let predictions = try PredictJob.run(loaded, files: try PredictJob.imageFiles(images), preprocess: preprocess, top: top)
            print(json ? try PredictJob.json(predictions) : PredictJob.text(predictions))
        }
    }
}

struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Accuracy, top-k, per-class precision/recall and the confusion matrix.")
    @OptionGroup var source: ModelOptions
    @Option(help: "Class folders (or a folder with val/ or test/).") var data: String
    @Option(name: .customLong("class-names"), help: "Evaluate only these class folders (comma-separated: the model's classes).") var classNames: String?
    @Option var preprocess: Preprocessing?
    @Option(name: .customLong("top-k")) var topK = 5
    @Flag(help: "Print one JSON object (\"accuracy\" is top-1 in 0..1).") var json = false
    @OptionGroup(title: "Runtime") var runtime: RuntimeFlags

    func run() throws {
        try runReportingErrors {
            let chosen = classNames.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
            let summary = try EvaluateJob.run(try source.load(runtime.applied()), data: data, classNames: chosen, preprocess: preprocess, topK: topK)
            print(json ? String(decoding: try summary.jsonData(), as: UTF8.self) : EvaluateJob.text(summary))
        }
    }
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write a model as a Graft file, a tf_keras full-model .h5 or a Keras 3 .keras archive (atomically).")
    enum Format: String, ExpressibleByArgument { case native, kerasH5 = "keras-h5", keras }
    @OptionGroup var source: ModelOptions
    @Option(help: "native | keras-h5 (tf_keras full model) | keras (Keras 3 .keras archive)") var format: Format = .native
    @Option(help: "Destination file.") var out: String

    func run() throws {
        try runReportingErrors {
            let loaded = try source.load(RuntimeOptions())
            let what = try ExportJob.run(loaded, keras: format == .kerasH5, kerasArchive: format == .keras, to: out)
            print("wrote \(out) (\(what), \(loaded.model.architecture))")
        }
    }
}

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a weights file: format, layers, tensors, parameter count, matching zoo model.")
    @Argument(help: "An HDF5 weights or model file.") var file: String

    func run() throws {
        try runReportingErrors { print(try ExportJob.inspect(file)) }
    }
}

struct ZooList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "zoo", abstract: "List the architectures --base accepts.")
    func run() throws {
        try runReportingErrors { print(ExportJob.zooTable()) }
    }
}

struct Augment: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write a PNG grid of augmented samples (--preview) to see what the model will see.")
    @Option(help: "Image folder.") var data: String
    @Option(help: "A recipe whose augmentation and input size to use.") var recipe: String?
    @Option(name: .customLong("set"), help: "Recipe keys, e.g. --set augmentation={flip: true, rotation: 15}") var assignments: [String] = []
    @Option(name: .customLong("input-size")) var inputSize = 96
    @Flag(help: "Write the preview grid.") var preview = false
    @Option(help: "Output PNG.") var out = "augment-preview.png"
    @Option var seed: UInt64 = 0

    func run() throws {
        try runReportingErrors {
            guard preview else { throw ValidationError("nothing to do: add --preview") }
            let r = try Recipe.resolve(file: recipe.map { URL(fileURLWithPath: $0) }, overrides: try RecipeOverrides(assignments: assignments))
            try ExportJob.augmentPreview(data: data, augmentation: r.augmentation, inputSize: r.inputSize ?? inputSize, seed: seed, to: out)
            print("wrote \(out)")
        }
    }
}
