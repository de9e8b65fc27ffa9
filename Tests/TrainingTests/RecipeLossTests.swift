import NN
import TensorCore
import Testing
@testable import Training

@Suite struct RecipeLossTests {
    @Test func recipeLossesMatchNN() throws {
        let logits = Var(Tensor(shape: [2, 3], scalars: [2, 0, -1, 0.5, 0.5, 3]))
        var r = Recipe()
        let softmax = r.makeLoss()(logits, .classes([0, 2])).value[flat: 0]
        #expect(abs(softmax - testCrossEntropy(logits, [0, 2]).value[flat: 0]) < 1e-5)
        r.labelSmoothing = 0.1
        #expect(r.makeLoss()(logits, .classes([0, 2])).value[flat: 0] > softmax)
        r.labelSmoothing = 0
        r.loss = .sigmoid
        let hot = oneHot([0, 2], classes: 3)
        #expect(r.makeLoss()(logits, .classes([0, 2])).value[flat: 0] == r.makeLoss()(logits, .multiHot(hot)).value[flat: 0])
        r.loss = .euclidean
        // Σ(p - t)² / (2N): rows (1,0,-1) and (0.5,0.5,2) → (2 + 4.5) / 4.
        #expect(abs(r.makeLoss()(logits, .classes([0, 2])).value[flat: 0] - 1.625) < 1e-6)
    }

    @Test func trainerWithRecipePieces() throws {
        let r = try Recipe.load(yaml: "epochs: 6\nlr: 0.3\noptimizer: adam\nschedule: cosine\nwarmup: 1\nfreeze: none\n")
        let data = pointsSource()
        let model = makeModel(seed: 6)
        let trainer = Trainer(model: model, optimizer: r.makeOptimizer(headPrefixes: ["weight", "bias"]),
                              schedule: r.makeSchedule(stepsPerEpoch: data.batchesPerEpoch),
                              loss: r.makeLoss(), epochs: r.epochs, seed: r.seed)
        let log = try trainer.fit(data)
        #expect(log.epochs.last!.trainLoss < log.epochs.first!.trainLoss)
        #expect((log.epochs.last!.trainAccuracy ?? 0) > 0.9, "\(log.epochs)")
    }
}
