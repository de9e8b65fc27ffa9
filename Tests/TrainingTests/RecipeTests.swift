import Foundation
import Testing
@testable import Training

let lenetRecipe = """
# LeNet-5 on the 5k MNIST subset, from scratch
model: lenet5
weights: none
data: shared/data/mnist5k
epochs: 3
batch_size: 64
optimizer: adam
lr: 0.001
freeze: none
seed: 7
"""

let resnetRecipe = """
model: resnet18
data: shared/data/hymenoptera
input_size: 224
epochs: 25
lr: 0.001
momentum: 0.9
nesterov: true
weight_decay: 0.0001
schedule: step
step_every: 7
step_factor: 0.1
freeze: upto:layer3
unfreeze_at: ["10:layer3", "15:layer2"]
trunk_lr_scale: 0.1
label_smoothing: 0.1
augmentation:
  flip: true
  crop: 0.08
  color_jitter: 0.2
head:
  pooling: avg
out: runs/resnet-ants
cache_features: false
"""

let vggRecipe = """
model: vgg16
classes: 3
data: shared/data/animals3
optimizer: adamw
weight_decay: 0.01
l1: 0.00001
schedule: onecycle
warmup: 1
epochs: 8
loss: sigmoid
dropout: 0.5
preprocess: caffe
head: {keep_hidden: true, pooling: flatten}
augmentation: {rotation: 10, translation: 0.1, zoom: 0.1, noise: 0.01, erasing: 0.25}
validation_split: 0.25
threads: 2
extend: runs/old/model.h5
"""

@Suite struct RecipeTests {
    @Test func minimalRecipeKeepsDefaults() throws {
        let r = try Recipe.load(yaml: lenetRecipe)
        #expect(r.model == "lenet5" && r.weights == "none" && r.data == "shared/data/mnist5k")
        #expect(r.epochs == 3 && r.batchSize == 64 && r.optimizer == .adam && r.lr == 0.001)
        #expect(r.freeze == .none && r.seed == 7)
        // untouched keys keep defaults
        #expect(r.schedule == .constant && r.loss == .softmax && r.classes == nil && r.validationSplit == 0.2)
        #expect(r.augmentation == Recipe.Augmentation() && r.head == Recipe.Head())
    }

    @Test func fullResNetRecipe() throws {
        let r = try Recipe.load(yaml: resnetRecipe)
        #expect(r.inputSize == 224 && r.nesterov && r.weightDecay == 0.0001)
        #expect(r.schedule == .step && r.stepEvery == 7 && r.stepFactor == 0.1)
        #expect(r.freeze == .upTo("layer3"))
        #expect(r.unfreezeAt == [.init(epoch: 10, layer: "layer3"), .init(epoch: 15, layer: "layer2")])
        #expect(r.labelSmoothing == 0.1 && r.out == "runs/resnet-ants")
        #expect(r.augmentation.flip && r.augmentation.crop == 0.08 && r.augmentation.colorJitter == 0.2)
        #expect(r.augmentation.rotation == 0)  // partial nested mapping keeps the other defaults
    }

    @Test func vggRecipeWithFlowMappings() throws {
        let r = try Recipe.load(yaml: vggRecipe)
        #expect(r.classes == 3 && r.optimizer == .adamw && r.l1 == 0.00001 && r.schedule == .onecycle)
        #expect(r.warmup == 1 && r.loss == .sigmoid && r.dropout == 0.5 && r.preprocess == .caffe)
        #expect(r.head.keepHidden && r.head.pooling == .flatten)
        #expect(r.augmentation.rotation == 10 && r.augmentation.erasing == 0.25 && !r.augmentation.flip)
        #expect(r.validationSplit == 0.25 && r.threads == 2 && r.extend == "runs/old/model.h5")
    }

    @Test func unknownKeyNamesKeyAndLine() {
        let yaml = "model: resnet18\nepochs: 3\nbatchsize: 8\n"
        #expect(throws: RecipeError.unknownKey(key: "batchsize", line: 3, suggestion: "batch_size")) {
            try Recipe.load(yaml: yaml)
        }
        let nested = "model: vgg16\naugmentation:\n  flip: true\n  rotaton: 5\n"
        do {
            _ = try Recipe.load(yaml: nested)
            Issue.record("expected an error")
        } catch let e as RecipeError {
            #expect(e == .unknownKey(key: "augmentation.rotaton", line: 4, suggestion: "rotation"))
            #expect(e.description.contains("line 4") && e.description.contains("augmentation.rotaton"))
        } catch { Issue.record("wrong error \(error)") }
    }

    @Test func typeAndValueErrorsNameKeyAndLine() {
        func failure(_ yaml: String) -> RecipeError? {
            do { _ = try Recipe.load(yaml: yaml); return nil } catch { return error as? RecipeError }
        }
        let ten = failure("model: lenet5\nepochs: ten\n")
        #expect(ten?.line == 2 && ten?.description.contains("'epochs'") == true && ten?.description.contains("ten") == true)
        let opt = failure("optimizer: adamx\n")
        #expect(opt?.line == 1 && opt?.description.contains("sgd, adam, adamw") == true)
        let pre = failure("model: vgg16\npreprocess: imagenet\n")   // never a silent fallback to scale
        #expect(pre?.line == 2 && pre?.description.contains("none, scale, caffe, torch, tf") == true, "\(String(describing: pre))")
        let freeze = failure("model: x\n\nfreeze: everything\n")
        #expect(freeze?.line == 3 && freeze?.description.contains("upto:LAYER") == true)
        let unfreeze = failure("unfreeze_at:\n  - 3:layer4\n  - layer3\n")
        #expect(unfreeze?.line == 3 && unfreeze?.description.contains("unfreeze_at[1]") == true)
        let nested = failure("augmentation:\n  flip: maybe\n")
        #expect(nested?.line == 2 && nested?.description.contains("augmentation.flip") == true)
        let range = failure("epochs: 5\nlr: -0.1\n")
        #expect(range == .invalidValue(key: "lr", line: 2, message: "must be > 0, got -0.1"))
        let dup = failure("epochs: 2\nmodel: a\nmodel: b\n")
        if case .duplicateKey(key: "model", line: let line?) = dup { #expect(line == 2 || line == 3) }
        else { Issue.record("expected duplicateKey, got \(String(describing: dup))") }
        #expect(failure("- just\n- a list\n") == .notAMapping(line: 1))
        if case .syntax = failure("model: [unclosed\n") {} else { Issue.record("expected a syntax error") }
    }

    @Test func commandLineOverridesWinOverFileOverDefaults() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("r.yaml")
        try resnetRecipe.write(to: file, atomically: true, encoding: .utf8)
        let cli = try RecipeOverrides(assignments: ["--epochs=12", "lr=0.01", "optimizer=adam", "unfreeze-at=8:layer4",
                                                    "unfreeze-at=10:layer3", "out=runs/a #1: b"])
        let r = try Recipe.resolve(file: file, overrides: cli)
        #expect(r.epochs == 12 && r.lr == 0.01 && r.optimizer == .adam)        // CLI
        #expect(r.unfreezeAt.map(\.description) == ["8:layer4", "10:layer3"])  // CLI list replaces file's
        #expect(r.out == "runs/a #1: b")                                         // taken literally
        #expect(r.stepEvery == 7 && r.inputSize == 224)                          // file
        #expect(r.validationSplit == 0.2)                                        // default
        #expect(throws: RecipeError.unknownKey(key: "--epoch", line: nil, suggestion: "epochs")) {
            try RecipeOverrides(assignments: ["--epoch=3"])
        }
        #expect(throws: RecipeError.self) { try RecipeOverrides(assignments: ["batch-size=big"]) }
        // The resolved recipe is validated too: warmup must stay below epochs.
        #expect(throws: RecipeError.self) { try Recipe.resolve(file: file, overrides: try RecipeOverrides(assignments: ["warmup=30"])) }
    }

    @Test func resolvedRecipeRoundTripsThroughYAML() throws {
        for text in [lenetRecipe, resnetRecipe, vggRecipe] {
            let r = try Recipe.load(yaml: text)
            let written = try r.yaml()
            #expect(try Recipe.load(yaml: written) == r, "\(written)")
            #expect(written.contains("batch_size:") && !written.contains("batchSize"))
        }
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("out/recipe.yaml")
        let r = try Recipe.load(yaml: vggRecipe)
        try r.write(to: url)
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(text.hasPrefix("# resolved recipe"))
        #expect(try Recipe.load(contentsOf: url) == r)
        #expect(try Recipe.load(yaml: "") == Recipe())
        // JSON works as well (YAML is a superset).
        #expect(try Recipe.load(yaml: #"{"model": "vgg16", "epochs": 2}"#).epochs == 2)
    }
}
