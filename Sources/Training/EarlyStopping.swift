import Foundation

extension Recipe {
    /// The validation metric that early stopping and `keep_best` watch.
    public enum Monitor: String, Codable, Sendable, CaseIterable {
        case valLoss = "val_loss", valAccuracy = "val_accuracy"
        public init(from decoder: Decoder) throws { self = try decodeChoice(decoder) }
        /// Lower is better for a loss, higher for an accuracy.
        var minimizes: Bool { self == .valLoss }
    }

    /// `early_stopping: {monitor: val_loss, patience: 3, min_delta: 0}`: end the run once `monitor`
    /// has not improved by more than `min_delta` for `patience` epochs (Keras's `EarlyStopping`).
    public struct EarlyStopping: Codable, Sendable, Equatable {
        public var monitor = Monitor.valLoss
        /// Epochs in a row without improvement that end the run (>= 1; Keras's 0 and 1 both mean 1).
        public var patience = 3
        /// The smallest change that counts as an improvement.
        public var minDelta = 0.0

        public init(monitor: Monitor = .valLoss, patience: Int = 3, minDelta: Double = 0) {
            self.monitor = monitor; self.patience = patience; self.minDelta = minDelta
        }

        enum CodingKeys: String, CodingKey, CaseIterable { case monitor, patience, minDelta = "min_delta" }
        public static var keys: [String] { CodingKeys.allCases.map(\.stringValue) }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            monitor = try c.decodeIfPresent(Monitor.self, forKey: .monitor) ?? monitor
            patience = try c.decodeIfPresent(Int.self, forKey: .patience) ?? patience
            minDelta = try c.decodeIfPresent(Double.self, forKey: .minDelta) ?? minDelta
        }
    }

    /// What `keep_best` and early stopping compare: early stopping's monitor, else `val_loss`.
    public var monitor: Monitor { earlyStopping?.monitor ?? .valLoss }
}

/// The best epoch so far by the monitored metric, and the epochs since it improved. It is part of
/// every run checkpoint (JSON in the metadata), so early stopping and the best epoch survive
/// kill-and-resume exactly.
struct BestTracker: Codable, Equatable {
    var monitor: Recipe.Monitor
    var minDelta: Double
    /// nil: track the best epoch only, never stop.
    var patience: Int?
    var bestEpoch: Int?
    var bestValue: Double?
    /// Epochs since the last improvement.
    var wait = 0
    var stopped = false

    init(recipe: Recipe) {
        monitor = recipe.monitor
        minDelta = recipe.earlyStopping?.minDelta ?? 0
        patience = recipe.earlyStopping?.patience
    }

    func value(_ m: EpochMetrics) -> Double? { monitor == .valLoss ? m.valLoss : m.valAccuracy }

    /// Records epoch `epoch` (counted over the whole run); true when it is the new best.
    mutating func update(_ m: EpochMetrics, epoch: Int) -> Bool {
        guard let v = value(m), v.isFinite else { return false }
        let improved: Bool
        if let best = bestValue {
            improved = monitor.minimizes ? v < best - minDelta : v > best + minDelta
        } else {
            improved = true
        }
        if improved {
            bestValue = v; bestEpoch = epoch; wait = 0
        } else {
            wait += 1
            if let p = patience, wait >= p { stopped = true }
        }
        return improved
    }

    static let metadataKey = "best_tracker"

    func json() -> String { String(decoding: (try? JSONCoding.encoder().encode(self)) ?? Data(), as: UTF8.self) }

    static func decode(_ text: String) throws -> BestTracker {
        try JSONCoding.decoder().decode(BestTracker.self, from: Data(text.utf8))
    }
}
