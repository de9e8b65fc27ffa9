import Foundation
import TensorCore
import Testing
@testable import Training

/// rows = true class: 16 images, 12 on the diagonal.
let handMade = ConfusionMatrix(counts: [[5, 1, 0],
                                        [2, 3, 1],
                                        [0, 0, 4]])

@Suite struct MetricsTests {
    @Test func confusionMatrixMetrics() {
        let m = handMade
        #expect(m.total == 16 && m.correct == 12 && m.accuracy == 0.75)
        #expect(abs(m.precision(0) - 5.0 / 7) < 1e-12 && abs(m.recall(0) - 5.0 / 6) < 1e-12)
        #expect(m.precision(1) == 0.75 && m.recall(1) == 0.5 && abs(m.f1(1) - 0.6) < 1e-12)
        #expect(m.precision(2) == 0.8 && m.recall(2) == 1 && abs(m.f1(2) - 8.0 / 9) < 1e-12)
        #expect(m.support(1) == 6 && m.predictedCount(0) == 7)
        let empty = ConfusionMatrix(counts: [[0, 0], [3, 0]])
        #expect(empty.precision(1) == 0 && empty.recall(0) == 0 && empty.f1(0) == 0)
        let built = ConfusionMatrix(predicted: [0, 1, 1, 2], actual: [0, 1, 0, 2], classCount: 3)
        #expect(built.counts == [[1, 1, 0], [0, 1, 0], [0, 0, 1]])
    }

    @Test func accuracyAndTopK() {
        let scores = Tensor(shape: [3, 3], scalars: [0.1, 0.5, 0.4,
                                                     0.3, 0.3, 0.4,
                                                     0.9, 0.05, 0.05])
        #expect(argmaxRows(scores) == [1, 2, 0])
        #expect(accuracy(scores, labels: [1, 2, 1]) == 2.0 / 3)
        #expect(topKAccuracy(scores, labels: [2, 0, 1], k: 1) == 0)
        #expect(topKAccuracy(scores, labels: [2, 0, 1], k: 2) == 1)
        #expect(topKHits(scores, labels: [0, 0, 0], k: 2) == [false, true, true])
    }

    @Test func summaryJSONHasTopOneAccuracyInUnitRange() throws {
        let s = EvaluationSummary(confusion: handMade, classNames: ["ants", "bees", "wasps"], topK: 2, topKAccuracy: 0.9375)
        let data = try s.jsonData()
        let object = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        #expect(object["accuracy"] as? Double == 0.75)
        #expect(object["top_k_accuracy"] as? Double == 0.9375)
        #expect((object["confusion_matrix"] as? [[Int]]) == handMade.counts)
        #expect((object["per_class"] as? [[String: Any]])?[1]["recall"] as? Double == 0.5)
        #expect(try EvaluationSummary.decode(data) == s)
        var acc = EvaluationAccumulator(classCount: 2, k: 1)
        acc.add(scores: Tensor(shape: [2, 2], scalars: [1, 0, 1, 0]), labels: [0, 1], loss: 0.5)
        let sum = acc.summary()
        #expect(sum.accuracy == 0.5 && sum.topKAccuracy == 0.5 && sum.loss == 0.5 && sum.count == 2)
    }

    @Test func metricsLogWritesAtomicallyAndReplacesOnResume() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var log = MetricsLog()
        for e in 1...3 { log.record(EpochMetrics(epoch: e, trainLoss: 1 / Double(e), trainAccuracy: 0.5, lr: 0.1, seconds: 2)) }
        log.record(EpochMetrics(epoch: 3, trainLoss: 0.2, lr: 0.1, seconds: 1))  // epoch 3 re-run after resume
        #expect(log.epochs.map(\.epoch) == [1, 2, 3] && log.epochs[2].trainLoss == 0.2)
        let url = dir.appendingPathComponent("metrics.json")
        try log.write(to: url)
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(text.contains("\"train_loss\"") && text.contains("\"seconds\""))
        #expect(try MetricsLog.read(from: url) == log)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0 != "metrics.json" }
        #expect(leftovers.isEmpty)
    }

    @Test func atomicWriteReplacesAndFailsCleanly() throws {
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("a/b/file.txt")
        try AtomicFile.write("one", to: url)
        try AtomicFile.write("two", to: url)
        #expect(try String(contentsOf: url, encoding: .utf8) == "two")
        // A directory in the way: the rename fails, the temporary file is removed.
        let blocked = dir.appendingPathComponent("blocked")
        try FileManager.default.createDirectory(at: blocked.appendingPathComponent("x"), withIntermediateDirectories: true)
        #expect(throws: AtomicFile.Error.self) { try AtomicFile.write("data", to: blocked) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["a", "blocked"])
    }
}

@Suite struct ReportTests {
    @Test func reportHasCurvesAndConfusionGrid() throws {
        var log = MetricsLog()
        for e in 1...4 {
            log.record(EpochMetrics(epoch: e, trainLoss: 1.0 / Double(e), trainAccuracy: 0.5 + 0.1 * Double(e),
                                    valLoss: 1.2 / Double(e), valAccuracy: 0.45 + 0.1 * Double(e), lr: 0.01, seconds: 3))
        }
        let html = Report.html(title: "ants <vs> bees", log: log, confusion: handMade,
                               classNames: ["ants", "bees", "wasps & co"], details: [("model", "resnet18")])
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(html.components(separatedBy: "<svg").count - 1 == 4)   // loss, accuracy, learning rate, confusion
        #expect(html.contains("<table class=\"classes\">") && html.contains("<th>F1</th>"))
        #expect(html.contains("<polyline") && html.contains("val accuracy"))
        #expect(html.contains(">wasps &amp; co</text>") && html.contains("ants &lt;vs&gt; bees"))
        #expect(html.components(separatedBy: "<rect x=").count - 1 >= 9)  // 3x3 cells
        #expect(html.contains(">5</text>") && html.contains("true bees, predicted ants: 2"))
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("report.html")
        try Report.write(to: url, title: "run", log: log)
        #expect(try String(contentsOf: url, encoding: .utf8).contains("<svg"))
    }

    @Test func ticksAreRoundAndLegendsSitOutsideThePlot() throws {
        let unit = Report.niceTicks(0, 1)
        #expect(unit.count == 6 && zip(unit, [0, 0.2, 0.4, 0.6, 0.8, 1]).allSatisfy { abs($0 - $1) < 1e-9 }, "\(unit)")
        #expect(Report.niceTicks(0, 2.46) == [0, 0.5, 1, 1.5, 2])
        #expect(Report.niceTicks(0.0001, 0.0009).allSatisfy { abs(($0 * 1e4).rounded() - $0 * 1e4) < 1e-6 })
        let series = [Report.Series(name: "train loss", color: "#000", points: [(1, 0.615), (2, 0.3)])]
        let svg = Report.lineChart(series, yLabel: "loss", width: 760, marks: [(1.5, "phase 2")])
        #expect(!svg.contains(">0.615<"), "ticks are round values")
        #expect(svg.contains(">0.2<") && svg.contains(">0.6<"), "\(svg)")
        // Plot area ends at 760 - 140 = 620; the legend swatch starts right of it.
        #expect(svg.contains("<rect x=\"632.0\""), "\(svg)")
        #expect(svg.contains("stroke-dasharray") && svg.contains(">phase 2<"))
    }
}

/// Collects what the reporter writes; a reference type so the closure can append.
final class Sink: @unchecked Sendable { var text = "" }

@Suite struct ProgressTests {
    @Test func barOnTerminalLinesOtherwise() {
        let sink = Sink()
        var clock = 0.0
        let bar = ProgressReporter(style: .bar, barWidth: 10, write: { sink.text += $0 }, now: { clock })
        bar.startEpoch(1, of: 3, batches: 4)
        for b in 1...4 { clock += 0.5; bar.update(batch: b, images: 32, loss: 0.5) }
        #expect(sink.text.contains("\r") && sink.text.contains("[=====>    ] 2/4"))
        #expect(sink.text.contains("64.0 img/s") && sink.text.contains("loss 0.5000") && sink.text.contains("ETA 0:01"))
        bar.endEpoch(EpochMetrics(epoch: 1, trainLoss: 0.5, trainAccuracy: 0.8, valLoss: 0.6, valAccuracy: 0.7, lr: 0.01, seconds: 2))
        #expect(sink.text.hasSuffix("epoch 1/3  loss 0.5000  acc 0.8000  val_loss 0.6000  val_acc 0.7000  lr 0.01  0:02\n"))

        let lines = Sink()
        let plain = ProgressReporter(style: .lines, write: { lines.text += $0 }, now: { clock })
        plain.startEpoch(2, of: 3, batches: 20)
        for b in 1...20 { clock += 0.1; plain.update(batch: b, images: 8, loss: 1) }
        #expect(lines.text.isEmpty, "a 2-second epoch prints only its epoch line: \(lines.text)")
        plain.endEpoch(EpochMetrics(epoch: 2, trainLoss: 1, lr: 0.01, seconds: 2))
        #expect(lines.text.split(separator: "\n").count == 1)
        #expect(!lines.text.contains("\r") && !lines.text.contains("\u{1B}"))
    }

    /// A long epoch off the terminal: one progress line per 10 s at most, none for the last batch.
    @Test func longEpochPrintsAtMostOneLineEveryTenSeconds() {
        let lines = Sink()
        var clock = 100.0
        let plain = ProgressReporter(style: .lines, write: { lines.text += $0 }, now: { clock })
        plain.startEpoch(1, of: 1, batches: 100)
        for b in 1...100 { clock += 1.5; plain.update(batch: b, images: 8, loss: 1) }   // 150 s
        let printed = lines.text.split(separator: "\n")
        #expect(printed.count == 14, "\(printed)")   // at 10.5, 21, ... 147 s: every 7th batch, not the 100th
        #expect(printed.first?.hasPrefix("epoch 1/1 batch 7/100") == true, "\(printed)")
        #expect(!lines.text.contains("batch 100/100"))
    }
}
