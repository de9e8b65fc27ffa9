// The README's "Use Graft from Swift" example, compiled and run by CI.
//
// The lines between the two SNIPPET markers are the README's Swift code block word for word, and
// the DocC article's (Sources/Training/Training.docc/FineTuneFromSwift.md) without the comments;
// `readmeHoldsThisSnippet` fails when they differ, so edit them together. The example trains
// with `Trainer`, not with `TrainJob(recipe:)`: a Keras `model.fit` / PyTorch-loop user sees each
// piece (batches, optimizer, schedule, loss) as a value to swap. `TrainJob` runs the whole
// `finetune train` job (cached features, phases, checkpoints, report) from a `Recipe` value.

// SNIPPET BEGIN
import Foundation
import ImageIO
import NN
import Training
import WeightIO
import Zoo

/// Fine-tunes LeNet-5 Keras weights to the classes of `folder` (a sub-folder of PNGs per class)
/// and writes `model.h5` (Graft) and `model-keras.h5` (Keras 2 weights) into the folder `out`.
func fineTuneLeNet(kerasWeights: String, folder: String, out: String) throws -> ZooModel {
    // Load: the zoo's LeNet-5 (28x28 input) with the file's weights; strict: every tensor must fit.
    let (model, _) = try loadPretrained("lenet5", options: ZooOptions(inputSize: 28), weights: kerasWeights)
    let data = try ImageFolderDataset(folder: URL(fileURLWithPath: folder))
    // Freeze the trunk (Keras `trainable = False`); a new head for the folder's classes, emitting logits.
    model.freezeTrunk()
    try model.rebuildHead(classCount: data.classCount, classifierActivation: .linear)
    // Train: Keras's `model.fit`, spelled out: batches, optimizer, schedule and loss are values.
    let side = model.inputShape[1]
    let pipeline = ImagePreprocessing(width: side, height: side, pixelFormat: .gray, normalization: .scale)
    let batches = ImageBatchSource(loader: try BatchLoader(dataset: data, preprocessing: pipeline,
                                                           batchSize: 16, shuffle: true))
    let trainer = Trainer(model: model, optimizer: SGD(momentum: 0.9), schedule: Schedules.constant(0.01),
                          loss: { y, t in softmaxCrossEntropy(logits: y, labels: t.labels!) }, epochs: 2)
    try trainer.fit(batches)
    if let error = batches.error { throw error }
    // Export: Graft's self-describing file, and Keras 2 weights for `model.load_weights()`.
    try saveNativeModel(model, classNames: data.classNames, to: "\(out)/model.h5")
    try model.exportKeras2Weights(to: "\(out)/model-keras.h5")
    return model
}
// SNIPPET END

import TensorCore
import Testing

@Suite struct SwiftAPIExampleTests {
    static let kerasFixture = CLI.packageRoot.appendingPathComponent("Tests/WeightIOTests/Fixtures/lenet5_tfkeras.h5").path

    /// Outputs of `model` (inference mode, no tape) for every image of `data`, in file order.
    static func outputs(_ model: ZooModel, _ data: ImageFolderDataset) throws -> Tensor {
        let pipeline = ImagePreprocessing(width: 28, height: 28, pixelFormat: .gray, normalization: .scale)
        let loader = try BatchLoader(dataset: data, preprocessing: pipeline, batchSize: data.count, shuffle: false)
        let images = try loader.loadBatch(epoch: 0, batch: 0).images
        model.setTraining(false)
        return withoutGradients { model(Var(images)).value }
    }

    static func values(_ params: [(String, Parameter)]) -> [String: [UInt32]] {
        Dictionary(uniqueKeysWithValues: params.map { ($0.0, $0.1.value.scalars.map(\.bitPattern)) })
    }

    static func maxDifference(_ a: Tensor, _ b: Tensor) -> Float {
        zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? .infinity
    }

    /// Mean softmax cross-entropy of `model` on `data` (labels from the folders).
    static func meanLoss(_ model: ZooModel, _ data: ImageFolderDataset) throws -> Float {
        let out = try outputs(model, data)
        return softmaxCrossEntropy(logits: Var(out), labels: data.samples.map(\.label)).value[flat: 0]
    }

    @Test func exampleFineTunesFreezesAndExports() throws {
        let tmp = try TempDir("graft-swift-api")
        let root = try TinyData.mnist(tmp.path("digits"), classes: ["7", "8", "9"], train: 20, val: 0)
        let folder = root.appendingPathComponent("train")
        let out = tmp.path("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)

        // What the model is before training: the Keras trunk and the same fresh head (same seed).
        let (reference, _) = try loadPretrained("lenet5", options: ZooOptions(inputSize: 28), weights: Self.kerasFixture)
        try reference.rebuildHead(classCount: 3, classifierActivation: .linear)
        let data = try ImageFolderDataset(folder: folder)
        let lossBefore = try Self.meanLoss(reference, data)

        let model = try fineTuneLeNet(kerasWeights: Self.kerasFixture, folder: folder.path, out: out.path)

        // The frozen trunk is bit-identical to the Keras file; every head tensor was trained.
        #expect(!model.trunk.namedParameters().isEmpty)
        #expect(Self.values(model.trunk.namedParameters()) == Self.values(reference.trunk.namedParameters()))
        #expect(model.trunk.namedParameters().allSatisfy { $0.1.isFrozen })
        let head = Self.values(model.head.namedParameters()), headBefore = Self.values(reference.head.namedParameters())
        #expect(Set(head.keys) == ["predictions.weight", "predictions.bias"])
        for (path, v) in head { #expect(v != headBefore[path], "\(path) did not change") }
        #expect(model.classCount == 3)
        let lossAfter = try Self.meanLoss(model, data)
        #expect(lossAfter < lossBefore, "training loss \(lossBefore) -> \(lossAfter)")

        // Both exported files reload and compute what the trained model computes.
        let expected = try Self.outputs(model, data)
        let (native, meta) = try loadNativeModel(path: out.appendingPathComponent("model.h5").path)
        #expect(meta.architecture == "lenet5")
        #expect(meta.classNames == ["7", "8", "9"])
        #expect(Self.maxDifference(try Self.outputs(native, data), expected) <= 1e-5)

        let keras = try Zoo.build("lenet5", ZooOptions(inputSize: 28))
        try keras.rebuildHead(classCount: 3, classifierActivation: .linear)
        let report = try keras.importWeights(from: out.appendingPathComponent("model-keras.h5").path, options: .strict)
        #expect(report.format == .keras2Weights)
        #expect(Self.maxDifference(try Self.outputs(keras, data), expected) <= 1e-5)
    }

    /// The recipe-driven way of the DocC article (`Recipe` built in code, `TrainJob(recipe:).run()`),
    /// on the same weights and digits: the job writes the Graft and Keras files, and the Graft file
    /// keeps the Keras trunk.
    @Test func recipeExampleRuns() throws {
        let tmp = try TempDir("graft-swift-api-recipe")
        let root = try TinyData.mnist(tmp.path("digits"), classes: ["7", "8", "9"], train: 10, val: 4)

        var recipe = Recipe()
        recipe.model = "lenet5"
        recipe.weights = Self.kerasFixture
        recipe.inputSize = 28
        recipe.data = root.path          // root/train/<class>/*.png and root/val/<class>/*.png
        recipe.epochs = 2
        recipe.freeze = .trunk
        recipe.out = tmp.path("run").path
        let job = TrainJob(recipe: recipe)
        job.say = { _ in }
        job.progressStyle = .silent
        let summary = try job.run()

        #expect(summary.epochs == 2)
        #expect(summary.validationAccuracy != nil)
        for file in ["model.h5", "model-keras.h5", "recipe.yaml", "metrics.json", "report.html"] {
            #expect(FileManager.default.fileExists(atPath: tmp.path("run/\(file)").path), "\(file) missing")
        }
        let (model, meta) = try loadNativeModel(path: tmp.path("run/model.h5").path)
        #expect(meta.classNames == ["7", "8", "9"])
        let (reference, _) = try loadPretrained("lenet5", options: ZooOptions(inputSize: 28), weights: Self.kerasFixture)
        #expect(Self.values(model.trunk.namedParameters()) == Self.values(reference.trunk.namedParameters()))
    }

    /// The README's code block under "Use Graft from Swift" that defines `fineTuneLeNet` is the snippet above.
    @Test func readmeHoldsThisSnippet() throws {
        let source = try String(contentsOfFile: #filePath, encoding: .utf8)
        let readme = try String(contentsOf: CLI.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        guard let begin = source.range(of: "// SNIPPET BEGIN\n"),
              let end = source.range(of: "// SNIPPET END", range: begin.upperBound..<source.endIndex) else {
            Issue.record("snippet markers not found in \(#filePath)")
            return
        }
        let snippet = String(source[begin.upperBound..<end.lowerBound])
        guard let section = readme.range(of: "## Use Graft from Swift") else {
            Issue.record("README.md has no '## Use Graft from Swift' section")
            return
        }
        let blocks = readme[section.upperBound...].components(separatedBy: "```swift\n").dropFirst()
            .compactMap { $0.components(separatedBy: "```").first }
        guard let block = blocks.first(where: { $0.contains("func fineTuneLeNet(") }) else {
            Issue.record("README.md's 'Use Graft from Swift' section has no swift block with fineTuneLeNet")
            return
        }
        #expect(block == snippet, "README.md and Tests/CLITests/SwiftAPIExampleTests.swift disagree: keep them identical")

        // The DocC article shows the same code without its comments.
        let article = try String(contentsOf: CLI.packageRoot.appendingPathComponent(
            "Sources/Training/Training.docc/FineTuneFromSwift.md"), encoding: .utf8)
        let articleBlock = article.components(separatedBy: "```swift\n").dropFirst()
            .compactMap { $0.components(separatedBy: "```").first }.first { $0.contains("func fineTuneLeNet(") }
        let uncommented = snippet.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("//") }.joined(separator: "\n")
        #expect(articleBlock == uncommented, "FineTuneFromSwift.md's example differs from the test's snippet (less comments)")
    }
}
