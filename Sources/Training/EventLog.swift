import Foundation

/// `--log-json FILE`: one JSON object per line (JSON Lines) for each run event, for other tools
/// (dashboards, schedulers) to follow without parsing the human-readable lines. Every object has
/// `event` (`epoch_end`, `phase`, `checkpoint`, `warning`, `early_stop`, `done`) and `time` (ISO 8601);
/// the rest depends on the event. The whole file is rewritten atomically after each event (a few
/// per epoch, so this costs nothing), so a reader never sees half a line.
public final class EventLog: @unchecked Sendable {
    /// A JSON scalar field value.
    public enum Value: Sendable, Equatable {
        case int(Int), double(Double), string(String), bool(Bool)

        var json: Any {
            switch self {
            case .int(let v): v
            case .double(let v): v.isFinite ? v : "\(v)"   // JSON has no nan/inf
            case .string(let v): v
            case .bool(let v): v
            }
        }
    }

    public let url: URL
    private var lines: [String] = []
    private let lock = NSLock()
    private let now: () -> Date

    /// With `continuing` (a resumed run) the events already in the file are kept.
    public init(url: URL, continuing: Bool = false, now: @escaping () -> Date = Date.init) {
        self.url = url
        self.now = now
        if continuing, let text = try? String(contentsOf: url, encoding: .utf8) {
            lines = text.split(separator: "\n").map(String.init)
        }
    }

    /// Appends one event and rewrites the file.
    public func record(_ event: String, _ fields: [String: Value] = [:]) throws {
        var object: [String: Any] = ["event": event, "time": ISO8601DateFormatter().string(from: now())]
        for (k, v) in fields { object[k] = v.json }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        lock.lock(); defer { lock.unlock() }
        lines.append(String(decoding: data, as: UTF8.self))
        try AtomicFile.write(lines.joined(separator: "\n") + "\n", to: url)
    }

    /// The fields of an `epoch_end` event (`epoch` counts over the whole run, all phases).
    public static func epochFields(_ m: EpochMetrics, phase: Int) -> [String: Value] {
        var f: [String: Value] = ["epoch": .int(m.epoch), "phase": .int(phase), "train_loss": .double(m.trainLoss),
                                  "lr": .double(m.lr), "seconds": .double(m.seconds)]
        if let a = m.trainAccuracy { f["train_accuracy"] = .double(a) }
        if let l = m.valLoss { f["val_loss"] = .double(l) }
        if let a = m.valAccuracy { f["val_accuracy"] = .double(a) }
        return f
    }
}
