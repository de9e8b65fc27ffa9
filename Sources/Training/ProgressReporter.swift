import Foundation

/// Per-epoch progress: on a terminal a single redrawn bar (`\r`) with images/s, running loss and
/// ETA; otherwise (logs, CI, pipes) one line per epoch, plus at most one progress line every
/// `lineInterval` seconds (10) inside long epochs, like Keras's `verbose=2`, so a long run's log stays
/// readable. Then a final summary. Output and clock are injectable for tests.
public final class ProgressReporter {
    public enum Style: Sendable { case bar, lines, silent }

    public let style: Style
    private let write: (String) -> Void
    private let now: () -> Double
    private let barWidth: Int
    private let lineInterval: Double
    private var epoch = 0, epochs = 0, totalBatches: Int?
    private var start = 0.0, lastDraw = -1.0, lastLine = 0.0
    private var images = 0

    /// `style` nil picks `.bar` when stdout is a terminal (`isatty(1)`), `.lines` otherwise.
    public init(style: Style? = nil, barWidth: Int = 30, lineInterval: Double = 10,
                write: @escaping (String) -> Void = { FileHandle.standardOutput.write(Data($0.utf8)) },
                now: @escaping () -> Double = { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }) {
        self.style = style ?? (isatty(1) != 0 ? .bar : .lines)
        self.barWidth = barWidth
        self.lineInterval = lineInterval
        self.write = write
        self.now = now
    }

    public func startEpoch(_ epoch: Int, of epochs: Int, batches: Int?) {
        self.epoch = epoch; self.epochs = epochs; totalBatches = batches
        start = now(); lastDraw = -1; lastLine = start; images = 0
    }

    /// After each batch: `batch` is 1-based, `images` the images in this batch, `loss` the running mean.
    public func update(batch: Int, images batchImages: Int, loss: Double) {
        images += batchImages
        let t = now(), elapsed = max(t - start, 1e-9)
        let rate = Double(images) / elapsed
        var eta: String = "?"
        if let total = totalBatches, batch > 0 {
            eta = Self.duration(elapsed / Double(batch) * Double(max(total - batch, 0)))
        }
        switch style {
        case .silent: return
        case .bar:
            let last = totalBatches.map { batch >= $0 } ?? false
            guard last || t - lastDraw >= 0.1 else { return }
            lastDraw = t
            write("\r" + barLine(batch: batch, rate: rate, loss: loss, eta: eta) + "\u{1B}[K")
        case .lines:
            // The last batch needs no line: the epoch line follows at once.
            guard t - lastLine >= lineInterval, batch != totalBatches else { return }
            lastLine = t
            let of = totalBatches.map { "/\($0)" } ?? ""
            write("epoch \(epoch)/\(epochs) batch \(batch)\(of)  \(Self.num(rate, 1)) img/s  loss \(Self.num(loss, 4))  ETA \(eta)\n")
        }
    }

    /// The bar text (without the carriage return), public for tests and custom front ends.
    public func barLine(batch: Int, rate: Double, loss: Double, eta: String) -> String {
        var bar = ""
        if let total = totalBatches, total > 0 {
            let filled = min(barWidth, barWidth * batch / total)
            bar = "[" + String(repeating: "=", count: filled)
                + (filled < barWidth ? ">" + String(repeating: " ", count: barWidth - filled - 1) : "") + "] \(batch)/\(total)"
        } else {
            bar = "batch \(batch)"
        }
        return "epoch \(epoch)/\(epochs) \(bar)  \(Self.num(rate, 1)) img/s  loss \(Self.num(loss, 4))  ETA \(eta)"
    }

    /// The per-epoch line (validation included when given).
    public func endEpoch(_ m: EpochMetrics) {
        guard style != .silent else { return }
        var line = "epoch \(m.epoch)/\(epochs)  loss \(Self.num(m.trainLoss, 4))"
        if let a = m.trainAccuracy { line += "  acc \(Self.num(a, 4))" }
        if let l = m.valLoss { line += "  val_loss \(Self.num(l, 4))" }
        if let a = m.valAccuracy { line += "  val_acc \(Self.num(a, 4))" }
        line += "  lr \(String(format: "%.3g", m.lr))  \(Self.duration(m.seconds))"
        write((style == .bar ? "\r\u{1B}[K" : "") + line + "\n")
    }

    public func finish(_ summary: String) {
        guard style != .silent else { return }
        write(summary.hasSuffix("\n") ? summary : summary + "\n")
    }

    static func num(_ v: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", v) }

    /// `m:ss` or `h:mm:ss`.
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                         : String(format: "%d:%02d", s / 60, s % 60)
    }
}
