import Foundation
import Testing
@testable import Training

@Suite struct EarlyStoppingTests {
    @Test func recipeKeysRoundTripAndBadValuesNameTheKey() throws {
        let r = try Recipe.load(yaml: "early_stopping: {monitor: val_accuracy, patience: 2, min_delta: 0.01}\nkeep_best: true\n")
        #expect(r.earlyStopping == Recipe.EarlyStopping(monitor: .valAccuracy, patience: 2, minDelta: 0.01))
        #expect(r.keepBest && r.monitor == .valAccuracy)
        let written = try r.yaml()
        #expect(written.contains("early_stopping:") && written.contains("min_delta: 0.01") && written.contains("keep_best: true"), "\(written)")
        #expect(try Recipe.load(yaml: written) == r, "\(written)")
        #expect(try Recipe.load(yaml: try Recipe().yaml()).earlyStopping == nil)
        #expect(throws: RecipeError.self) { try Recipe.load(yaml: "early_stopping: {patience: 0}\n") }
        #expect(throws: RecipeError.self) { try Recipe.load(yaml: "early_stopping: {monitor: loss}\n") }
        #expect(throws: RecipeError.self) { try Recipe.load(yaml: "early_stopping: {patient: 2}\n") }
        let set = try RecipeOverrides(assignments: ["early_stopping={patience: 4}", "keep_best=true"])
        #expect(Recipe().applying(set).earlyStopping?.patience == 4 && Recipe().applying(set).keepBest)
    }

    /// Keras's rule: an improvement must beat the best by more than min_delta; `patience` epochs in a row without one stop.
    @Test func trackerStopsAfterPatienceEpochsWithoutImprovement() throws {
        var recipe = Recipe()
        recipe.earlyStopping = .init(monitor: .valLoss, patience: 2, minDelta: 0.05)
        var t = BestTracker(recipe: recipe)
        func epoch(_ loss: Double) -> EpochMetrics { EpochMetrics(epoch: 1, trainLoss: 1, valLoss: loss, lr: 0.1, seconds: 1) }
        let u1 = t.update(epoch(1.0), epoch: 1)
        #expect(u1)
        let u2 = t.update(epoch(0.9), epoch: 2)
        #expect(u2)
        let u3 = t.update(epoch(0.87), epoch: 3)
        #expect(!u3)   // better, but by less than min_delta
        #expect(!t.stopped)
        let u4 = t.update(epoch(0.95), epoch: 4)
        #expect(!u4)
        #expect(t.stopped && t.bestEpoch == 2 && t.bestValue == 0.9)
        #expect(try BestTracker.decode(t.json()) == t)

        var acc = Recipe()
        acc.earlyStopping = .init(monitor: .valAccuracy, patience: 1)
        var a = BestTracker(recipe: acc)
        let u5 = a.update(EpochMetrics(epoch: 1, trainLoss: 1, valAccuracy: 0.5, lr: 0.1, seconds: 1), epoch: 1)
        #expect(u5)
        let u6 = a.update(EpochMetrics(epoch: 2, trainLoss: 1, valAccuracy: 0.4, lr: 0.1, seconds: 1), epoch: 2)
        #expect(!u6)
        #expect(a.stopped && a.bestEpoch == 1)
    }
}
