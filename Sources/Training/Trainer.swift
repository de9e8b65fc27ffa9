import Foundation
import NN
import TensorCore

/// Maps the model's output and the batch targets to a scalar loss on the tape
/// (e.g. `{ out, t in softmaxCrossEntropy(logits: out, labels: t.labels!) }`).
public typealias LossFunction = (_ output: Var, _ targets: Targets) -> Var

/// Callbacks around the loop. Hooks may set `trainer.stopRequested` to end `fit` (see there).
public struct TrainerHooks {
    /// Before each epoch (1-based): gradual unfreezing, data refresh.
    public var epochStart: ((Trainer, Int) throws -> Void)?
    /// After each optimizer step.
    public var batchEnd: ((Trainer, BatchResult) -> Void)?
    /// After each epoch, with its metrics already in `trainer.log`: checkpoint, metrics.json, report.
    public var epochEnd: ((Trainer, EpochMetrics) throws -> Void)?
    /// After the last epoch (or a stop request).
    public var fitEnd: ((Trainer) throws -> Void)?

    public init(epochStart: ((Trainer, Int) throws -> Void)? = nil, batchEnd: ((Trainer, BatchResult) -> Void)? = nil,
                epochEnd: ((Trainer, EpochMetrics) throws -> Void)? = nil, fitEnd: ((Trainer) throws -> Void)? = nil) {
        self.epochStart = epochStart; self.batchEnd = batchEnd; self.epochEnd = epochEnd; self.fitEnd = fitEnd
    }
}

/// What one optimizer step did, handed to ``TrainerHooks/batchEnd``.
public struct BatchResult: Sendable {
    public var epoch: Int
    /// 1-based within the epoch.
    public var batch: Int
    /// Global step after this batch's update.
    public var step: Int
    /// Samples in the batch.
    public var size: Int
    /// The batch's loss before the update.
    public var loss: Float
    /// The learning rate of the step (base rate, before parameter-group scales).
    public var lr: Float
}

/// The training loop: for each epoch, for each batch: forward, loss, NaN/inf check, backward,
/// learning rate from `schedule(step, totalSteps)`, optimizer step over the parameters that
/// currently require gradients. All run state (epoch, step, RNG, metrics) is captured by
/// `captureState()` and restored by `restore(_:)`, so a resumed run ends bit-identical to an
/// uninterrupted one when the batch source is deterministic per epoch.
///
/// It is Keras's `model.fit` (or a PyTorch training loop) with each part a value:
///
/// ```swift
/// let trainer = Trainer(model: model, optimizer: SGD(momentum: 0.9), schedule: Schedules.cosine(0.01),
///                       loss: { y, t in softmaxCrossEntropy(logits: y, labels: t.labels!) }, epochs: 5)
/// trainer.hooks.epochStart = { _, epoch in if epoch == 3 { try model.unfreeze(from: "block5") } }
/// let log = try trainer.fit(trainBatches, validation: validationBatches)
/// ```
///
/// Which parameters train is read from each parameter at every step: freeze or unfreeze the
/// model (`freezeTrunk()`, `unfreeze(from:)`) before `fit` or in a hook. For the whole
/// `finetune train` job (cached features, phases, checkpoints, report) use ``TrainJob``.
public final class Trainer {
    /// The network being trained (a `ZooModel` or any `Layer`).
    public let model: any Layer
    /// Updates the parameters that train; its state is part of ``captureState(extra:)``.
    public var optimizer: any Optimizer
    /// Learning rate by step (``Schedules``).
    public let schedule: Schedule
    /// Output and targets to the scalar loss.
    public let loss: LossFunction
    /// Planned epochs; `fit` runs `epoch + 1 ... epochs`.
    public var epochs: Int
    /// Callbacks around epochs and batches.
    public var hooks = TrainerHooks()
    /// Progress lines on the terminal (nil: silent).
    public var progress: ProgressReporter?
    /// Seed of ``rng``; a checkpoint restores only into a trainer with the same seed.
    public let seed: UInt64
    /// Run-level generator for whatever needs randomness beyond the batch order (saved in state).
    public var rng: SeededRandom
    /// Completed epochs.
    public private(set) var epoch = 0
    /// Optimizer steps taken.
    public private(set) var step = 0
    /// Metrics of every completed epoch.
    public private(set) var log = MetricsLog()
    /// Set by a hook to end ``fit(_:validation:)``: from an epoch hook after that epoch (early stopping),
    /// from a batch hook after that batch (the LR finder).
    public var stopRequested = false
    /// Data-parallel training: gradients averaged over the group every step, epoch metrics summed
    /// (nil: one process).
    public var gradientSync: BucketedGradientSync?
    /// Steps the schedule spans (`epochs * batchesPerEpoch`), set when `fit` starts.
    public private(set) var totalSteps = 0
    /// Learning rate of the last step (base, before group scales).
    public private(set) var lastLR: Float = 0

    /// - Parameters:
    ///   - model: the network; its parameters' frozen flags decide what trains.
    ///   - optimizer: ``SGD``, ``Adam``, ``AdamW`` or your own ``Optimizer``.
    ///   - schedule: learning rate by step (``Schedules/constant(_:)`` for a fixed rate).
    ///   - loss: the scalar loss of a batch's output and targets.
    ///   - epochs: planned epochs (> 0).
    ///   - seed: seed of the trainer's own generator (saved in checkpoints).
    public init(model: any Layer, optimizer: any Optimizer, schedule: @escaping Schedule,
                loss: @escaping LossFunction, epochs: Int, seed: UInt64 = 0) {
        check(epochs > 0, "Trainer: epochs must be > 0")
        self.model = model
        self.optimizer = optimizer
        self.schedule = schedule
        self.loss = loss
        self.epochs = epochs
        self.seed = seed
        self.rng = SeededRandom(seed: seed)
    }

    /// Trains until `epochs` (continuing after `restore`), validating after each epoch when
    /// `validation` is given. Throws `TrainingError.nonFiniteLoss` before applying a bad update.
    ///
    /// - Parameters:
    ///   - data: the training batches (``ImageBatchSource``, ``InMemoryBatchSource``, your own).
    ///   - validation: batches evaluated after each epoch (inference mode, no tape).
    /// - Returns: the metrics of every epoch so far (also in ``log``).
    /// - Throws: ``TrainingError``, or whatever a hook throws.
    @discardableResult
    public func fit(_ data: any BatchSource, validation: (any BatchSource)? = nil) throws -> MetricsLog {
        let total = epochs * data.batchesPerEpoch
        totalSteps = total
        stopRequested = false
        while epoch < epochs && !stopRequested {
            let e = epoch + 1
            try hooks.epochStart?(self, e)
            let started = DispatchTime.now().uptimeNanoseconds
            let train = try trainEpoch(e, data: data, totalSteps: total)
            var metrics = EpochMetrics(epoch: e, trainLoss: train.loss, trainAccuracy: train.accuracy,
                                       lr: Double(lastLR), seconds: 0)
            if let validation {
                let v = evaluate(validation)
                metrics.valLoss = v.loss
                metrics.valAccuracy = v.accuracy
            }
            metrics.seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            epoch = e
            log.record(metrics)
            progress?.endEpoch(metrics)
            try hooks.epochEnd?(self, metrics)
        }
        try hooks.fitEnd?(self)
        return log
    }

    /// One pass over `data`; returns the sample-weighted mean loss and accuracy (nil when the
    /// targets have no notion of accuracy).
    func trainEpoch(_ e: Int, data: any BatchSource, totalSteps: Int) throws -> (loss: Double, accuracy: Double?) {
        model.setTraining(true)
        progress?.startEpoch(e, of: epochs, batches: data.batchesPerEpoch)
        var lossSum = 0.0, seen = 0, correct = 0.0, scored = 0, b = 0
        // Reflected once per epoch (the structure is fixed within an epoch; which parameters train
        // is read from each Parameter at the step, so unfreezing between epochs still works).
        let parameters = model.namedParameters()
        for batch in data.batches(epoch: e) {
            b += 1
            model.zeroGrad()
            let out = model(Var(batch.inputs))
            let l = loss(out, batch.targets)
            check(l.value.count == 1, "Trainer: loss must be a scalar, got \(l.value.shape)")
            let value = l.value[flat: 0]
            guard value.isFinite else {
                throw TrainingError.nonFiniteLoss(epoch: e, batch: b, step: step, value: value)
            }
            if let sync = gradientSync {
                sync.begin(localCount: batch.count)
                l.backward(parameterReady: { sync.parameterReady($0) })
                sync.finish()
            } else {
                l.backward()
            }
            let lr = schedule(step, totalSteps)
            optimizer.step(parameters, lr: lr)
            step += 1
            lastLR = lr
            lossSum += Double(value) * Double(batch.count)
            seen += batch.count
            if let hits = Self.hits(out.value, batch.targets) { correct += hits.correct; scored += hits.count }
            hooks.batchEnd?(self, BatchResult(epoch: e, batch: b, step: step, size: batch.count, loss: value, lr: lr))
            progress?.update(batch: b, images: batch.count, loss: lossSum / Double(seen))
            if stopRequested { break }   // a batch hook asked to stop now (the LR finder)
        }
        model.zeroGrad()
        if let group = gradientSync?.group {   // the epoch's metrics over every rank's samples
            let t = group.sum([lossSum, Double(seen), correct, Double(scored)])
            (lossSum, seen, correct, scored) = (t[0], Int(t[1]), t[2], Int(t[3]))
        }
        guard seen > 0 else { throw TrainingError.emptyEpoch(e) }
        return (lossSum / Double(seen), scored > 0 ? correct / Double(scored) : nil)
    }

    /// Mean loss and accuracy over `source` in inference mode, without a tape.
    public func evaluate(_ source: any BatchSource) -> (loss: Double, accuracy: Double?) {
        let wasTraining = model.isTraining
        model.setTraining(false)
        defer { model.setTraining(wasTraining) }
        return withoutGradients {
            var lossSum = 0.0, seen = 0, correct = 0.0, scored = 0
            for batch in source.batches(epoch: 0) {
                let out = model(Var(batch.inputs))
                lossSum += Double(loss(out, batch.targets).value[flat: 0]) * Double(batch.count)
                seen += batch.count
                if let h = Self.hits(out.value, batch.targets) { correct += h.correct; scored += h.count }
            }
            return (seen == 0 ? .nan : lossSum / Double(seen), scored > 0 ? correct / Double(scored) : nil)
        }
    }

    /// Predictions for evaluation reports (confusion matrix, top-k): feeds every batch's output
    /// scores into an `EvaluationAccumulator` (class targets only).
    public func evaluateClasses(_ source: any BatchSource, classCount: Int, k: Int = 5) -> EvaluationAccumulator {
        let wasTraining = model.isTraining
        model.setTraining(false)
        defer { model.setTraining(wasTraining) }
        var acc = EvaluationAccumulator(classCount: classCount, k: k)
        withoutGradients {
            for batch in source.batches(epoch: 0) {
                guard case .classes(let labels) = batch.targets else { continue }
                let out = model(Var(batch.inputs))
                acc.add(scores: out.value, labels: labels, loss: Double(loss(out, batch.targets).value[flat: 0]))
            }
        }
        return acc
    }

    /// Correct count: argmax for class targets; per-element (logit > 0) == (target > 0.5) for multi-hot.
    static func hits(_ scores: Tensor, _ targets: Targets) -> (correct: Double, count: Int)? {
        guard scores.rank == 2 else { return nil }
        switch targets {
        case .classes(let labels):
            let ok = zip(argmaxRows(scores), labels).filter { $0 == $1 }.count
            return (Double(ok), labels.count)
        case .multiHot(let t):
            guard t.shape == scores.shape else { return nil }
            let s = scores.pointer, p = t.pointer
            var ok = 0
            for i in 0..<t.count where (s[i] > 0) == (p[i] > 0.5) { ok += 1 }
            return (Double(ok) / Double(t.shape[1]), t.shape[0])
        }
    }

    // MARK: - Checkpoint state

    /// A snapshot of model, optimizer and loop state (cheap: tensors are copy-on-write).
    public func captureState(extra: [String: String] = [:]) -> TrainingState {
        let params = model.namedParameters()
        let meta = TrainingState.Metadata(epoch: epoch, step: step, totalSteps: totalSteps, seed: seed, rng: rng,
                                          log: log, frozen: params.filter { $0.1.isFrozen }.map(\.0),
                                          moduleRNG: moduleGenerators(), extra: extra)
        return TrainingState(metadata: meta, model: Dictionary(uniqueKeysWithValues: params.map { ($0.0, $0.1.value) }),
                             optimizer: optimizer.exportState())
    }

    /// Loads a snapshot: all-or-nothing (every model path present with its shape, no extras)
    /// before anything is assigned. Restores frozen flags, optimizer state, epoch, step, RNG, log.
    public func restore(_ state: TrainingState) throws {
        let params = model.namedParameters()
        let paths = Set(params.map(\.0))
        for (path, p) in params {
            guard let t = state.model[path] else { throw TrainingError.badState("missing tensor for '\(path)'") }
            guard t.shape == p.value.shape else {
                throw TrainingError.badState("'\(path)' has shape \(t.shape), the model expects \(p.value.shape)")
            }
        }
        if let extra = state.model.keys.filter({ !paths.contains($0) }).sorted().first {
            throw TrainingError.badState("unexpected tensor '\(extra)' for this model")
        }
        guard state.metadata.seed == seed else {
            throw TrainingError.badState("checkpoint seed \(state.metadata.seed) differs from this run's seed \(seed)")
        }
        let generators = Dictionary(uniqueKeysWithValues: statefulModules().map { ($0.0, $0.1) })
        if let missing = generators.keys.filter({ state.metadata.moduleRNG[$0] == nil }).sorted().first {
            throw TrainingError.badState("no random state for module '\(missing)'")
        }
        var opt = optimizer
        do { try opt.importState(state.optimizer) } catch { throw TrainingError.badState("\(error)") }
        let frozen = Set(state.metadata.frozen)
        for (path, p) in params {
            p.value = state.model[path]!
            p.grad = nil
            if p.kind == .trainable { p.isFrozen = frozen.contains(path) }
        }
        for (path, m) in generators { m.randomState = state.metadata.moduleRNG[path]! }
        optimizer = opt
        epoch = state.metadata.epoch
        step = state.metadata.step
        rng = state.metadata.rng
        log = state.metadata.log
    }
}

extension Trainer {
    /// The model (path "" ) and descendants that carry their own generator.
    func statefulModules() -> [(String, any RandomStateful)] {
        var all: [(String, Module)] = [("", model)]
        all += model.namedModules()
        return all.compactMap { path, m in (m as? any RandomStateful).map { (path, $0) } }
    }

    func moduleGenerators() -> [String: SeededRandom] {
        Dictionary(uniqueKeysWithValues: statefulModules().map { ($0.0, $0.1.randomState) })
    }
}

extension Targets {
    /// The class labels, when these are class targets.
    public var labels: [Int]? { if case .classes(let l) = self { l } else { nil } }
    /// The multi-hot tensor, when these are multi-label targets.
    public var multiHot: Tensor? { if case .multiHot(let t) = self { t } else { nil } }
}
