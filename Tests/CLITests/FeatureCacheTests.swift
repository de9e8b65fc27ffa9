import Foundation
import NN
import TensorCore
import Testing
@testable import Training

/// The cached-feature head phase trains on copies of the trunk features; with a shuffling source every
/// copy (epoch) comes in another order, and each must keep the labels of its own rows.
@Suite struct FeatureCacheTests {
    @Test func everyCachedCopyKeepsItsOwnLabels() throws {
        // Sample i: a 1x2x2 "image" whose pixels all equal its label; the trunk is a Flatten, so a
        // feature row is correct exactly when it equals the label stored beside it.
        let labels = (0..<23).map { ($0 * 7) % 5 }
        let inputs = Tensor(shape: [23, 1, 2, 2], scalars: labels.flatMap { Array(repeating: Float($0), count: 4) })
        let source = InMemoryBatchSource(inputs: inputs, targets: .classes(labels), batchSize: 4, shuffle: true, seed: 9)
        #expect(source.order(epoch: 1) != source.order(epoch: 2), "the source should shuffle per epoch")
        let cache = try FeatureCache.compute(trunk: Flatten(), source: source, copies: 3)
        #expect(cache.copies.count == 3 && cache.copyTargets.count == 3)
        #expect(cache.featureShape == [4])
        for (copy, rows) in cache.copies.enumerated() {
            let features = rows.tensor
            guard case .classes(let rowLabels) = cache.copyTargets[copy] else { Issue.record("not class targets"); continue }
            #expect(rowLabels.count == 23)
            #expect(rowLabels.sorted() == labels.sorted())
            let wrong = rowLabels.indices.filter { features[flat: $0 * 4] != Float(rowLabels[$0]) }
            #expect(wrong.isEmpty, "copy \(copy): \(wrong.count) rows have another sample's label")
        }
        // Epoch e of the cached source trains on copy (e - 1) % 3, with matching labels.
        let cached = CachedFeatureSource(cache: cache, batchSize: 5, shuffle: true, seed: 1)
        for epoch in 1...4 {
            for batch in cached.batches(epoch: epoch) {
                guard case .classes(let l) = batch.targets else { continue }
                for (r, label) in l.enumerated() { #expect(batch.inputs[flat: r * 4] == Float(label), "epoch \(epoch)") }
            }
        }
    }

    @Test func featuresInFilesGiveTheSameBatchesAsInMemoryAndAreRemovedAfter() throws {
        let labels = (0..<19).map { $0 % 3 }
        let inputs = Tensor(shape: [19, 2, 2, 2], scalars: (0..<(19 * 8)).map { Float($0) * 0.5 })
        let source = InMemoryBatchSource(inputs: inputs, targets: .classes(labels), batchSize: 4, shuffle: true, seed: 3)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("graft-features-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let inMemory = try FeatureCache.compute(trunk: Flatten(), source: source, copies: 2)
        var onDisk: FeatureCache? = try FeatureCache.compute(trunk: Flatten(), source: source, copies: 2,
                                                             storage: .files(folder: folder, prefix: "f"))
        let path: String
        do {
            guard case .file(let f) = onDisk!.copies[1] else { Issue.record("copy 1 is not in a file"); return }
            #expect(FileManager.default.fileExists(atPath: f.url.path))
            #expect(f.rowCount == 19 && f.rowShape == [8])
            path = f.url.path
        }
        for epoch in 1...3 {
            let a = Array(CachedFeatureSource(cache: inMemory, batchSize: 5, shuffle: true, seed: 7).batches(epoch: epoch))
            let b = Array(CachedFeatureSource(cache: onDisk!, batchSize: 5, shuffle: true, seed: 7).batches(epoch: epoch))
            #expect(a.count == b.count && a.count == 4)
            for (x, y) in zip(a, b) { #expect(x.inputs.scalars == y.inputs.scalars && x.inputs.shape == y.inputs.shape) }
        }
        onDisk = nil
        #expect(!FileManager.default.fileExists(atPath: path), "the feature file outlived its cache")
    }

    @Test func byteCountsParseAsPeopleWriteThem() {
        #expect(ByteCount.parse("2GiB") == 2 << 30 && ByteCount.parse("512MiB") == 512 << 20)
        #expect(ByteCount.parse("1.5G") == 3 << 29 && ByteCount.parse("800MB") == 800_000_000)
        #expect(ByteCount.parse("4096") == 4096 && ByteCount.parse("12 k") == 12 * 1024)
        #expect(ByteCount.parse("lots") == nil && ByteCount.parse("-1G") == nil && ByteCount.parse("3 parsecs") == nil)
        #expect(RuntimeOptions.defaultCacheMemory(physicalMemory: 24 << 30) == 2 << 30)
        #expect(RuntimeOptions.defaultCacheMemory(physicalMemory: 4 << 30) == 1 << 30)
        #expect(RuntimeOptions(environment: ["GRAFT_CACHE_MEMORY": "64MiB"]).cacheMemory == 64 << 20)
    }
}
