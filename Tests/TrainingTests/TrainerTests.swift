import Foundation
import NN
import TensorCore
import Testing
@testable import Training

func makeModel(seed: UInt64) -> Dense {
    var rng = SeededRandom(seed: seed)
    return Dense(inputSize: 2, outputSize: 2, rng: &rng)
}

func pointsSource(seed: UInt64 = 1, count: Int = 96, batch: Int = 16) -> InMemoryBatchSource {
    let (x, y) = separablePoints(count: count, seed: seed)
    return InMemoryBatchSource(inputs: x, targets: .classes(y), batchSize: batch, shuffle: true, seed: 42)
}

func weights(_ m: Module) -> [String: [Float]] {
    Dictionary(uniqueKeysWithValues: m.namedParameters().map { ($0.0, $0.1.value.scalars) })
}

/// A layer with its own generator (like Dropout): adds noise to its input while training.
final class NoisyInput: Module, Layer, RandomStateful {
    var _rng: SeededRandom
    let inner: Dense
    init(seed: UInt64, inner: Dense) { _rng = SeededRandom(seed: seed); self.inner = inner }
    var randomState: SeededRandom { get { _rng } set { _rng = newValue } }
    func callAsFunction(_ x: Var) -> Var {
        guard isTraining else { return inner(x) }
        let noise = Tensor.normal(x.shape, std: 0.3, rng: &_rng)
        return inner(Var(x.value + noise))
    }
    func outputShape(for s: [Int]) throws -> [Int] { try inner.outputShape(for: s) }
}

@Suite struct TrainerTests {
    @Test func learnsSeparablePoints() throws {
        let model = makeModel(seed: 3)
        let data = pointsSource()
        let trainer = Trainer(model: model, optimizer: SGD(momentum: 0.9), schedule: Schedules.constant(0.1),
                              loss: crossEntropyLoss, epochs: 6, seed: 1)
        let before = trainer.evaluate(data)
        let log = try trainer.fit(data, validation: pointsSource(seed: 9, count: 40))
        #expect(log.epochs.count == 6 && trainer.step == 36)
        #expect(log.epochs[0].trainLoss > log.epochs[5].trainLoss)
        #expect(log.epochs[5].trainLoss < 0.1, "loss \(log.epochs.map(\.trainLoss)), initial \(before.loss)")
        #expect((log.epochs[5].valAccuracy ?? 0) >= 0.95)
        let summary = trainer.evaluateClasses(pointsSource(seed: 9, count: 40), classCount: 2, k: 1).summary(classNames: ["a", "b"])
        #expect(summary.accuracy >= 0.95 && summary.count == 40)
    }

    /// 4 epochs straight == 2 epochs, checkpoint (through the flat tensor + JSON form), restore
    /// into a differently initialised model and a fresh optimizer, 2 more epochs: bit-identical.
    @Test(arguments: ["sgd", "adam"])
    func resumeIsBitIdentical(kind: String) throws {
        func optimizer() -> any Optimizer {
            kind == "sgd" ? SGD(momentum: 0.9, nesterov: true, options: .init(weightDecay: 1e-3))
                          : Adam(options: .init(weightDecay: 1e-3, l1: 1e-4))
        }
        let schedule = Schedules.warmup(3, Schedules.cosine(0.05, floor: 0.001))
        let data = pointsSource()

        let straightModel = makeModel(seed: 5)
        let straight = Trainer(model: straightModel, optimizer: optimizer(), schedule: schedule,
                               loss: crossEntropyLoss, epochs: 4, seed: 11)
        try straight.fit(data)

        let firstModel = makeModel(seed: 5)
        let first = Trainer(model: firstModel, optimizer: optimizer(), schedule: schedule,
                            loss: crossEntropyLoss, epochs: 4, seed: 11)
        var saved: (tensors: [String: Tensor], meta: Data)?
        first.hooks.epochEnd = { t, m in
            if m.epoch == 2 {
                let s = t.captureState()
                saved = (s.tensors, try s.metadataJSON())
                t.stopRequested = true   // "killed" after the epoch-2 checkpoint
            }
        }
        try first.fit(data)
        #expect(first.epoch == 2)
        let state = try TrainingState(tensors: saved!.tensors, metadataJSON: saved!.meta)
        #expect(state.metadata.epoch == 2 && state.metadata.step == 12 && state.metadata.totalSteps == 24)
        #expect(state.optimizer.keys.contains("weight.step"))

        let resumedModel = makeModel(seed: 999)   // different initial weights, overwritten by restore
        let resumed = Trainer(model: resumedModel, optimizer: optimizer(), schedule: schedule,
                              loss: crossEntropyLoss, epochs: 4, seed: 11)
        try resumed.restore(state)
        try resumed.fit(data)

        #expect(resumed.step == straight.step && resumed.epoch == 4)
        #expect(weights(resumedModel) == weights(straightModel))
        #expect(resumed.log.epochs.map(\.trainLoss) == straight.log.epochs.map(\.trainLoss))
        #expect(weights(resumedModel) != weights(makeModel(seed: 5)))   // it did train
    }

    @Test func resumeRestoresModuleGenerators() throws {
        func trainer(_ model: NoisyInput) -> Trainer {
            Trainer(model: model, optimizer: SGD(momentum: 0.9), schedule: Schedules.constant(0.05),
                    loss: crossEntropyLoss, epochs: 3, seed: 2)
        }
        let straightModel = NoisyInput(seed: 8, inner: makeModel(seed: 1))
        try trainer(straightModel).fit(pointsSource())
        let firstModel = NoisyInput(seed: 8, inner: makeModel(seed: 1))
        let first = trainer(firstModel)
        var state: TrainingState?
        first.hooks.epochEnd = { t, m in if m.epoch == 1 { state = t.captureState(); t.stopRequested = true } }
        try first.fit(pointsSource())
        #expect(state?.metadata.moduleRNG.keys.sorted() == [""])
        let resumedModel = NoisyInput(seed: 12345, inner: makeModel(seed: 77))
        let resumed = trainer(resumedModel)
        try resumed.restore(state!)
        try resumed.fit(pointsSource())
        #expect(weights(resumedModel) == weights(straightModel))
    }

    @Test func nonFiniteLossStopsBeforeTheUpdate() throws {
        let model = makeModel(seed: 2)
        var calls = 0
        let loss: LossFunction = { out, t in
            calls += 1
            return calls == 3 ? Var(Tensor(shape: [1], scalars: [.nan])) : crossEntropyLoss(out, t)
        }
        let trainer = Trainer(model: model, optimizer: SGD(), schedule: Schedules.constant(0.1), loss: loss, epochs: 2)
        var afterTwo: [String: [Float]] = [:]
        trainer.hooks.batchEnd = { t, r in if r.step == 2 { afterTwo = weights(t.model) } }
        var epochEnds = 0
        trainer.hooks.epochEnd = { _, _ in epochEnds += 1 }
        do {
            try trainer.fit(pointsSource())
            Issue.record("expected nonFiniteLoss")
        } catch let e as TrainingError {
            guard case let .nonFiniteLoss(epoch, batch, step, value) = e else { Issue.record("\(e)"); return }
            #expect(epoch == 1 && batch == 3 && step == 2 && value.isNaN)
            #expect(e.description.contains("epoch 1, batch 3") && e.description.contains("checkpoint"))
        }
        #expect(weights(model) == afterTwo && epochEnds == 0)
    }

    @Test func hooksDriveGradualUnfreezing() throws {
        let model = makeModel(seed: 4)
        model.freeze { $0 == "weight" }
        let initial = model.weight.value.scalars
        var started: [Int] = [], ended: [Int] = [], fitEnded = false
        var weightAfterEpoch1: [Float] = []
        let trainer = Trainer(model: model, optimizer: Adam(options: .init(groups: [.prefixes(["weight"], lrScale: 0.1)])),
                              schedule: Schedules.constant(0.01), loss: crossEntropyLoss, epochs: 3)
        trainer.hooks = TrainerHooks(
            epochStart: { t, e in started.append(e); if e == 2 { t.model.freeze(false) { $0 == "weight" } } },
            epochEnd: { t, m in ended.append(m.epoch); if m.epoch == 1 { weightAfterEpoch1 = model.weight.value.scalars } },
            fitEnd: { _ in fitEnded = true })
        try trainer.fit(pointsSource())
        #expect(started == [1, 2, 3] && ended == [1, 2, 3] && fitEnded)
        #expect(weightAfterEpoch1 == initial)            // frozen during epoch 1
        #expect(model.weight.value.scalars != initial)   // trained after unfreezing
        #expect(trainer.captureState().metadata.frozen.isEmpty)
    }

    @Test func restoreIsAllOrNothing() throws {
        let a = Trainer(model: makeModel(seed: 1), optimizer: SGD(), schedule: Schedules.constant(0.1),
                        loss: crossEntropyLoss, epochs: 1, seed: 3)
        var state = a.captureState()
        state.model["weight"] = Tensor(zeros: [3, 2])
        let target = makeModel(seed: 2)
        let before = weights(target)
        let b = Trainer(model: target, optimizer: SGD(), schedule: Schedules.constant(0.1), loss: crossEntropyLoss, epochs: 1, seed: 3)
        #expect(throws: TrainingError.self) { try b.restore(state) }
        #expect(weights(target) == before)
        let wrongSeed = Trainer(model: makeModel(seed: 2), optimizer: SGD(), schedule: Schedules.constant(0.1),
                                loss: crossEntropyLoss, epochs: 1, seed: 4)
        #expect(throws: TrainingError.self) { try wrongSeed.restore(a.captureState()) }
    }

    @Test func batchSourceIsDeterministicPerEpoch() {
        let s = pointsSource(count: 20, batch: 8)
        #expect(s.batchesPerEpoch == 3)
        #expect(s.order(epoch: 1) == s.order(epoch: 1) && s.order(epoch: 1) != s.order(epoch: 2))
        #expect(s.order(epoch: 3).sorted() == Array(0..<20))
        let sizes = Array(s.batches(epoch: 1)).map(\.count)
        #expect(sizes == [8, 8, 4])
        let multi = InMemoryBatchSource(inputs: Tensor(zeros: [4, 2]), targets: .multiHot(Tensor(zeros: [4, 3])),
                                        batchSize: 3, dropLast: true)
        #expect(Array(multi.batches(epoch: 1)).map { $0.targets.multiHot!.shape } == [[3, 3]])
    }
}
