import Foundation
import NN
import TensorCore

/// `finetune lr-find [train flags]`: the learning-rate range test (Smith 2015, fastai's `lr_find`).
/// The recipe's model, data, freezing and optimizer train for up to `steps` batches while the rate
/// grows exponentially from `start` to `end`; the sweep stops once the smoothed loss passes four
/// times its minimum (or goes non-finite). The model is built for the sweep and then discarded, so
/// nothing of the run's output changes. Writes lr-find.html (loss against rate) and lr-find.json.
public final class LRFindJob {
    public struct Point: Codable, Sendable, Equatable {
        public var lr: Double
        public var loss: Double
        /// Exponential moving average of the loss (beta 0.98), bias-corrected.
        public var smoothed: Double
    }

    public struct Result: Codable, Sendable {
        public var points: [Point]
        /// The rate where the smoothed loss falls fastest per decade (the suggestion).
        public var steepest: Double
        /// A tenth of the rate at the smoothed minimum (the other common rule).
        public var minimumOverTen: Double
        /// The sweep stopped because the loss diverged.
        public var diverged: Bool
        public var suggestion: Double { steepest }
    }

    public let job: TrainJob
    public let start: Double, end: Double, steps: Int

    public init(job: TrainJob, start: Double = 1e-7, end: Double = 10, steps: Int = 100) {
        self.job = job; self.start = start; self.end = end; self.steps = steps
    }

    /// The rate of step i of n: start * (end/start)^(i/(n-1)).
    public static func rate(step i: Int, of n: Int, start: Double, end: Double) -> Double {
        start * pow(end / start, Double(i) / Double(max(1, n - 1)))
    }

    public func run() throws -> Result {
        guard start > 0, end > start, steps >= 10 else {
            throw JobError("lr-find: need 0 < --start-lr < --end-lr and --steps >= 10 (got \(start), \(end), \(steps))")
        }
        if let t = job.recipe.threads { Threads.count = max(1, t) }
        try FileManager.default.createDirectory(at: job.outURL, withIntermediateDirectories: true)
        let inputs = try job.loadInputs()
        let model = inputs.prepared.model
        let perEpoch = max(1, inputs.trainImages.batchesPerEpoch)
        let (start, end, steps) = (self.start, self.end, self.steps)
        let trainer = Trainer(model: model, optimizer: job.recipe.makeOptimizer(headPrefixes: model.headLayerNames),
                              schedule: { step, _ in Float(Self.rate(step: step, of: steps, start: start, end: end)) },
                              loss: job.recipe.makeLoss(), epochs: (steps + perEpoch - 1) / perEpoch, seed: job.recipe.seed)
        var points: [Point] = []
        var average = 0.0, best = Double.infinity, diverged = false
        trainer.hooks.batchEnd = { t, r in
            let loss = Double(r.loss)
            average = 0.98 * average + 0.02 * loss
            let smoothed = average / (1 - pow(0.98, Double(points.count + 1)))
            points.append(Point(lr: Double(r.lr), loss: loss, smoothed: smoothed))
            best = min(best, smoothed)
            if !smoothed.isFinite || smoothed > 4 * best { diverged = true; t.stopRequested = true }
            if points.count >= steps { t.stopRequested = true }
        }
        job.say("lr-find \(steps) steps from \(Self.format(start)) to \(Self.format(end)), \(model.trainableParameterCount) trainable parameters")
        do { try trainer.fit(inputs.trainImages) } catch TrainingError.nonFiniteLoss { diverged = true }
        if let e = inputs.trainImages.error { throw e }
        guard points.count >= 5 else { throw JobError("lr-find: the loss diverged after \(points.count) steps; lower --start-lr") }
        let result = Self.analyse(points, diverged: diverged)
        try write(result)
        job.say("lr-find suggested lr \(Self.format(result.suggestion)) (steepest descent of the smoothed loss; "
                + "minimum/10: \(Self.format(result.minimumOverTen)))\(diverged ? "; stopped when the loss diverged" : "")")
        job.say("output  \(job.recipe.out)/ lr-find.html lr-find.json")
        return result
    }

    /// Steepest descent per decade of the smoothed loss (ignoring the first and last tenth, where
    /// the average is still warming up or already diverging), and the smoothed minimum / 10.
    public static func analyse(_ points: [Point], diverged: Bool) -> Result {
        let finite = points.filter { $0.smoothed.isFinite }
        let skip = max(1, finite.count / 10)
        var steepest = finite.first?.lr ?? 0, slope = Double.infinity
        if finite.count > 2 * skip + 1 {
            for i in skip..<(finite.count - skip) {
                let a = finite[i - 1], b = finite[i]
                let s = (b.smoothed - a.smoothed) / (log10(b.lr) - log10(a.lr))
                if s < slope { slope = s; steepest = b.lr }
            }
        }
        let minimum = finite.min { $0.smoothed < $1.smoothed }?.lr ?? steepest
        return Result(points: points, steepest: steepest, minimumOverTen: minimum / 10, diverged: diverged)
    }

    private func write(_ r: Result) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try e.encode(r), to: job.outURL.appendingPathComponent("lr-find.json"))
        // The axis ends at 1.5x the first smoothed loss; diverged points are drawn at its top edge.
        let smoothed = r.points.filter { $0.smoothed.isFinite }.map(\.smoothed)
        let range = (min(0, smoothed.min() ?? 0), max(min((smoothed.first ?? 1) * 1.5, smoothed.max() ?? 1), 1e-6))
        func clipped(_ y: Double) -> Double { y.isFinite ? min(y, range.1) : range.1 }
        let series = [
            Report.Series(name: "loss", color: "#bbbbbb", points: r.points.map { (log10($0.lr), clipped($0.loss)) }),
            Report.Series(name: "smoothed", color: "#1f77b4", points: r.points.map { (log10($0.lr), clipped($0.smoothed)) }),
        ]
        let chart = Report.lineChart(series, yLabel: "loss", yRange: range,
                                     marks: [(log10(r.suggestion), "suggested \(Self.format(r.suggestion))")],
                                     xLabel: "learning rate", xTick: { "1e\($0)" }, markers: false)
        let html = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>Graft: learning-rate finder</title>
        <style>body{font-family:sans-serif;margin:2em;color:#222}svg{display:block;margin:1em 0}</style></head><body>
        <h1>Learning-rate finder</h1>
        <p>\(r.points.count) steps of \(Report.escape(job.recipe.model)) on \(Report.escape(job.recipe.data)), the rate growing
        exponentially\(r.diverged ? " until the loss diverged" : ""). Suggested: \(Self.format(r.suggestion)) (steepest descent of the
        smoothed loss); a tenth of the minimum's rate: \(Self.format(r.minimumOverTen)).</p>
        \(chart)
        </body></html>

        """
        try AtomicFile.write(html, to: job.outURL.appendingPathComponent("lr-find.html"))
    }

    static func format(_ v: Double) -> String { String(format: "%.2e", v) }
}
