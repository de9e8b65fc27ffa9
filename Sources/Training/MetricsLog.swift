import Foundation

/// One row of metrics.json.
public struct EpochMetrics: Codable, Sendable, Equatable {
    /// 1-based epoch number.
    public var epoch: Int
    public var trainLoss: Double
    public var trainAccuracy: Double?
    public var valLoss: Double?
    public var valAccuracy: Double?
    /// Learning rate at the last step of the epoch (base rate, before group scales).
    public var lr: Double
    public var seconds: Double

    public init(epoch: Int, trainLoss: Double, trainAccuracy: Double? = nil, valLoss: Double? = nil,
                valAccuracy: Double? = nil, lr: Double, seconds: Double) {
        self.epoch = epoch; self.trainLoss = trainLoss; self.trainAccuracy = trainAccuracy
        self.valLoss = valLoss; self.valAccuracy = valAccuracy; self.lr = lr; self.seconds = seconds
    }
}

/// Per-epoch history, written to metrics.json (snake_case keys) after every epoch.
public struct MetricsLog: Codable, Sendable, Equatable {
    public var epochs: [EpochMetrics]

    public init(epochs: [EpochMetrics] = []) { self.epochs = epochs }

    /// Appends (or, on a resumed run, replaces) the row for `m.epoch`.
    public mutating func record(_ m: EpochMetrics) {
        epochs.removeAll { $0.epoch >= m.epoch }
        epochs.append(m)
    }

    public func jsonData() throws -> Data { try JSONCoding.encoder().encode(self) }

    public func write(to url: URL) throws { try AtomicFile.write(jsonData(), to: url) }

    public static func read(from url: URL) throws -> MetricsLog {
        try JSONCoding.decoder().decode(MetricsLog.self, from: Data(contentsOf: url))
    }
}
