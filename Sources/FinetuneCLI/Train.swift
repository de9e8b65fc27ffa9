import ArgumentParser
import Foundation
import Training

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fine-tune a model on an image folder (the default command).",
        discussion: """
        Settings come from, in increasing precedence: built-in defaults, the recipe (--recipe, or the
        shipped default recipe for --base vgg|resnet|lenet, or recipes/mobilenet[v2]-transfer.yaml for
        --base mobilenet|mobilenetv2 with --weights), then these flags. The resolved recipe is
        written to the output folder. DIR holds class folders, or train/ and val/ (or test/) with class folders.
        """)

    @Option(help: "Model: a zoo name (`finetune zoo`) or a shipped trunk: vgg, resnet, lenet.") var base: String?
    @Option(help: "Number of classes (default: one per class folder; must match the folders).") var classes: Int?
    @Option(help: "Image folder (default for vgg, resnet and lenet: data/mnist5k).") var data: String?
    @Option(name: .customLong("class-names"), help: "Use only these class folders, in this order (comma-separated: 7,8,9).") var classNames: String?
    @Option(name: .customLong("input-channels"), help: "Input channels of a model built from scratch (1 gray, 3 RGB).") var inputChannels: String?
    @Option(help: "Pretrained weights: Keras 2/3 .h5, Caffe HDF5 or a Graft model (format detected from content); 'none' for random.") var weights: String?
    @Option(help: "YAML recipe file.") var recipe: String?
    @Option(help: "Output folder (default runs/<base>-<time>).") var out: String?
    @Option(help: "Continue the run in this output folder from its checkpoint.") var resume: String?
    @Option(help: "A trained Graft model whose classes are kept; the data's new classes are added.") var extend: String?
    @Option var epochs: String?
    @Option(name: .customLong("input-size")) var inputSize: String?
    @Option(name: .customLong("batch-size")) var batchSize: String?
    @Option var lr: String?
    @Option(help: "sgd | adam | adamw") var optimizer: String?
    @Option var momentum: String?
    @Option(name: .customLong("weight-decay")) var weightDecay: String?
    @Option var l1: String?
    @Option(help: "constant | step | cosine | onecycle") var schedule: String?
    @Option(help: "Warm-up epochs.") var warmup: String?
    @Option(help: "trunk | none | upto:LAYER") var freeze: String?
    @Option(name: .customLong("unfreeze-at"), help: "EPOCH:LAYER (repeatable): unfreeze LAYER and later layers before EPOCH, at lr x trunk_lr_scale.") var unfreezeAt: [String] = []
    @Option(name: .customLong("trunk-lr-scale")) var trunkLRScale: String?
    @Option var dropout: String?
    @Option(name: .customLong("label-smoothing")) var labelSmoothing: String?
    @Option(help: "softmax | sigmoid | euclidean") var loss: String?
    @Option var seed: String?
    @Option var threads: String?
    @Option(help: "none | scale | caffe | torch | tf (default: the model's)") var preprocess: String?
    @Option(help: "Width multiplier of a zoo model built from scratch (0.25, 0.5, 1).") var width: String?
    @Flag(name: .customLong("cifar-stem"), help: "CIFAR stem for 32x32 input (3x3 stride-1 first conv, no stem pooling).") var cifarStem = false
    @Option(name: .customLong("cache-features"), help: "With augmentation: cache N augmented passes of trunk features for the frozen-trunk phase (0 = off).") var cacheFeatures: Int?
    @Option(name: .customLong("set"), help: "Any recipe key: --set augmentation={flip: true, rotation: 10}") var assignments: [String] = []
    @Flag(help: "Plain progress lines even on a terminal.") var plain = false
    @Flag(name: .customLong("allow-nonfinite-weights"), help: "Start from weights that hold NaN or infinite values (refused by default).")
    var allowNonFinite = false
    @Option(name: .customLong("log-json"), help: "Also write one JSON object per line to FILE for each event (epoch_end, phase, checkpoint, warning, early_stop, done).") var logJSON: String?
    @Option(help: "Also write TensorBoard event files (scalars per epoch, the top-losses grid) into DIR.") var tensorboard: String?
    @OptionGroup(title: "Runtime") var runtime: RuntimeFlags

    func overrides() throws -> RecipeOverrides {
        var pairs: [(key: String, value: String)] = []
        func add(_ key: String, _ v: String?) { if let v { pairs.append((key, v)) } }
        add("model", base); add("classes", classes.map(String.init)); add("data", data); add("weights", weights)
        add("out", out); add("extend", extend); add("epochs", epochs); add("input_size", inputSize)
        add("batch_size", batchSize); add("lr", lr); add("optimizer", optimizer); add("momentum", momentum)
        add("weight_decay", weightDecay); add("l1", l1); add("schedule", schedule); add("warmup", warmup)
        add("freeze", freeze); add("trunk_lr_scale", trunkLRScale); add("dropout", dropout)
        add("label_smoothing", labelSmoothing); add("loss", loss); add("seed", seed); add("threads", threads)
        add("preprocess", preprocess); add("width", width); add("input_channels", inputChannels)
        add("class_names", classNames.map { "[" + $0 + "]" })
        if cifarStem { add("cifar_stem", "true") }
        add("cache_features", cacheFeatures.map(String.init))
        for u in unfreezeAt { add("unfreeze_at", u) }
        var o = try RecipeOverrides(pairs: pairs)
        if !assignments.isEmpty { o = o.merged(with: try RecipeOverrides(assignments: assignments)) }
        return o
    }

    func run() throws {
        try runReportingErrors {
            let options = runtime.applied()
            allowNonFiniteWeights(allowNonFinite)
            let job = try TrainJob.resolve(recipeFile: recipe, overrides: try overrides(), resumeFolder: resume,
                                           explicitData: data != nil || assignments.contains { $0.hasPrefix("data=") },
                                           explicitClassNames: classNames != nil || assignments.contains { $0.hasPrefix("class_names=") || $0.hasPrefix("class-names=") },
                                           explicitOut: out != nil)
            if plain { job.progressStyle = .lines }
            if let logJSON { job.events = EventLog(url: URL(fileURLWithPath: logJSON), continuing: resume != nil) }
            if let tensorboard { job.tensorBoard = try TensorBoardWriter(folder: URL(fileURLWithPath: tensorboard)) }
            job.runtime = options
            try job.run()
        }
    }
}
