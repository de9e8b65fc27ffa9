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
        for (copy, features) in cache.copies.enumerated() {
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
}
