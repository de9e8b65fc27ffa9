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
    @Flag(help: "Test-time augmentation: average over the image, its mirror and four corner crops.") var tta = false
    @Option(help: "Also write a Grad-CAM overlay PNG per image into this folder.") var explain: String?
    @Option(name: .customLong("explain-class"), help: "Explain this class (default: each image's top class).") var explainClass: String?
    @Option(name: .customLong("explain-layer"), help: "Layer to explain (default: the last with a spatial map).") var explainLayer: String?
    @Argument(help: "PNG or JPEG files, or folders of them.") var images: [String]
    @OptionGroup(title: "Runtime") var runtime: RuntimeFlags

    func run() throws {
        try runReportingErrors {
            let loaded = try source.load(runtime.applied())
            let files = try PredictJob.imageFiles(images)
            let predictions = try PredictJob.run(loaded, files: files, preprocess: preprocess, top: top, tta: tta)
            print(json ? try PredictJob.json(predictions) : PredictJob.text(predictions))
            if let explain {
                let w = try ExplainJob.run(loaded, files: files, preprocess: preprocess, into: URL(fileURLWithPath: explain),
                                           className: explainClass, layer: explainLayer)
                FileHandle.standardError.write(Data("explain \(w.files.count) Grad-CAM overlays (layer \(w.layer)) in \(explain)\n".utf8))
            }
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
    @Flag(help: "Test-time augmentation: average over the image, its mirror and four corner crops.") var tta = false
    @OptionGroup(title: "Runtime") var runtime: RuntimeFlags

    func run() throws {
        try runReportingErrors {
            let chosen = classNames.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
            let summary = try EvaluateJob.run(try source.load(runtime.applied()), data: data, classNames: chosen, preprocess: preprocess,
                                              topK: topK, tta: tta)
            print(json ? String(decoding: try summary.jsonData(), as: UTF8.self) : EvaluateJob.text(summary))
        }
    }
}

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write a model as a Graft file or as Keras 2 .h5 weights (atomically).")
    enum Format: String, ExpressibleByArgument { case native, kerasH5 = "keras-h5" }
    @OptionGroup var source: ModelOptions
    @Option(help: "native | keras-h5") var format: Format = .native
    @Option(help: "Destination file.") var out: String

    func run() throws {
        try runReportingErrors {
            let loaded = try source.load(RuntimeOptions())
            try ExportJob.run(loaded, keras: format == .kerasH5, to: out)
            print("wrote \(out) (\(format.rawValue), \(loaded.model.architecture))")
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

struct LRFind: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lr-find",
        abstract: "Learning-rate range test: train briefly with a growing rate, print a suggestion, plot loss against rate.",
        discussion: "Takes train's flags (model, data, freezing, optimizer); writes lr-find.html and lr-find.json to --out.")
    @OptionGroup var train: Train
    @Option(name: .customLong("start-lr")) var startLR = 1e-7
    @Option(name: .customLong("end-lr")) var endLR = 10.0
    @Option(help: "Steps of the sweep (batches).") var steps = 100

    func run() throws {
        try runReportingErrors {
            let job = try TrainJob.resolve(recipeFile: train.recipe, overrides: try train.overrides(), resumeFolder: nil,
                                           explicitData: train.data != nil, explicitClassNames: train.classNames != nil,
                                           explicitOut: train.out != nil)
            job.runtime = train.runtime.applied()
            _ = try LRFindJob(job: job, start: startLR, end: endLR, steps: steps).run()
        }
    }
}
