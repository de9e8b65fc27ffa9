import NN
import TensorCore
import Testing
@testable import Training

let resnetPaths = ["conv1.weight", "bn1.weight", "bn1.bias", "layer1.0.conv1.weight", "layer2.0.conv1.weight",
                   "layer3.0.conv1.weight", "layer3.1.conv1.weight", "layer4.0.conv1.weight", "fc.weight", "fc.bias"]

@Suite struct RecipeBuildTests {
    @Test func freezeTrunkNoneAndUpTo() throws {
        let trunk = try FreezePlan(paths: resnetPaths, headPrefixes: ["fc"], freeze: .trunk)
        #expect(trunk.initial == Set(resnetPaths.dropLast(2)))
        #expect(try FreezePlan(paths: resnetPaths, headPrefixes: ["fc"], freeze: .none).initial.isEmpty)
        let upTo = try FreezePlan(paths: resnetPaths, headPrefixes: ["fc"], freeze: .upTo("layer3"))
        #expect(upTo.initial == Set(resnetPaths.prefix(7)))
        #expect(!upTo.initial.contains("layer4.0.conv1.weight"))
        // "layer1" must not match "layer10"-style names by accident: prefixes end at a dot.
        #expect(throws: FreezeError.noSuchLayer("layer", option: "freeze upto:layer")) {
            try FreezePlan(paths: resnetPaths, headPrefixes: ["fc"], freeze: .upTo("layer"))
        }
    }

    @Test func gradualUnfreezingByEpoch() throws {
        let plan = try FreezePlan(paths: resnetPaths, headPrefixes: ["fc"], freeze: .trunk,
                                  unfreezeAt: [.init(epoch: 3, layer: "layer4"), .init(epoch: 5, layer: "layer3"),
                                               .init(epoch: 8, layer: "all")])
        #expect(plan.frozen(atEpoch: 2).count == 8)
        #expect(plan.frozen(atEpoch: 3) == Set(resnetPaths.prefix(7)))
        #expect(plan.frozen(atEpoch: 5) == Set(resnetPaths.prefix(5)))
        #expect(plan.frozen(atEpoch: 8).isEmpty)
        #expect(throws: FreezeError.self) {
            try FreezePlan(paths: resnetPaths, headPrefixes: ["fc"], freeze: .trunk, unfreezeAt: [.init(epoch: 2, layer: "layer9")])
        }
        var rng = SeededRandom(seed: 1)
        let model = Sequential([Dense(inputSize: 2, outputSize: 3, rng: &rng), Dense(inputSize: 3, outputSize: 2, rng: &rng)])
        let p2 = try FreezePlan(paths: model.namedParameters().map(\.0), headPrefixes: ["1"], freeze: .trunk,
                                unfreezeAt: [.init(epoch: 2, layer: "0")])
        #expect(p2.apply(to: model, epoch: 1) == 2)
        #expect(model.trainableParameterCount == 8)
        #expect(p2.apply(to: model, epoch: 2) == 0)
    }

    @Test func optimizerFromRecipeScalesTheTrunk() throws {
        var r = Recipe()
        r.optimizer = .sgd; r.momentum = 0; r.trunkLRScale = 0.1
        var opt = r.makeOptimizer(headPrefixes: ["fc"])
        let trunk = param([1], grad: [1]), head = param([1], grad: [1])
        opt.step([("layer4.0.conv1.weight", trunk), ("fc.weight", head)], lr: 1)
        #expect(approxEqual(trunk.value.scalars, [0.9]) && approxEqual(head.value.scalars, [0]))
        r.optimizer = .adamw; r.weightDecay = 0.5
        let w = r.makeOptimizer(headPrefixes: ["fc"])
        #expect((w as? AdamW)?.adam.options.weightDecay == 0.5)
        r.optimizer = .adam
        #expect(r.makeOptimizer(headPrefixes: ["fc"]) is Adam)
    }

    @Test func scheduleFromRecipeCountsEpochsInSteps() throws {
        var r = try Recipe.load(yaml: "epochs: 10\nlr: 0.1\nschedule: step\nstep_every: 2\nstep_factor: 0.5\nwarmup: 1\n")
        let s = r.makeSchedule(stepsPerEpoch: 5)
        #expect(abs(s(0, 50) - 0.02) < 1e-7)            // warm-up epoch: 5 steps
        #expect(abs(s(5, 50) - 0.1) < 1e-7)             // inner step 0
        #expect(abs(s(15, 50) - 0.05) < 1e-7)           // inner step 10 = 2 epochs
        r.schedule = .cosine; r.minLR = 0.01; r.warmup = 0
        let c = r.makeSchedule(stepsPerEpoch: 5)
        #expect(abs(c(50, 50) - 0.01) < 1e-7)
        r.schedule = .onecycle
        #expect(abs(r.makeSchedule(stepsPerEpoch: 5)(0, 50) - 0.004) < 1e-7)
    }
}
