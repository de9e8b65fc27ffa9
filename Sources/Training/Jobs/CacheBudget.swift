import Foundation
import ImageIO
import TensorCore

/// The memory a run's caches may hold (`RuntimeOptions.cacheMemory`), shared in order: training
/// images, validation images, then trunk features. What does not fit streams from disk (images) or
/// goes to a file in the run folder (features): the same numbers either way, only memory and speed
/// differ.
final class CacheBudget {
    let limit: Int
    private(set) var used = 0

    init(limit: Int) { self.limit = max(0, limit) }

    var remaining: Int { limit - used }

    /// Reserves `bytes` when they fit in what is left.
    func take(_ bytes: Int) -> Bool {
        guard bytes <= remaining else { return false }
        used += bytes
        return true
    }

    /// The decoded-image cache of `dataset`, or nil (stream from disk) when its estimate does not fit;
    /// `say` gets one line saying which.
    func imageCache(_ dataset: ImageFolderDataset, _ label: String, pixelFormat: PixelFormat, maxShorterSide: Int,
                    say: (String) -> Void) throws -> DecodedImageCache? {
        let estimate = DecodedImageCache.estimatedBytes(dataset: dataset, pixelFormat: pixelFormat, maxShorterSide: maxShorterSide)
        guard take(estimate) else {
            say("cache   \(label) images stream from disk (decoded they would take ~\(ByteCount.describe(estimate)); "
                + "\(ByteCount.describe(remaining)) of the \(ByteCount.describe(limit)) --cache-memory budget left)")
            return nil
        }
        let cache = try DecodedImageCache(dataset: dataset, pixelFormat: pixelFormat, maxShorterSide: maxShorterSide)
        // The estimate came from a sample of headers; hold the budget to what the pixels really take.
        used += cache.byteCount - estimate
        say("cache   \(label) images decoded in memory (\(ByteCount.describe(cache.byteCount)) of the \(ByteCount.describe(limit)) budget)")
        return cache
    }
}
