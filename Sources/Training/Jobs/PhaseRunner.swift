import Foundation
import NN
import TensorCore
import WeightIO
import Zoo

/// Runs a job's training in up to two phases, fastai `fine_tune` style:
/// 1. trunk frozen: the head trains on trunk features computed once (`FeatureCache`), when nothing
///    random reaches the trunk (no augmentation, or `cache_features` with N augmented copies);
/// 2. from the first `unfreeze_at` epoch (or from the start when phase 1 does not apply): the whole
///    network on images, with the freeze plan applied before every epoch (frozen layers get no
///    backward pass; frozen BatchNorm runs in inference mode).
/// Each phase has its own optimizer and learning-rate schedule; every epoch ends with an atomic
/// checkpoint of the whole model, so `--resume` continues either phase exactly.
final class PhaseRunner {
    let job: TrainJob
    let model: ZooModel
    let prepared: PreparedModel
    let trainImages: ImageBatchSource
    let valImages: ImageBatchSource?
    let augmented: Bool
    let budget: CacheBudget
    /// Best epoch and early-stopping state (restored from the checkpoint on resume).
    private(set) var best: BestTracker
    /// The weights of the best epoch, for `keep_best` (written atomically when an epoch improves).
    static let bestFileName = "best.h5"

    /// The whole training set for the feature cache (differs from `trainImages` when data-parallel).
    let featureImages: ImageBatchSource

    init(job: TrainJob, model: ZooModel, prepared: PreparedModel, trainImages: ImageBatchSource,
         valImages: ImageBatchSource?, featureImages: ImageBatchSource, augmented: Bool, budget: CacheBudget) {
        self.job = job; self.model = model; self.prepared = prepared
        self.trainImages = trainImages; self.valImages = valImages; self.augmented = augmented
        self.featureImages = featureImages
        self.budget = budget
        self.best = BestTracker(recipe: job.recipe)
    }

    /// Early stopping or keep_best is on.
    var tracksBest: Bool { recipe.keepBest || recipe.earlyStopping != nil }

    var recipe: Recipe { job.recipe }

    /// Epochs of phase 1 (0 when the head cannot train on cached features).
    var cachedEpochs: Int {
        let firstUnfreeze = recipe.unfreezeAt.map(\.epoch).min() ?? (recipe.epochs + 1)
        guard recipe.freeze == .trunk, firstUnfreeze > 1, !augmented || recipe.cacheFeatures.count > 0 else { return 0 }
        return min(recipe.epochs, firstUnfreeze - 1)
    }

    func run() throws -> MetricsLog {
        let p1 = cachedEpochs, p2 = recipe.epochs - p1
        var resumeState: RunCheckpoint? = nil
        if job.resume {
            let ckpt = try RunCheckpoint.read(job.outPath(RunCheckpoint.fileName))
            try RunCheckpoint.load(ckpt.fullModel, into: model, file: job.outPath(RunCheckpoint.fileName))
            resumeState = ckpt
            if let saved = ckpt.state.metadata.extra[BestTracker.metadataKey] { best = try BestTracker.decode(saved) }
            job.say("resume  \(job.outPath(RunCheckpoint.fileName)): phase \(ckpt.phase), epoch \(ckpt.state.metadata.epoch) done")
        }
        var log = MetricsLog()
        if p1 > 0 {
            let restore = resumeState?.phase == 1 ? resumeState?.state : nil
            let skip = resumeState?.phase == 2
            if skip, let saved = resumeState?.state.metadata.extra["phase1_log"] {
                log = try JSONCoding.decoder().decode(MetricsLog.self, from: Data(saved.utf8))
            } else if !skip {
                log = try runCachedHead(epochs: p1, restore: restore)
            }
        }
        if p2 > 0 && !best.stopped {
            let restore = resumeState?.phase == 2 ? resumeState?.state : nil
            let phase2 = try runFull(epochs: p2, offset: p1, previous: log, restore: restore)
            for m in phase2.epochs { var e = m; e.epoch += p1; log.record(e) }
        }
        // Only the leader writes outputs, so only it needs the best epoch's weights back.
        if recipe.keepBest, best.bestEpoch != nil, DataParallel.isLeader { try loadBest() }
        return log
    }

    /// After an epoch: the best-epoch bookkeeping (before the checkpoint, which saves it).
    private func trackBest(_ t: Trainer, _ m: EpochMetrics, offset: Int) throws {
        guard tracksBest else { return }
        let epoch = m.epoch + offset
        if best.update(m, epoch: epoch), recipe.keepBest, DataParallel.isLeader {
            // Written before the checkpoint: a run killed in between redoes this epoch (deterministically) and rewrites it.
            let params = model.namedParameters().map { (path: $0.0, value: $0.1.value) }
            try writeNativeCheckpoint(path: job.outPath(Self.bestFileName), parameters: params, attributes: ["best_epoch": "\(epoch)"])
        }
        if best.stopped { t.stopRequested = true }
    }

    /// After the checkpoint: say and log the stop.
    private func reportStop(_ m: EpochMetrics, offset: Int) throws {
        guard best.stopped, let e = best.bestEpoch, let v = best.bestValue else { return }
        let name = best.monitor.rawValue
        job.say("stop    early stopping after epoch \(m.epoch + offset): \(name) has not improved for \(best.wait) epochs "
                + "(best \(String(format: "%.4f", v)) at epoch \(e))")
        try job.emit("early_stop", ["epoch": .int(m.epoch + offset), "best_epoch": .int(e), "monitor": .string(name), "best_value": .double(v)])
    }

    private func loadBest() throws {
        let path = job.outPath(Self.bestFileName)
        guard FileManager.default.fileExists(atPath: path) else { throw JobError("\(path): missing (keep_best needs the best epoch's weights)") }
        let file = try readNativeCheckpoint(path: path)
        try RunCheckpoint.load(Dictionary(uniqueKeysWithValues: file.parameters.map { ($0.name, $0.value) }), into: model, file: path)
    }

    private func makeTrainer(_ layer: any Layer, epochs: Int, stepsPerEpoch: Int) -> Trainer {
        var scheduled = recipe
        scheduled.lr = job.effectiveLR
        let t = Trainer(model: layer, optimizer: recipe.makeOptimizer(headPrefixes: model.headLayerNames),
                        schedule: scheduled.makeSchedule(stepsPerEpoch: max(1, stepsPerEpoch)),
                        loss: recipe.makeLoss(), epochs: epochs, seed: recipe.seed)
        t.progress = DataParallel.isLeader ? ProgressReporter(style: job.progressStyle) : nil
        return t
    }

    private func checkpoint(_ trainer: Trainer, phase: Int, extra: [String: String] = [:]) throws {
        guard DataParallel.isLeader else { return }
        var extra = extra
        if tracksBest { extra[BestTracker.metadataKey] = best.json() }
        let full = Dictionary(uniqueKeysWithValues: model.namedParameters().map { ($0.0, $0.1.value) })
        try RunCheckpoint(phase: phase, state: trainer.captureState(extra: extra), fullModel: full)
            .write(to: job.outPath(RunCheckpoint.fileName))
    }

    /// The `--log-json` events of an epoch's end: its metrics (epochs counted over the whole run), then the checkpoint.
    private func logEpoch(_ m: EpochMetrics, phase: Int, offset: Int) throws {
        var shifted = m
        shifted.epoch += offset
        try job.emit("epoch_end", EventLog.epochFields(shifted, phase: phase))
        try job.emit("checkpoint", ["path": .string(job.outPath(RunCheckpoint.fileName)), "epoch": .int(shifted.epoch),
                                    "phase": .int(phase)])
    }

    private func runCachedHead(epochs: Int, restore: TrainingState?) throws -> MetricsLog {
        model.freezeTrunk()
        let copies = augmented ? min(recipe.cacheFeatures.count, epochs) : 1
        let t0 = Date()
        let inference = job.runtime.inference
        let storage = try featureStorage(copies: copies)
        let trainFeatures = try FeatureCache.compute(trunk: model.trunk, source: featureImages, copies: copies,
                                                     inference: inference, storage: storage.train)
        let valFeatures = try valImages.map {
            try FeatureCache.compute(trunk: model.trunk, source: $0, copies: 1, inference: inference, storage: storage.val)
        }
        try job.emit("phase", ["phase": .int(1), "epochs": .int(epochs), "first_epoch": .int(1), "kind": .string("cached_features")])
        job.say("phase 1 head on cached trunk features \(trainFeatures.featureShape) (\(copies) cop\(copies == 1 ? "y" : "ies")"
                + (storage.train == .memory ? "" : " in files") + ", "
                + "computed in \(String(format: "%.1f", Date().timeIntervalSince(t0))) s), \(epochs) epochs")
        let source = CachedFeatureSource(cache: trainFeatures, batchSize: recipe.batchSize, shuffle: true, seed: recipe.seed)
        let val = valFeatures.map { CachedFeatureSource(cache: $0, batchSize: 256, shuffle: false, seed: 0) }
        let trainer = makeTrainer(model.head, epochs: epochs, stepsPerEpoch: source.batchesPerEpoch)
        if var restore {
            // The checkpoint holds the whole model (already loaded); this trainer owns only the head.
            let headPaths = Set(model.head.namedParameters().map(\.0))
            restore.model = restore.model.filter { headPaths.contains($0.key) }
            try trainer.restore(restore)
        }
        if best.stopped { return trainer.log }   // resumed after the stop: nothing left to train
        trainer.hooks.epochEnd = { [self] t, m in
            try trackBest(t, m, offset: 0)
            try checkpoint(t, phase: 1)
            if DataParallel.isLeader { try t.log.write(to: URL(fileURLWithPath: job.outPath("metrics.json"))) }
            try logEpoch(m, phase: 1, offset: 0)
            try reportStop(m, offset: 0)
        }
        return try trainer.fit(source, validation: val)
    }

    /// Memory when the features fit in what the image caches left of the budget, else files in the
    /// run folder (the same rows either way).
    private func featureStorage(copies: Int) throws -> (train: FeatureCache.Storage, val: FeatureCache.Storage) {
        let shape = try model.trunk.outputShape(for: [1] + model.inputShape)
        let features = shape.dropFirst().reduce(1, *)
        let trainBytes = copies * FeatureCache.bytesPerCopy(rows: trainImages.loader.dataset.samples.count, featureCount: features)
        let valBytes = FeatureCache.bytesPerCopy(rows: valImages?.loader.dataset.samples.count ?? 0, featureCount: features)
        if budget.take(trainBytes + valBytes) {
            job.say("cache   trunk features in memory (\(ByteCount.describe(trainBytes + valBytes)))")
            return (.memory, .memory)
        }
        let folder = URL(fileURLWithPath: job.recipe.out)
        job.say("cache   trunk features in files in \(job.recipe.out) (\(ByteCount.describe(trainBytes + valBytes)), "
                + "over the \(ByteCount.describe(budget.remaining)) left of the --cache-memory budget)")
        let rank = DataParallel.group.map { "-rank\($0.rank)" } ?? ""   // each process its own files
        return (.files(folder: folder, prefix: ".features-train\(rank)"), .files(folder: folder, prefix: ".features-val\(rank)"))
    }

    private func runFull(epochs: Int, offset: Int, previous: MetricsLog, restore: TrainingState?) throws -> MetricsLog {
        let shifted = recipe.unfreezeAt.map { Recipe.UnfreezeStep(epoch: max(1, $0.epoch - offset), layer: $0.layer) }
        let paths = model.namedParameters().map(\.0)
        let plan = try FreezePlan(paths: paths, headPrefixes: model.headLayerNames,
                                  freeze: offset > 0 ? .trunk : recipe.freeze, unfreezeAt: shifted)
        let trainer = makeTrainer(model, epochs: epochs, stepsPerEpoch: trainImages.batchesPerEpoch)
        trainer.gradientSync = DataParallel.group.map { BucketedGradientSync(group: $0) }
        if let restore { try trainer.restore(restore) }
        if best.stopped { return trainer.log }
        let phase = offset > 0 ? 2 : 1
        try job.emit("phase", ["phase": .int(phase), "epochs": .int(epochs), "first_epoch": .int(offset + 1), "kind": .string("images")])
        job.say("phase \(phase) \(epochs) epochs on images"
                + (recipe.unfreezeAt.isEmpty ? "" : ", unfreezing \(recipe.unfreezeAt.map(\.description).joined(separator: ", "))"))
        let previousJSON = String(decoding: (try? previous.jsonData()) ?? Data(), as: UTF8.self)
        trainer.hooks.epochStart = { [self] _, e in
            let n = plan.apply(to: model, epoch: e)
            _ = n
            if let error = trainImages.error { throw error }
        }
        trainer.hooks.epochEnd = { [self] t, m in
            if let error = trainImages.error { throw error }
            try trackBest(t, m, offset: offset)
            try checkpoint(t, phase: 2, extra: ["phase1_log": previousJSON])
            var combined = previous
            for m in t.log.epochs { var e = m; e.epoch += offset; combined.record(e) }
            if DataParallel.isLeader { try combined.write(to: URL(fileURLWithPath: job.outPath("metrics.json"))) }
            try logEpoch(m, phase: phase, offset: offset)
            try reportStop(m, offset: offset)
        }
        let log = try trainer.fit(trainImages, validation: valImages)
        if let sync = trainer.gradientSync, sync.steps > 0 {
            let ms = 1000 * sync.waitSeconds / Double(sync.steps)
            job.say("mpi     \(sync.group.size) ranks; allreduce wait after backward \(String(format: "%.2f", ms)) ms per step "
                    + "(\(sync.lastBucketCount) bucket\(sync.lastBucketCount == 1 ? "" : "s") of <= \(sync.bucketBytes >> 20) MiB)")
        }
        return log
    }
}
