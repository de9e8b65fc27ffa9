import Foundation
import TensorCore

/// Batch tensor storage reused across batches and epochs.
///
/// Why: a fresh 19 MB batch tensor per batch costs a page fault and a kernel page clear for every
/// 4 KB it touches (about 15% of the loader's time when profiled). A storage is handed out again
/// only once the pool holds its sole reference, i.e. every `Batch`/`Tensor` sharing it is gone, so
/// a batch the consumer keeps is never overwritten. A consumer that writes into a batch tensor
/// makes Tensor copy it first (copy-on-write sees the pool's reference); reading is free.
/// Memory: at most `limit` storages stay alive with the loader.
final class BatchBufferPool: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [TensorStorage] = []
    let limit: Int

    init(limit: Int) { self.limit = max(0, limit) }

    /// A storage of `count` floats that nobody else references (contents undefined).
    func take(count: Int) -> TensorStorage {
        lock.lock()
        defer { lock.unlock() }
        var spare: Int?   // a free slot of another size (e.g. the last, partial batch)
        for i in slots.indices where isKnownUniquelyReferenced(&slots[i]) {
            if slots[i].count == count { return slots[i] }   // the caller's reference makes it busy
            spare = spare ?? i
        }
        let fresh = TensorStorage(count: count)
        if slots.count < limit {
            slots.append(fresh)
        } else if let spare {
            slots[spare] = fresh
        }
        return fresh
    }
}

/// Per-worker work memory of the loader, reused for every sample the worker handles.
final class LoaderScratch {
    let augment = AugmentScratch()
    let decode = ImageDecodeScratch()
}
