import Foundation

/// Free lists of tensor buffers by size class, so that training steps reuse last step's activation and
/// gradient buffers instead of mapping (and page-faulting) fresh memory for every large tensor.
///
/// Bound: idle bytes never push `live + idle` more than `slackBytes` above the largest live total seen
/// so far, so the pool adds at most that to peak memory; a fresh allocation that would break the bound
/// evicts idle buffers first.
/// Buffers below `minBytes` go straight to malloc, which already recycles small blocks well.
/// Contents of a reused buffer are unspecified, exactly as for a fresh `Tensor(uninitializedShape:)`.
public final class StoragePool: @unchecked Sendable {
    public static let shared = StoragePool()

    /// Smallest pooled request.
    public static let minBytes = 32 << 10

    private let lock = NSLock()
    private var free: [Int: [UnsafeMutableRawPointer]] = [:]
    private var liveBytes = 0, idleBytes = 0, peakLiveBytes = 0
    /// `GRAFT_TENSOR_POOL=0` turns pooling off (every buffer is mapped and freed as before).
    private let enabled = ProcessInfo.processInfo.environment["GRAFT_TENSOR_POOL"] != "0"

    /// Idle bytes allowed above the peak live total: without it, a small net (LeNet: 4.5 MiB live)
    /// settles into a cycle that evicts at its peak and re-faults the same buffers every step.
    public let slackBytes: Int

    public init(slackBytes: Int = 64 << 20) { self.slackBytes = slackBytes }


    /// The byte count actually reserved for a request: rounded up to 1/16 of its power of two (at most
    /// 6.25% slack), so that slightly different shapes share a class.
    public static func classBytes(_ bytes: Int) -> Int {
        if bytes < minBytes { return max(64, (bytes + 63) & ~63) }
        let top = Int.bitWidth - 1 - bytes.leadingZeroBitCount
        let step = 1 << (top - 4)
        return (bytes + step - 1) / step * step
    }

    /// A 64-byte aligned buffer of exactly `classBytes(bytes)` bytes.
    public func acquire(bytes: Int) -> UnsafeMutableRawPointer {
        let size = StoragePool.classBytes(bytes)
        if !enabled || size < StoragePool.minBytes {
            return UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        }
        lock.lock()
        liveBytes += size
        if var list = free[size], let p = list.popLast() {
            free[size] = list.isEmpty ? nil : list
            idleBytes -= size
            lock.unlock()
            return p
        }
        // Evict idle buffers while they would lift memory above the peak: the smallest one that covers
        // the excess, else the largest (and repeat), so that as few idle bytes as possible are lost.
        var victims: [UnsafeMutableRawPointer] = []
        let limit = peakLiveBytes + slackBytes
        while liveBytes + idleBytes > limit, idleBytes > 0 {
            let excess = liveBytes + idleBytes - limit
            guard let victim = free.keys.filter({ $0 >= excess }).min() ?? free.keys.max() else { break }
            var list = free[victim]!
            victims.append(list.removeLast())
            free[victim] = list.isEmpty ? nil : list
            idleBytes -= victim
        }
        peakLiveBytes = max(peakLiveBytes, liveBytes)
        lock.unlock()
        for v in victims { v.deallocate() }
        return UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
    }

    /// Gives back a buffer from `acquire(bytes:)` with the same `bytes`.
    public func release(_ pointer: UnsafeMutableRawPointer, bytes: Int) {
        let size = StoragePool.classBytes(bytes)
        if !enabled || size < StoragePool.minBytes { pointer.deallocate(); return }
        lock.lock()
        liveBytes -= size
        idleBytes += size
        free[size, default: []].append(pointer)
        lock.unlock()
    }

    /// Frees every idle buffer and forgets the peak (e.g. between models).
    public func trim() {
        lock.lock()
        let victims = free.values.flatMap { $0 }
        free.removeAll()
        idleBytes = 0
        peakLiveBytes = liveBytes
        lock.unlock()
        for v in victims { v.deallocate() }
    }

    /// (bytes in live tensors, bytes idle in the pool), for tests and logs.
    public var usage: (live: Int, idle: Int) { lock.lock(); defer { lock.unlock() }; return (liveBytes, idleBytes) }
}
