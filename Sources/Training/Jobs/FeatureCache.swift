import Foundation
import NN
import TensorCore
import Zoo

/// Trunk outputs computed once for a frozen trunk, so the head trains on them: epochs after the
/// first cost a small fraction of the first (Create ML's `reuseExtractedFeatures`; Keras and
/// PyTorch recompute the trunk every epoch). With augmentation, `copies` augmented passes are
/// cached up front and epoch e trains on copy (e - 1) % copies.
public struct FeatureCache: Sendable {
    /// One [N, features...] set of rows per cached copy.
    public let copies: [FeatureRows]
    /// The targets of each copy, row for row. A shuffling source orders every copy (epoch) differently,
    /// so each copy keeps its own.
    public let copyTargets: [Targets]
    /// The first copy's targets.
    public var targets: Targets { copyTargets.first ?? .classes([]) }

    /// Where the rows go: memory, or one file per copy in `folder` (read back row by row with
    /// `pread`, so resident memory stays one batch whatever the dataset's size).
    public enum Storage: Sendable, Equatable {
        case memory
        case files(folder: URL, prefix: String)
    }

    /// Runs `trunk` in inference mode over every batch of `source` for `copies` epochs' worth of data.
    public static func compute(trunk: any Layer, source: any BatchSource, copies: Int,
                               inference: InferenceOptions = InferenceOptions(), storage: Storage = .memory,
                               progress: ((Int, Int) -> Void)? = nil) throws -> FeatureCache {
        let wasTraining = trunk.isTraining
        trunk.setTraining(false)
        defer { trunk.setTraining(wasTraining) }
        var stored: [FeatureRows] = []
        var targets: [Targets] = []
        // The trunk runs as an inference plan (oneDNN chain, BN folded; unknown layers through their
        // module forward), built on the first batch: the weights are fixed while the cache is computed.
        let plan = PlanCache(inference)
        for copy in 0..<max(1, copies) {
            var chunks: [Tensor] = []
            var file: FeatureFile? = nil
            var labels: [Int] = []
            var multi: [Tensor] = []
            var done = 0
            try withoutGradients {
                for batch in source.batches(epoch: copy + 1) {
                    let features = plan.output(trunk, batch.inputs)
                    if case let .files(folder, prefix) = storage {
                        if file == nil {
                            file = try FeatureFile(creating: folder.appendingPathComponent("\(prefix)-\(copy).bin"),
                                                   rowShape: Array(features.shape.dropFirst()))
                        }
                        try file?.append(features)
                    } else {
                        chunks.append(features)
                    }
                    switch batch.targets {
                    case .classes(let c): labels += c
                    case .multiHot(let t): multi.append(t)
                    }
                    done += 1
                    progress?(done, source.batchesPerEpoch)
                }
                if let e = (source as? ImageBatchSource)?.error { throw e }
            }
            stored.append(file.map { .file($0) } ?? .memory(concatenateRows(chunks)))
            targets.append(multi.isEmpty ? .classes(labels) : .multiHot(concatenateRows(multi)))
        }
        return FeatureCache(copies: stored, copyTargets: targets)
    }

    /// Bytes one copy of `rows` features of `featureCount` floats takes.
    public static func bytesPerCopy(rows: Int, featureCount: Int) -> Int { rows * featureCount * MemoryLayout<Float>.size }

    /// Stacks [n_i, ...] tensors along the first axis.
    static func concatenateRows(_ parts: [Tensor]) -> Tensor {
        guard let first = parts.first else { return Tensor(zeros: [0]) }
        let rowShape = Array(first.shape.dropFirst())
        let rows = parts.reduce(0) { $0 + $1.shape[0] }
        var out = Tensor(uninitializedShape: [rows] + rowShape)
        let dst = out.mutablePointer()
        var offset = 0
        for p in parts {
            dst.advanced(by: offset).update(from: p.pointer, count: p.count)
            offset += p.count
        }
        return out
    }

    public var featureShape: [Int] { copies[0].rowShape }
}

/// Batches over cached features: epoch e uses copy (e - 1) % copies, shuffled per epoch from the seed.
public struct CachedFeatureSource: BatchSource, Sendable {
    public let cache: FeatureCache
    public let batchSize: Int
    public let shuffle: Bool
    public let seed: UInt64

    public init(cache: FeatureCache, batchSize: Int, shuffle: Bool, seed: UInt64) {
        self.cache = cache; self.batchSize = batchSize; self.shuffle = shuffle; self.seed = seed
    }

    public var batchesPerEpoch: Int {
        let n = cache.copyTargets.first?.count ?? 0
        return (n + batchSize - 1) / batchSize
    }

    public func batches(epoch: Int) -> AnySequence<Batch> {
        let copy = cache.copies.count == 1 ? 0 : (max(epoch, 1) - 1) % cache.copies.count
        let rows = cache.copies[copy], targets = cache.copyTargets[copy]
        let order = shuffle ? InMemoryBatchSource.shuffledOrder(count: targets.count, seed: seed, epoch: epoch)
                            : Array(0..<targets.count)
        let size = batchSize
        return AnySequence((0..<batchesPerEpoch).lazy.map { b in
            let picked = Array(order[(b * size)..<min(order.count, (b + 1) * size)])
            let x = rows.gather(picked)
            switch targets {
            case .classes(let c): return Batch(inputs: x, targets: .classes(picked.map { c[$0] }))
            case .multiHot(let t): return Batch(inputs: x, targets: .multiHot(gatherRows(t, picked)))
            }
        })
    }
}
