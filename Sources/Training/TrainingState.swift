import Foundation
import NN
import TensorCore

/// Everything needed to continue a run exactly: model tensors (parameters and buffers, by path),
/// optimizer state (by `<path>.<slot>`), and Codable metadata (epoch, step, RNG, metrics so far).
/// The CLI stores `tensors` as one HDF5 dataset per key and `metadataJSON()` as a string beside it.
public struct TrainingState: Sendable {
    public struct Metadata: Codable, Sendable, Equatable {
        /// Format version of this struct.
        public var version = 1
        /// Completed epochs (the next epoch to run is `epoch + 1`).
        public var epoch: Int
        /// Optimizer steps taken so far (the schedule's position).
        public var step: Int
        /// Total steps the schedule was planned for.
        public var totalSteps: Int
        public var seed: UInt64
        /// The trainer's generator after `epoch` epochs.
        public var rng: SeededRandom
        public var log: MetricsLog
        /// Paths frozen at capture time (gradual unfreezing resumes in the same state).
        public var frozen: [String]
        /// Generators of modules that carry their own (`RandomStateful`, e.g. Dropout), by module path.
        public var moduleRNG: [String: SeededRandom] = [:]
        /// Free-form extras for the CLI (recipe hash, class names, ...).
        public var extra: [String: String]
    }

    public var metadata: Metadata
    public var model: [String: Tensor]
    public var optimizer: [String: Tensor]

    public init(metadata: Metadata, model: [String: Tensor], optimizer: [String: Tensor]) {
        self.metadata = metadata
        self.model = model
        self.optimizer = optimizer
    }

    /// Model and optimizer tensors in one flat namespace: `model/<path>` and `optimizer/<key>`.
    public var tensors: [String: Tensor] {
        var all: [String: Tensor] = [:]
        for (k, v) in model { all["model/" + k] = v }
        for (k, v) in optimizer { all["optimizer/" + k] = v }
        return all
    }

    public func metadataJSON() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try e.encode(metadata)
    }

    /// Rebuilds a state from `tensors` and `metadataJSON()` output.
    public init(tensors: [String: Tensor], metadataJSON: Data) throws {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let meta = try d.decode(Metadata.self, from: metadataJSON)
        var model: [String: Tensor] = [:], opt: [String: Tensor] = [:]
        for (k, v) in tensors {
            if k.hasPrefix("model/") { model[String(k.dropFirst(6))] = v }
            else if k.hasPrefix("optimizer/") { opt[String(k.dropFirst(10))] = v }
            else { throw TrainingError.badState("unexpected tensor '\(k)' (expected model/... or optimizer/...)") }
        }
        self.init(metadata: meta, model: model, optimizer: opt)
    }
}

/// A module with its own random stream (Dropout's mask generator, a stochastic-depth layer).
/// The trainer saves and restores it with the checkpoint, so a resumed run draws the same masks.
public protocol RandomStateful: AnyObject {
    var randomState: SeededRandom { get set }
}

public enum TrainingError: Error, Equatable, CustomStringConvertible {
    /// The loss became NaN or infinite; no update was applied for that batch.
    case nonFiniteLoss(epoch: Int, batch: Int, step: Int, value: Float)
    /// A checkpoint does not fit this model or run.
    case badState(String)
    /// A batch source produced no batches.
    case emptyEpoch(Int)

    public var description: String {
        switch self {
        case let .nonFiniteLoss(epoch, batch, step, value):
            "loss is \(value) at epoch \(epoch), batch \(batch) (step \(step)); stopping. The last checkpoint "
                + "(end of epoch \(epoch - 1)) is kept. Try a lower --lr, a --warmup, or check the data for bad values."
        case .badState(let m): "checkpoint does not match: \(m)"
        case .emptyEpoch(let e): "epoch \(e) has no batches (is the data folder empty or the batch size too large with drop-last?)"
        }
    }
}

extension Dropout: RandomStateful {}
