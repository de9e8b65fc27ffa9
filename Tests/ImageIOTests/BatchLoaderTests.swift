import Foundation
import Testing
@testable import ImageIO
import TensorCore

private func tinyDataset() throws -> ImageFolderDataset {
    try ImageFolderDataset(folder: try Fixtures.tinyFolder(), options: DatasetOptions(warn: Warnings.silent))
}

private func augmentation() -> AugmentationConfig {
    var c = AugmentationConfig()
    c.randomResizedCrop = true; c.horizontalFlip = 0.5; c.rotation = 15; c.brightness = 0.2; c.erasing = 0.3
    return c
}

private func collect(_ loader: BatchLoader, epoch: Int) throws -> [Batch] {
    var out: [Batch] = []
    let iterator = loader.batches(epoch: epoch)
    while let batch = try iterator.next() { out.append(batch) }
    return out
}

@Test func batchesAreNCHWWithLabelsAndCoverTheEpoch() throws {
    let dataset = try tinyDataset()
    let p = ImagePreprocessing(width: 16, height: 12, normalization: .torch)
    let loader = try BatchLoader(dataset: dataset, preprocessing: p, batchSize: 3, shuffle: true, seed: 5)
    let batches = try collect(loader, epoch: 0)
    #expect(batches.map(\.count) == [3, 3, 2] && loader.batchesPerEpoch == 3)
    #expect(batches[0].images.shape == [3, 3, 12, 16])
    #expect(batches.flatMap(\.indices).sorted() == Array(0..<8))
    for batch in batches { #expect(batch.labels == batch.indices.map { dataset.samples[$0].label }) }
    #expect(batches.flatMap(\.indices) == loader.order(epoch: 0))
    #expect(loader.order(epoch: 0) != loader.order(epoch: 1))
    let dropping = try BatchLoader(dataset: dataset, preprocessing: p, batchSize: 3, shuffle: false, dropLast: true)
    #expect(try collect(dropping, epoch: 0).flatMap(\.indices) == Array(0..<6))
}

@Test func resultsDoNotDependOnWorkersOrTheCache() throws {
    let dataset = try tinyDataset()
    let p = ImagePreprocessing(width: 20, height: 20, normalization: .caffe)
    let serial = try BatchLoader(dataset: dataset, preprocessing: p, augmentation: augmentation(), batchSize: 3,
                                 shuffle: true, seed: 11, workers: 1, prefetchBatches: 1)
    let cache = try DecodedImageCache(dataset: dataset)   // no size bound: the same pixels as decoding
    let parallel = try BatchLoader(cache: cache, preprocessing: p, augmentation: augmentation(),
                                   batchSize: 3, shuffle: true, seed: 11, workers: 3)
    for epoch in 0..<2 {
        let a = try collect(serial, epoch: epoch), b = try collect(parallel, epoch: epoch)
        #expect(a.map(\.indices) == b.map(\.indices))
        #expect(a.map(\.images.scalars) == b.map(\.images.scalars), "epoch \(epoch)")
    }
    // A cache of another sample list is refused rather than silently mismatched.
    #expect(throws: ImageIOError.self) {
        try BatchLoader(dataset: dataset.subset([0, 1]), preprocessing: p, cache: cache, batchSize: 2, shuffle: false)
    }
    // Another epoch augments differently; another batch size keeps each sample's augmentation.
    let e0 = try collect(serial, epoch: 0), e1 = try collect(serial, epoch: 1)
    #expect(e0.map(\.images.scalars) != e1.map(\.images.scalars))
    let single = try BatchLoader(dataset: dataset, preprocessing: p, augmentation: augmentation(), batchSize: 1,
                                 shuffle: true, seed: 11)
    // Sample at slot 2 of the first 3-batch == batch 2 of the 1-batches (same order, same sample RNG).
    let third = try single.loadBatch(epoch: 0, batch: 2)
    #expect(third.indices == [e0[0].indices[2]])
    #expect(third.images.scalars == Array(e0[0].images.scalars[(2 * p.sampleSize)..<(3 * p.sampleSize)]))
}

@Test func evaluationLoaderMatchesPreprocessing() throws {
    let dataset = try tinyDataset()
    let p = ImagePreprocessing(width: 8, height: 8, resizeShorterSide: 10, normalization: .tf)
    let loader = try BatchLoader(dataset: dataset, preprocessing: p, augmentation: AugmentationConfig(),
                                 batchSize: 4, shuffle: false)
    #expect(loader.augmenter == nil)
    let batch = try loader.loadBatch(epoch: 3, batch: 1)
    let image = try PNGDecoder.decode(file: dataset.samples[4].file)
    #expect(Array(batch.images.scalars.prefix(p.sampleSize)) == p.apply(image).scalars)
}

@Test func multiLabelBatchesCarryTargets() throws {
    let base = try tinyDataset()
    let samples = base.samples.enumerated().map { i, s in
        ImageSample(file: s.file, label: i % 2, targets: [Float(i % 2), 1, 0.5])
    }
    let dataset = ImageFolderDataset(root: base.root, classNames: ["a", "b", "c"], samples: samples, isMultiLabel: true)
    let loader = try BatchLoader(dataset: dataset, preprocessing: ImagePreprocessing(width: 4, height: 4), batchSize: 2, shuffle: false)
    let batch = try loader.loadBatch(epoch: 0, batch: 1)
    #expect(batch.targets?.shape == [2, 3])
    #expect(batch.targets?.scalars == [0, 1, 0.5, 1, 1, 0.5])
}

@Test func aFileThatDisappearsFailsTheEpochWithItsName() throws {
    let folder = try Fixtures.temporaryFolder("loader")
    defer { try? FileManager.default.removeItem(at: folder) }
    try FileManager.default.createDirectory(at: folder.appendingPathComponent("a"), withIntermediateDirectories: true)
    for name in ["x.png", "y.png"] {
        try FileManager.default.copyItem(at: try Fixtures.tinyFolder().appendingPathComponent("frog/tr0093.png"),
                                         to: folder.appendingPathComponent("a/\(name)"))
    }
    let dataset = try ImageFolderDataset(folder: folder)
    try FileManager.default.removeItem(at: folder.appendingPathComponent("a/y.png"))
    let loader = try BatchLoader(dataset: dataset, preprocessing: ImagePreprocessing(width: 4, height: 4), batchSize: 1, shuffle: false)
    let iterator = loader.batches(epoch: 0)
    #expect(try iterator.next()?.indices == [0])
    let error = #expect(throws: ImageIOError.self) { try iterator.next() }
    #expect(error?.description.contains("y.png") == true)
    #expect(try iterator.next() == nil)
}

@Test func throughputCountsEveryImage() throws {
    let p = ImagePreprocessing(width: 16, height: 16)
    let result = try BatchLoader.benchmark(folder: try Fixtures.tinySplit().appendingPathComponent("train"), preprocessing: p,
                                           augmentation: augmentation(), batchSize: 4, epochs: 2)
    #expect(result.images == 12 && result.batches == 4)
    #expect(result.imagesPerSecond > 0)
}

@Test func reusedBatchBuffersNeverOverwriteABatchTheConsumerKeeps() throws {
    let dataset = try tinyDataset()
    let p = ImagePreprocessing(width: 12, height: 12, normalization: .torch)
    let loader = try BatchLoader(dataset: dataset, preprocessing: p, augmentation: augmentation(), batchSize: 3,
                                 shuffle: true, seed: 3, workers: 2, prefetchBatches: 1)
    let iterator = loader.batches(epoch: 0)
    let kept = try #require(try iterator.next())
    while try iterator.next() != nil {}
    for epoch in 1..<4 { _ = try collect(loader, epoch: epoch) }   // recycles every other buffer
    #expect(kept.images.scalars == (try loader.loadBatch(epoch: 0, batch: 0)).images.scalars)

    // A storage comes back only once nothing else holds it.
    let pool = BatchBufferPool(limit: 2)
    var held: TensorStorage? = pool.take(count: 10)
    let identity = ObjectIdentifier(try #require(held))
    #expect(ObjectIdentifier(pool.take(count: 10)) != identity)
    held = nil
    #expect(ObjectIdentifier(pool.take(count: 10)) == identity)
}

@Test func aBatchWithTwoBadFilesReportsTheFirstInBatchOrder() throws {
    let folder = try Fixtures.temporaryFolder("loader-order")
    defer { try? FileManager.default.removeItem(at: folder) }
    try FileManager.default.createDirectory(at: folder.appendingPathComponent("a"), withIntermediateDirectories: true)
    for name in ["p.png", "q.png", "r.png", "s.png"] {
        try FileManager.default.copyItem(at: try Fixtures.tinyFolder().appendingPathComponent("frog/tr0093.png"),
                                         to: folder.appendingPathComponent("a/\(name)"))
    }
    let dataset = try ImageFolderDataset(folder: folder)
    for name in ["q.png", "s.png"] { try FileManager.default.removeItem(at: folder.appendingPathComponent("a/\(name)")) }
    let loader = try BatchLoader(dataset: dataset, preprocessing: ImagePreprocessing(width: 4, height: 4), batchSize: 4,
                                 shuffle: false, workers: 3)
    let error = #expect(throws: ImageIOError.self) { try loader.batches(epoch: 0).next() }
    #expect(error?.description.contains("q.png") == true)
}
