import Foundation
import TensorCore

/// One mini-batch.
public struct Batch: Sendable {
    /// [N, C, H, W], preprocessed (and augmented, for a training loader).
    public let images: Tensor
    /// Class index per image (-1 for a multi-label sample without any positive class).
    public let labels: [Int]
    /// [N, classes] targets for multi-label datasets; nil otherwise.
    public let targets: Tensor?
    /// Which dataset samples these are.
    public let indices: [Int]
    public var count: Int { indices.count }
}

/// Turns a dataset into batches: seeded shuffling per epoch, decoding (or the in-memory cache),
/// augmentation and NCHW batching on a pool of worker threads running ahead of the consumer.
///
/// Determinism: the order of epoch e is a permutation drawn from (seed, e); sample i of epoch e is
/// augmented with a generator seeded from (seed, e, i). Neither depends on thread scheduling, the
/// worker count, or the batch size.
///
/// ```swift
/// let data = try ImageFolderDataset(folder: URL(fileURLWithPath: "digits"))
/// let loader = try BatchLoader(dataset: data, preprocessing: pipeline, batchSize: 32, shuffle: true)
/// let epoch = loader.batches(epoch: 1)
/// while let batch = try epoch.next() { /* batch.images: [N, C, H, W], batch.labels */ }
/// ```
///
/// Training's `ImageBatchSource(loader:)` hands a loader to its `Trainer`.
public final class BatchLoader: Sendable {
    public let dataset: ImageFolderDataset
    public let cache: DecodedImageCache?
    public let preprocessing: ImagePreprocessing
    /// nil: the deterministic evaluation transform (`preprocessing` only).
    public let augmenter: Augmenter?
    public let batchSize: Int
    public let shuffle: Bool
    public let dropLast: Bool
    public let seed: UInt64
    public let workers: Int
    /// Most batches decoded ahead of the consumer (bounds memory: prefetch x batch tensor).
    public let prefetchBatches: Int
    public let decodeOptions: ImageDecodeOptions
    /// Without a cache: each decoded image is first reduced to this shorter side, exactly as
    /// `DecodedImageCache` would hold it, so streaming gives the cached path's pixels.
    public let streamShorterSide: Int?
    /// Data-parallel training: this process's share of every batch (nil: whole batches).
    public let shard: LoaderShard?
    /// Batch tensors reused once the consumer has dropped them (see `BatchBufferPool`).
    let buffers: BatchBufferPool

    /// - Parameters:
    ///   - dataset: the samples to serve.
    ///   - preprocessing: output size, resize policy, pixel format and normalisation (what the model's
    ///     weights expect).
    ///   - augmentation: nil (or an identity config) for evaluation.
    ///   - cache: decoded images of `dataset` (`DecodedImageCache`); nil decodes files every epoch.
    ///   - batchSize: images per batch (> 0).
    ///   - shuffle: a new seeded order every epoch (training); false keeps the dataset's order.
    ///   - dropLast: leave out a last, smaller batch.
    ///   - seed: seeds the order and the augmentation.
    ///   - workers: decoding threads.
    ///   - prefetchBatches: most batches built ahead of the consumer (default twice the workers).
    ///   - decodeOptions: PNG/JPEG decoding (default: transparency onto `preprocessing.background`, JPEG DCT
    ///     reduction down to twice the output size).
    ///   - streamShorterSide: without a cache, reduce each decoded image to this shorter side first (the
    ///     cache's `maxShorterSide`, so both paths see the same pixels).
    ///   - shard: serve only this share of each batch (the global batch is `batchSize`; order and
    ///     augmentation stay those of the whole batch, so they do not depend on the share).
    /// - Throws: ``ImageIOError/invalidConfiguration(_:)`` for settings that cannot work.
    public init(dataset: ImageFolderDataset, preprocessing: ImagePreprocessing, augmentation: AugmentationConfig? = nil,
                cache: DecodedImageCache? = nil, batchSize: Int, shuffle: Bool, dropLast: Bool = false,
                seed: UInt64 = 0, workers: Int = Threads.count, prefetchBatches: Int? = nil,
                decodeOptions: ImageDecodeOptions? = nil, fusedAugment: Bool = true, streamShorterSide: Int? = nil,
                shard: LoaderShard? = nil) throws {
        try preprocessing.validate()
        guard batchSize > 0 else { throw ImageIOError.invalidConfiguration("batchSize \(batchSize) must be positive") }
        if let shard, batchSize < shard.count {
            throw ImageIOError.invalidConfiguration("batch size \(batchSize) is smaller than the \(shard.count) processes sharing each batch")
        }
        self.shard = shard
        if let cache, cache.dataset.samples != dataset.samples {
            throw ImageIOError.invalidConfiguration("the cache holds a different sample list than the dataset (use cache.dataset)")
        }
        self.dataset = dataset
        self.cache = cache
        self.preprocessing = preprocessing
        self.augmenter = try augmentation.flatMap { $0.isIdentity ? nil : try Augmenter(config: $0, preprocessing: preprocessing, fused: fusedAugment) }
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.dropLast = dropLast
        self.seed = seed
        self.workers = max(1, workers)
        self.prefetchBatches = max(prefetchBatches ?? 2 * max(1, workers), 1)
        // JPEGs decode at libjpeg's DCT reduction that still leaves twice the output size.
        self.decodeOptions = decodeOptions ?? ImageDecodeOptions(
            background: preprocessing.background,
            minimumShorterSide: DecodedImageCache.defaultMaxShorterSide(for: preprocessing))
        // In flight at once: the batches being built or waiting (prefetch) plus the consumer's, and
        // one slot for the smaller last batch so that it does not evict a full-size one.
        self.buffers = BatchBufferPool(limit: self.prefetchBatches + 3)
        self.streamShorterSide = streamShorterSide
    }

    /// A loader over a decoded cache (its dataset is `cache.dataset`, which excludes files that failed
    /// to decode while caching).
    public convenience init(cache: DecodedImageCache, preprocessing: ImagePreprocessing, augmentation: AugmentationConfig? = nil,
                            batchSize: Int, shuffle: Bool, dropLast: Bool = false, seed: UInt64 = 0,
                            workers: Int = Threads.count, prefetchBatches: Int? = nil, fusedAugment: Bool = true) throws {
        try self.init(dataset: cache.dataset, preprocessing: preprocessing, augmentation: augmentation, cache: cache,
                      batchSize: batchSize, shuffle: shuffle, dropLast: dropLast, seed: seed, workers: workers,
                      prefetchBatches: prefetchBatches, fusedAugment: fusedAugment)
    }

    public var batchesPerEpoch: Int {
        // Shared batches: a last batch too small to give every process a sample is left out.
        let keepsLast = !dropLast && dataset.count % batchSize >= (shard?.count ?? 1)
        return dataset.count / batchSize + (keepsLast ? 1 : 0)
    }

    /// Sample order of `epoch`: a seeded permutation, or 0..<n without shuffling.
    public func order(epoch: Int) -> [Int] {
        guard shuffle else { return Array(0..<dataset.count) }
        var rng = SeededRandom(dataSeed: seed, stream: 0x0005_4855_4646_4C45, UInt64(bitPattern: Int64(epoch)))
        return rng.permutation(dataset.count)
    }

    /// The batches of one epoch, produced ahead by the worker pool. Iterate with `next()`; dropping
    /// the returned object stops its workers.
    public func batches(epoch: Int) -> EpochBatches {
        EpochBatches(loader: self, epoch: epoch, order: order(epoch: epoch))
    }

    /// Builds one batch synchronously on the calling thread (the same samples the workers build).
    public func loadBatch(epoch: Int, batch: Int) throws -> Batch {
        try loadBatch(epoch: epoch, indices: batchIndices(order: order(epoch: epoch), batch: batch),
                      scratch: LoaderScratch())
    }

    func batchIndices(order: [Int], batch: Int) -> [Int] {
        let lo = batch * batchSize
        let whole = order[lo..<min(lo + batchSize, order.count)]
        guard let shard else { return Array(whole) }
        return Array(whole[shard.range(of: whole.count).shifted(by: lo)])
    }

    /// `scratch` belongs to the calling thread.
    func loadBatch(epoch: Int, indices: [Int], scratch: LoaderScratch) throws -> Batch {
        let storage = buffers.take(count: indices.count * preprocessing.sampleSize)
        for (slot, index) in indices.enumerated() {
            try loadSample(epoch: epoch, index: index, slot: slot, into: storage, scratch: scratch)
        }
        return batch(indices: indices, images: storage)
    }

    /// Decodes (or takes from the cache) and transforms sample `index` into slot `slot` of `images`.
    /// Workers fill different slots of one storage at the same time; each writes only its own.
    func loadSample(epoch: Int, index: Int, slot: Int, into images: TensorStorage, scratch: LoaderScratch) throws {
        let p = preprocessing
        let image = try self.image(at: index, scratch: scratch.decode)
        let destination = images.pointer + slot * p.sampleSize
        if let augmenter {
            var rng = SeededRandom(dataSeed: seed, stream: UInt64(bitPattern: Int64(epoch)), UInt64(index))
            augmenter.apply(image, rng: &rng, into: destination, scratch: scratch.augment)
        } else {
            p.apply(image, into: destination)
        }
    }

    /// The batch of `indices` whose samples are in `images` (labels and multi-label targets added).
    func batch(indices: [Int], images: TensorStorage) -> Batch {
        let p = preprocessing
        var targets: Tensor?
        if dataset.isMultiLabel {
            let k = dataset.classCount
            var t = Tensor(zeros: [indices.count, k])
            let tp = t.mutablePointer()
            for (slot, index) in indices.enumerated() {
                for (j, v) in dataset.samples[index].targets.enumerated() { tp[slot * k + j] = v }
            }
            targets = t
        }
        return Batch(images: Tensor(shape: [indices.count, p.channels, p.height, p.width], storage: images),
                     labels: indices.map { dataset.samples[$0].label }, targets: targets, indices: indices)
    }

    /// The decoded image of sample `index` (from the cache when there is one).
    public func image(at index: Int) throws -> Image {
        try image(at: index, scratch: ImageDecodeScratch())
    }

    func image(at index: Int, scratch: ImageDecodeScratch) throws -> Image {
        if let cache { return cache.images[index] }
        let image = try ImageDecoder.decode(file: dataset.samples[index].file, as: preprocessing.pixelFormat,
                                            options: decodeOptions, scratch: scratch)
        return DecodedImageCache.reduced(image, maxShorterSide: streamShorterSide)
    }
}

/// The batches of one epoch, in order, built by `loader.workers` threads at most
/// `loader.prefetchBatches` ahead of the consumer: `while let batch = try batches.next() { ... }`.
/// Deliberately not a `Sequence`: a for-in loop could not surface a load error, and an epoch
/// that silently ends early is worse than one that throws.
public final class EpochBatches {
    private let state: PrefetchState

    init(loader: BatchLoader, epoch: Int, order: [Int]) {
        state = PrefetchState(loader: loader, epoch: epoch, order: order)
        for _ in 0..<Swift.min(loader.workers, state.total) {
            let shared = state
            let thread = Thread { shared.work() }
            thread.name = "graft.imageio.loader"
            thread.start()
        }
    }

    deinit { state.cancel() }

    /// The next batch in order; nil after the last. Rethrows a worker's error (e.g. a file that became
    /// unreadable after the dataset scan) and stops the epoch.
    public func next() throws -> Batch? { try state.next() }

    /// Stops the workers early (also done when this object is released).
    public func cancel() { state.cancel() }
}

/// State shared by the consumer and the workers; every field is guarded by `condition`.
/// Workers claim single samples, not whole batches, so at the end of an epoch (and of each batch)
/// every worker helps with the last batch instead of one worker finishing it alone.
private final class PrefetchState: @unchecked Sendable {
    let loader: BatchLoader
    let epoch: Int
    let order: [Int]
    let total: Int
    private let condition = NSCondition()
    private var ready: [Int: Result<Batch, Error>] = [:]
    private var building: [Int: BatchInProgress] = [:]
    private var nextBatch = 0   // the next sample to claim: slot nextSlot of batch nextBatch
    private var nextSlot = 0
    private var nextToHandOut = 0
    private var cancelled = false

    /// A batch whose samples are being written by the workers.
    private final class BatchInProgress {
        let indices: [Int]
        let images: TensorStorage
        var remaining: Int
        var firstError: (slot: Int, error: Error)?   // the lowest slot's, as a serial loader would throw
        init(indices: [Int], images: TensorStorage) {
            self.indices = indices; self.images = images; remaining = indices.count
        }
    }

    init(loader: BatchLoader, epoch: Int, order: [Int]) {
        self.loader = loader; self.epoch = epoch; self.order = order
        total = loader.batchesPerEpoch
    }

    func work() {
        let scratch = LoaderScratch()   // this thread's decode and augmentation buffers
        while true {
            condition.lock()
            while !cancelled && nextBatch < total && nextBatch >= nextToHandOut + loader.prefetchBatches {
                condition.wait()
            }
            if cancelled || nextBatch >= total { condition.unlock(); return }
            let batch = nextBatch, slot = nextSlot
            let job: BatchInProgress
            if let started = building[batch] {
                job = started
            } else {
                let indices = loader.batchIndices(order: order, batch: batch)
                job = BatchInProgress(indices: indices,
                                      images: loader.buffers.take(count: indices.count * loader.preprocessing.sampleSize))
                building[batch] = job
            }
            nextSlot += 1
            if nextSlot == job.indices.count { nextBatch += 1; nextSlot = 0 }
            condition.unlock()

            var failure: Error?
            do {
                try loader.loadSample(epoch: epoch, index: job.indices[slot], slot: slot, into: job.images, scratch: scratch)
            } catch {
                failure = error
            }

            condition.lock()
            if let failure, slot < (job.firstError?.slot ?? Int.max) { job.firstError = (slot, failure) }
            job.remaining -= 1
            if job.remaining == 0 {
                building[batch] = nil
                if let first = job.firstError {
                    ready[batch] = .failure(first.error)
                } else {
                    ready[batch] = .success(loader.batch(indices: job.indices, images: job.images))
                }
                condition.broadcast()
            }
            condition.unlock()
        }
    }

    func next() throws -> Batch? {
        condition.lock()
        defer { condition.unlock() }
        if cancelled || nextToHandOut >= total { return nil }
        var found = ready.removeValue(forKey: nextToHandOut)
        while found == nil {
            condition.wait()
            found = ready.removeValue(forKey: nextToHandOut)
        }
        guard let result = found else { return nil }
        nextToHandOut += 1
        condition.broadcast()
        do {
            return try result.get()
        } catch {
            cancelled = true
            ready.removeAll()
            building.removeAll()
            throw error
        }
    }

    func cancel() {
        condition.lock()
        cancelled = true
        ready.removeAll()
        building.removeAll()
        condition.broadcast()
        condition.unlock()
    }
}

/// Process `index` of `count` takes positions [index * n / count, (index + 1) * n / count) of a batch
/// of n samples (shares differ by at most one).
public struct LoaderShard: Sendable, Equatable {
    public let index: Int
    public let count: Int
    public init(index: Int, count: Int) { self.index = index; self.count = max(1, count) }

    public func range(of n: Int) -> Range<Int> { (index * n / count)..<((index + 1) * n / count) }
}

extension Range where Bound == Int {
    func shifted(by d: Int) -> Range<Int> { (lowerBound + d)..<(upperBound + d) }
}
