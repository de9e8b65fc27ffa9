import Foundation
import ImageIO
import TensorCore

/// Adapts ImageIO's threaded `BatchLoader` to the trainer's `BatchSource`. Decoding runs from a
/// `DecodedImageCache`, so a file error can only happen before training starts; a failure while
/// batching is kept in `error` and ends the epoch (the job checks it and stops with the message).
public final class ImageBatchSource: BatchSource, @unchecked Sendable {
    /// The loader the batches come from.
    public let loader: BatchLoader
    /// The error that ended the last epoch early, if any: check it after ``Trainer/fit(_:validation:)``.
    public private(set) var error: Error?

    /// Serves `loader`'s batches (images and class labels, or multi-hot targets for a multi-label dataset).
    public init(loader: BatchLoader) { self.loader = loader }

    public var batchesPerEpoch: Int { loader.batchesPerEpoch }

    public func batches(epoch: Int) -> AnySequence<Batch> {
        let epochBatches = loader.batches(epoch: epoch)
        let isMultiLabel = loader.dataset.isMultiLabel
        return AnySequence(AnyIterator { [weak self] in
            do {
                guard let b = try epochBatches.next() else { return nil }
                if isMultiLabel, let t = b.targets { return Batch(inputs: b.images, targets: .multiHot(t)) }
                return Batch(inputs: b.images, labels: b.labels)
            } catch {
                self?.error = error
                epochBatches.cancel()
                return nil
            }
        })
    }
}
