import Foundation
import TensorCore

/// Result of running the input pipeline without a model.
public struct LoaderThroughput: Sendable, CustomStringConvertible {
    public let images: Int
    public let batches: Int
    /// Time spent producing and consuming batches (excludes `setupSeconds`).
    public let seconds: Double
    /// Time spent before the first epoch (dataset scan, cache decode).
    public let setupSeconds: Double
    public var imagesPerSecond: Double { seconds > 0 ? Double(images) / seconds : 0 }

    public var description: String {
        String(format: "%d images in %d batches: %.2f s (%.1f images/s), setup %.2f s",
               images, batches, seconds, imagesPerSecond, setupSeconds)
    }
}

extension BatchLoader {
    /// Pulls every batch of `epochs` epochs through the worker pool and times it.
    public func measureThroughput(epochs: Int = 1, firstEpoch: Int = 0) throws -> LoaderThroughput {
        let start = DispatchTime.now().uptimeNanoseconds
        var images = 0, batchCount = 0
        for epoch in firstEpoch..<(firstEpoch + max(epochs, 0)) {
            let iterator = batches(epoch: epoch)
            while let batch = try iterator.next() {
                images += batch.count; batchCount += 1
            }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return LoaderThroughput(images: images, batches: batchCount, seconds: seconds, setupSeconds: 0)
    }

    /// Decode + augment + batch benchmark over a folder-per-class dataset, for `graft-bench`/`finetune`:
    /// scans `folder`, optionally decodes it into a `DecodedImageCache` (timed as setup), then runs
    /// `epochs` shuffled, augmented epochs.
    public static func benchmark(folder: URL, preprocessing: ImagePreprocessing, augmentation: AugmentationConfig?,
                                 batchSize: Int = 32, epochs: Int = 1, useCache: Bool = true,
                                 workers: Int = Threads.count, seed: UInt64 = 0,
                                 options: DatasetOptions = DatasetOptions(verifyImages: false),
                                 fusedAugment: Bool = true) throws -> LoaderThroughput {
        let start = DispatchTime.now().uptimeNanoseconds
        var dataset = try ImageFolderDataset(folder: folder, options: options)
        var cache: DecodedImageCache?
        if useCache {
            let decoded = try DecodedImageCache(dataset: dataset, pixelFormat: preprocessing.pixelFormat,
                                                maxShorterSide: DecodedImageCache.defaultMaxShorterSide(for: preprocessing),
                                                options: options)
            dataset = decoded.dataset
            cache = decoded
        }
        let setup = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let loader = try BatchLoader(dataset: dataset, preprocessing: preprocessing, augmentation: augmentation,
                                     cache: cache, batchSize: batchSize, shuffle: true, seed: seed, workers: workers,
                                     fusedAugment: fusedAugment)
        let run = try loader.measureThroughput(epochs: epochs)
        return LoaderThroughput(images: run.images, batches: run.batches, seconds: run.seconds, setupSeconds: setup)
    }
}
