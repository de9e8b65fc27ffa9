import Foundation
import ImageIO
import NN
import TensorCore
import WeightIO
import Zoo

/// What a finished run reports.
public struct TrainSummary: Sendable {
    /// The run's output folder (``Recipe/out``).
    public var outputFolder: String
    /// Epochs trained.
    public var epochs: Int
    /// Accuracy on the validation images after the last epoch (nil without validation data).
    public var validationAccuracy: Double?
    /// Wall-clock time of the run.
    public var seconds: Double
    /// For `--extend`: accuracy on the old classes' validation images before and after.
    public var oldClassAccuracyBefore: Double?
    public var oldClassAccuracyAfter: Double?
    /// With `keep_best` or early stopping: the best epoch by the monitored metric (model.h5 holds its
    /// weights under `keep_best`).
    public var bestEpoch: Int?
    /// The run ended early (early stopping).
    public var stoppedEarly = false
}

/// One `finetune train` run: data, model, phases (head on cached features, then unfrozen layers),
/// per-epoch checkpoints, and the output folder (model.h5, model-keras.h5, recipe.yaml,
/// metrics.json, report.html). All input checks happen before any long work starts.
///
/// The recipe-driven way to fine-tune from Swift: build a ``Recipe`` in code (or load a YAML one with
/// ``Recipe/load(contentsOf:)``) and run it exactly as the command line would.
///
/// ```swift
/// var recipe = Recipe()
/// recipe.model = "vgg16"
/// recipe.weights = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
/// recipe.data = "my_photos"           // my_photos/<class>/*.png, or my_photos/train + my_photos/val
/// recipe.inputSize = 224
/// recipe.epochs = 10
/// recipe.unfreezeAt = [Recipe.UnfreezeStep(epoch: 6, layer: "block5")]
/// recipe.out = "runs/photos"
/// let summary = try TrainJob(recipe: recipe).run()
/// ```
///
/// For the loop itself in your hands, use ``Trainer``.
public final class TrainJob {
    /// Everything the run does.
    public let recipe: Recipe
    /// Continue the run whose output folder this is (its checkpoint.h5 and recipe.yaml).
    public let resume: Bool
    /// Where the run's summary lines go (default: standard output).
    public var say: (String) -> Void = { if DataParallel.isLeader { print($0); fflush(nil) } }
    /// Per-batch progress display (nil: chosen from the terminal).
    public var progressStyle: ProgressReporter.Style? = nil
    /// How the run's kernels run (the process-wide parts are applied by the executable at start-up).
    public var runtime = RuntimeOptions()
    /// `--log-json`: machine-readable events (nil: none).
    public var events: EventLog?
    /// `--tensorboard DIR`: per-epoch scalars and the top-losses grid as TensorBoard events (nil: none).
    public var tensorBoard: TensorBoardWriter?

    /// A job for `recipe`; with `resume`, it continues the run in `recipe.out` from its last checkpoint.
    public init(recipe: Recipe, resume: Bool = false) {
        self.recipe = recipe
        self.resume = resume
    }

    var outURL: URL { URL(fileURLWithPath: recipe.out) }
    func outPath(_ name: String) -> String { outURL.appendingPathComponent(name).path }

    /// Checks every input, trains, and writes the output folder.
    ///
    /// - Returns: the run's summary (epochs, validation accuracy, time).
    /// - Throws: ``JobError`` (one line naming the file, layer or value at fault) for a bad input,
    ///   before any long work; ``TrainingError`` for a non-finite loss (the last good checkpoint stays).
    @discardableResult
    public func run() throws -> TrainSummary {
        let started = Date()
        if let t = recipe.threads { Threads.count = max(1, t) }
        try prepareOutputFolder()
        let inputs = try loadInputs()
        let (prepared, trainImages, valImages, budget) = (inputs.prepared, inputs.trainImages, inputs.valImages, inputs.budget)
        let model = prepared.model, skippedCount = inputs.skippedCount, augmentation = inputs.augmentation

        // Written once every input check has passed (a run refused at the start leaves an existing
        // output folder's recipe.yaml alone) and before the first checkpoint, which `--resume` pairs with it.
        if !resume && DataParallel.isLeader {
            try recipe.write(to: outURL.appendingPathComponent("recipe.yaml"), header: "Resolved recipe of this run")
        }
        let before = try prepared.extendedFrom.map { n in try oldClassAccuracy(model, valImages, oldClasses: n, restrictToOld: true) }
        let runner = PhaseRunner(job: self, model: model, prepared: prepared, trainImages: trainImages, valImages: valImages,
                                 featureImages: inputs.featureImages, augmented: !augmentation.isIdentity, budget: budget)
        let log = try runner.run()
        if !DataParallel.isLeader {   // the leader evaluates, reports and writes the outputs
            return TrainSummary(outputFolder: recipe.out, epochs: log.epochs.count, validationAccuracy: nil,
                                seconds: Date().timeIntervalSince(started))
        }

        // Final evaluation and outputs.
        let valScores = try valImages.map { try scores(model, $0) }
        let confusion = valScores.map { confusionMatrix($0.scores, $0.labels, classCount: prepared.classNames.count) }
        let after = try prepared.extendedFrom.map { n in try oldClassAccuracy(model, valImages, oldClasses: n, restrictToOld: false) }
        let best = runner.tracksBest ? runner.best : nil
        var marks: [(x: Double, label: String)] = []
        if runner.cachedEpochs > 0 && runner.cachedEpochs < log.epochs.count { marks.append((Double(runner.cachedEpochs) + 0.5, "phase 2")) }
        if let e = best?.bestEpoch { marks.append((Double(e), "best")) }
        var gallery: TopLossGallery = ([], "", nil)
        if let valImages, let valScores {
            gallery = topLossFigures(model, valImages, valScores, classNames: prepared.classNames)
            if let tensorBoard, let grid = gallery.grid { try tensorBoard.image("top_losses", grid, step: log.epochs.count) }
        }
        try writeOutputs(prepared, log: log, confusion: confusion, bestEpoch: recipe.keepBest ? best?.bestEpoch : nil, marks: marks,
                         topLosses: (gallery.figures, gallery.note))
        var summary = TrainSummary(outputFolder: recipe.out, epochs: log.epochs.count,
                                   validationAccuracy: confusion?.accuracy, seconds: Date().timeIntervalSince(started),
                                   oldClassAccuracyBefore: before ?? nil, oldClassAccuracyAfter: after ?? nil)
        summary.bestEpoch = best?.bestEpoch
        summary.stoppedEarly = best?.stopped ?? false
        report(summary, skipped: skippedCount)
        var done: [String: EventLog.Value] = ["epochs": .int(summary.epochs), "seconds": .double(summary.seconds)]
        if let a = summary.validationAccuracy { done["val_accuracy"] = .double(a) }
        try emit("done", done)
        return summary
    }

    /// What a run trains on, checked: the model prepared from the recipe, and the train and
    /// validation batch sources with their caches.
    struct Inputs {
        let prepared: PreparedModel
        let trainImages: ImageBatchSource
        let valImages: ImageBatchSource?
        /// The whole training set (`trainImages` when not data-parallel), for the feature cache.
        let featureImages: ImageBatchSource
        let budget: CacheBudget
        let skippedCount: Int
        let augmentation: AugmentationConfig
    }

    /// Loads the data and the model and makes the batch sources (every input check, before long work).
    func loadInputs() throws -> Inputs {
        let events = self.events
        let sayWarning: @Sendable (String) -> Void = {
            FileHandle.standardError.write(Data(("warning: " + $0 + "\n").utf8))
            try? events?.record("warning", ["message": .string($0)])
        }
        var data = try RunData.load(recipe.data, validationFraction: recipe.validationSplit, seed: recipe.seed,
                                    selecting: recipe.classNames, warn: sayWarning)
        let prepared = try ModelSetup.prepare(recipe, dataClasses: data.train.classNames)
        if prepared.classNames != data.train.classNames {   // extended head: old classes first
            data = try RunData.load(recipe.data, validationFraction: recipe.validationSplit, seed: recipe.seed,
                                    classNames: prepared.classNames, selecting: recipe.classNames, warn: { _ in })
        }
        if (recipe.keepBest || recipe.earlyStopping != nil) && data.validation == nil {
            throw JobError("\(recipe.keepBest ? "keep_best" : "early_stopping") needs validation images: add a val/ folder or validation_split > 0")
        }
        let model = prepared.model
        let inputShape = [1] + model.inputShape
        do { _ = try model.outputShape(for: inputShape) } catch {
            throw JobError("\(model.architecture) cannot take input \(inputShape): \(error)")
        }
        let skippedCount = data.train.skipped.count + (data.validation?.skipped.count ?? 0)
        say("model   \(prepared.source); \(model.parameterCount) parameters")
        say("data    \(recipe.data): \(data.train.classCount) classes (\(prepared.classNames.joined(separator: ", "))), \(data.splitDescription)"
            + (skippedCount > 0 ? ", \(skippedCount) unreadable files skipped" : ""))

        let preprocessing = ModelSetup.imagePreprocessing(model, override: recipe.preprocess)
        let budget = CacheBudget(limit: runtime.cacheMemory)
        let side = DecodedImageCache.defaultMaxShorterSide(for: preprocessing)
        let trainCache = try budget.imageCache(data.train, "train", pixelFormat: preprocessing.pixelFormat, maxShorterSide: side, say: say)
        let valCache = try data.validation.flatMap {
            try budget.imageCache($0, "val", pixelFormat: preprocessing.pixelFormat, maxShorterSide: side, say: say)
        }
        let augmentation = recipe.augmentation.imageConfig
        // Data-parallel (finetune-mpi): training batches are shared out; the trunk features of the
        // cached-head phase are computed whole on every rank (that phase runs the same everywhere).
        let group = DataParallel.group
        try group.map { try checkSameData(data.train, group: $0) }
        if let group { say(dataParallelSummary(group)) }
        func trainLoader(_ shard: LoaderShard?) throws -> ImageBatchSource {
            ImageBatchSource(loader: try BatchLoader(
                dataset: trainCache?.dataset ?? data.train, preprocessing: preprocessing,
                augmentation: augmentation.isIdentity ? nil : augmentation, cache: trainCache, batchSize: recipe.batchSize,
                shuffle: true, seed: recipe.seed, fusedAugment: runtime.fusedAugment, streamShorterSide: side, shard: shard))
        }
        let trainImages = try trainLoader(group.map { LoaderShard(index: $0.rank, count: $0.size) })
        let featureImages = group == nil ? trainImages : try trainLoader(nil)
        let valImages = try data.validation.map { v in
            ImageBatchSource(loader: try BatchLoader(dataset: valCache?.dataset ?? v, preprocessing: preprocessing, cache: valCache,
                                                     batchSize: max(recipe.batchSize, 64), shuffle: false, streamShorterSide: side))
        }

        return Inputs(prepared: prepared, trainImages: trainImages, valImages: valImages, featureImages: featureImages, budget: budget,
                      skippedCount: skippedCount, augmentation: augmentation)
    }

    /// Records an event in the `--log-json` file, when there is one.
    func emit(_ event: String, _ fields: [String: EventLog.Value] = [:]) throws {
        guard DataParallel.isLeader else { return }
        try events?.record(event, fields)
        if event == "epoch_end", let tensorBoard, case .int(let epoch)? = fields["epoch"] {
            let tags = [("train_loss", "loss/train"), ("val_loss", "loss/validation"), ("train_accuracy", "accuracy/train"),
                        ("val_accuracy", "accuracy/validation"), ("lr", "learning_rate")]
            try tensorBoard.scalars(tags.compactMap { key, tag in
                if case .double(let v)? = fields[key] { return (tag, v) } else { return nil }
            }, step: epoch)
        }
    }

    private func prepareOutputFolder() throws {
        let fm = FileManager.default
        do { try fm.createDirectory(at: outURL, withIntermediateDirectories: true) } catch {
            throw JobError("\(recipe.out): cannot create the output folder (\(error.localizedDescription))")
        }
        let probe = outPath(".write-test-\(getpid())")
        guard fm.createFile(atPath: probe, contents: Data()) else { throw JobError("\(recipe.out): output folder is not writable") }
        try? fm.removeItem(atPath: probe)
        if resume {
            guard fm.fileExists(atPath: outPath(RunCheckpoint.fileName)) else {
                throw JobError("--resume \(recipe.out): no \(RunCheckpoint.fileName) there to resume from")
            }
        }
    }

    private func report(_ s: TrainSummary, skipped: Int) {
        var line = "done    \(s.epochs) epochs in \(String(format: "%.1f", s.seconds)) s"
        if let a = s.validationAccuracy { line += "; validation accuracy \(String(format: "%.4f", a))" }
        if skipped > 0 { line += "; \(skipped) unreadable files skipped" }
        say(line)
        if let e = s.bestEpoch {
            say("best    epoch \(e) by \(recipe.monitor.rawValue)" + (recipe.keepBest ? "; model.h5 holds its weights" : ""))
        }
        if let b = s.oldClassAccuracyBefore, let a = s.oldClassAccuracyAfter {
            say("extend  old-class validation accuracy: before \(String(format: "%.4f", b)), after \(String(format: "%.4f", a))")
        }
        say("output  \(s.outputFolder)/ model.h5 model-keras.h5 recipe.yaml metrics.json report.html")
    }
}
