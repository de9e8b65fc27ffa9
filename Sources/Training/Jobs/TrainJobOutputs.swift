import Foundation
import ImageIO
import NN
import TensorCore
import WeightIO
import Zoo

/// The report's top-losses figures, the note above them, and the pictures as one grid image.
typealias TopLossGallery = (figures: [Report.Figure], note: String, grid: Image?)

extension TrainJob {
    /// model.h5 (native, self-describing), model-keras.h5 (Keras 2 weights layout), recipe.yaml
    /// (resolved), metrics.json and report.html; each written atomically.
    func writeOutputs(_ prepared: PreparedModel, log: MetricsLog, confusion: ConfusionMatrix?, bestEpoch: Int? = nil,
                      marks: [(x: Double, label: String)] = [], topLosses: (figures: [Report.Figure], note: String) = ([], "")) throws {
        let model = prepared.model
        var extra = ["loss": recipe.loss.rawValue, "trained_epochs": "\(log.epochs.count)",
                     "augmentation_flip": recipe.augmentation.flip ? "true" : "false",
                     "augmentation_shift": recipe.augmentation.shiftsContent ? "true" : "false"]
        if let a = confusion?.accuracy { extra["validation_accuracy"] = String(format: "%.6f", a) }
        if let e = bestEpoch { extra["best_epoch"] = "\(e)" }
        try saveNativeModel(model, options: prepared.options, classNames: prepared.classNames, extra: extra,
                            to: outPath("model.h5"))
        do { try model.exportKeras2Weights(to: outPath("model-keras.h5")) } catch {
            say("warning: no Keras export for \(model.architecture): \(error)")
            try emit("warning", ["message": .string("no Keras export for \(model.architecture): \(error)")])
        }
        try recipe.write(to: outURL.appendingPathComponent("recipe.yaml"),
                         header: "Resolved recipe of this run (graft \(WeightIO.graftVersion))")
        try log.write(to: outURL.appendingPathComponent("metrics.json"))
        try Report.write(to: outURL.appendingPathComponent("report.html"), title: "Graft: \(model.architecture) on \(recipe.data)",
                         log: log, confusion: confusion, classNames: prepared.classNames,
                         details: [("model", prepared.source), ("recipe", "recipe.yaml")], marks: marks,
                         topLosses: topLosses.figures, topLossesNote: topLosses.note)
    }

    /// Scores of `model` over every batch of `source`, in inference mode, with the labels.
    func scores(_ model: ZooModel, _ source: ImageBatchSource) throws -> (scores: [Tensor], labels: [[Int]]) {
        let wasTraining = model.isTraining
        model.setTraining(false)
        defer { model.setTraining(wasTraining) }
        var out: [Tensor] = [], labels: [[Int]] = []
        withoutGradients {
            for b in source.batches(epoch: 0) {
                out.append(model(Var(b.inputs)).value)
                if case .classes(let l) = b.targets { labels.append(l) } else { labels.append([]) }
            }
        }
        if let e = source.error { throw e }
        return (out, labels)
    }

    func confusionMatrix(_ s: [Tensor], _ l: [[Int]], classCount: Int) -> ConfusionMatrix {
        var m = ConfusionMatrix(classCount: classCount)
        for (t, labels) in zip(s, l) where !labels.isEmpty {
            m = ConfusionMatrix(counts: add(m.counts, ConfusionMatrix(predicted: argmaxRows(t), actual: labels,
                                                                        classCount: classCount).counts))
        }
        return m
    }

    private func add(_ a: [[Int]], _ b: [[Int]]) -> [[Int]] { zip(a, b).map { zip($0, $1).map(+) } }

    /// The report's top-losses gallery from the validation scores, and the same pictures as one grid
    /// (for TensorBoard). Empty, with a warning, when the model cannot be explained; nothing for
    /// multi-label data.
    func topLossFigures(_ model: ZooModel, _ source: ImageBatchSource, _ valScores: (scores: [Tensor], labels: [[Int]]),
                        classNames: [String], count: Int = 12) -> TopLossGallery {
        let samples = source.loader.dataset.samples
        guard !source.loader.dataset.isMultiLabel, valScores.labels.joined().count == samples.count else { return ([], "", nil) }
        do {
            let cam = try GradCAM(model: model)
            let rows = TopLosses.probabilityRows(valScores.scores, alreadyProbabilities: !model.outputIsLogits)
            let items = try TopLosses.items(samples: samples, probabilities: rows, count: count, cam: cam,
                                            preprocessing: source.loader.preprocessing)
            let figures = try items.map { item in
                Report.Figure(image: try HeatmapOverlay.dataURI(item.overlay),
                              caption: ["true \(classNames[item.trueClass]) (\(String(format: "%.2f", item.trueProbability)))",
                                        "predicted \(classNames[item.predictedClass]) \(String(format: "%.2f", item.predictedProbability))",
                                        "loss \(String(format: "%.2f", item.loss))  \(item.file.lastPathComponent)"],
                              title: item.file.path)
            }
            return (figures, "The \(figures.count) validation images with the largest loss, largest first. The heat map is "
                    + "Grad-CAM at layer '\(cam.layer)' for the predicted class: where the evidence for it lies.",
                    TopLosses.grid(items.map(\.overlay)))
        } catch {
            say("warning: no top-losses gallery in the report: \(error)")
            return ([], "", nil)
        }
    }

    /// Accuracy on the validation images of the first `oldClasses` classes; with `restrictToOld` the
    /// argmax runs over the old outputs only (what the model scored before it was extended).
    func oldClassAccuracy(_ model: ZooModel, _ source: ImageBatchSource?, oldClasses n: Int, restrictToOld: Bool) throws -> Double? {
        guard let source else { return nil }
        let (s, l) = try scores(model, source)
        var hit = 0, total = 0
        for (t, labels) in zip(s, l) {
            let k = t.shape[1]
            let p = t.pointer
            for (row, label) in labels.enumerated() where label < n {
                let width = restrictToOld ? n : k
                var best = 0
                for c in 1..<width where p[row * k + c] > p[row * k + best] { best = c }
                total += 1
                if best == label { hit += 1 }
            }
        }
        return total > 0 ? Double(hit) / Double(total) : nil
    }
}
