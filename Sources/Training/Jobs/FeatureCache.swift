import Foundation
import NN
import TensorCore
import Zoo

/// Trunk outputs computed once for a frozen trunk, so the head trains on them: epochs after the
/// first cost a small fraction of the first (Create ML's `reuseExtractedFeatures`; Keras and
/// PyTorch recompute the trunk every epoch). With augmentation, `copies` augmented passes are
/// cached up front and epoch e trains on copy (e - 1) % copies.
public struct FeatureCache: Sendable {
    /// One [N, features...] tensor per cached copy.
    public let copies: [Tensor]
    /// The targets of each copy, row for row. A shuffling source orders every copy (epoch) differently,
    /// so each copy keeps its own.
    public let copyTargets: [Targets]
    /// The first copy's targets.
    public var targets: Targets { copyTargets.first ?? .classes([]) }

    /// Runs `trunk` in inference mode over every batch of `source` for `copies` epochs' worth of data.
    public static func compute(trunk: any Layer, source: any BatchSource, copies: Int,
                               inference: InferenceOptions = InferenceOptions(),
                               progress: ((Int, Int) -> Void)? = nil) throws -> FeatureCache {
        let wasTraining = trunk.isTraining
        trunk.setTraining(false)
        defer { trunk.setTraining(wasTraining) }
        var tensors: [Tensor] = []
        var targets: [Targets] = []
        // The trunk runs as an inference plan (oneDNN chain, BN folded; unknown layers through their
        // module forward), built on the first batch: the weights are fixed while the cache is computed.
        let plan = PlanCache(inference)
        for copy in 0..<max(1, copies) {
            var chunks: [Tensor] = []
            var labels: [Int] = []
            var multi: [Tensor] = []
            var done = 0
            try withoutGradients {
                for batch in source.batches(epoch: copy + 1) {
                    chunks.append(plan.output(trunk, batch.inputs))
                    switch batch.targets {
                    case .classes(let c): labels += c
                    case .multiHot(let t): multi.append(t)
                    }
                    done += 1
                    progress?(done, source.batchesPerEpoch)
                }
                if let e = (source as? ImageBatchSource)?.error { throw e }
            }
            tensors.append(concatenateRows(chunks))
            targets.append(multi.isEmpty ? .classes(labels) : .multiHot(concatenateRows(multi)))
        }
        return FeatureCache(copies: tensors, copyTargets: targets)
    }

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

    public var featureShape: [Int] { Array(copies[0].shape.dropFirst()) }
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

    public var batchesPerEpoch: Int { sources(copy: 0).batchesPerEpoch }

    private func sources(copy: Int) -> InMemoryBatchSource {
        InMemoryBatchSource(inputs: cache.copies[copy], targets: cache.copyTargets[copy], batchSize: batchSize,
                            shuffle: shuffle, seed: seed)
    }

    public func batches(epoch: Int) -> AnySequence<Batch> {
        let copy = cache.copies.count == 1 ? 0 : (max(epoch, 1) - 1) % cache.copies.count
        return sources(copy: copy).batches(epoch: epoch)
    }
}
