import Foundation

/// A process-wide pool of reusable, 64-byte-aligned work buffers (im2col columns, oneDNN blocked
/// copies, per-worker partial sums). Kernels borrow a buffer for the duration of one call and give
/// it back, so steady-state training allocates nothing and the pages stay faulted in ("primed").
///
/// Thread-safe (one lock around a short free list). The pool keeps at most `maxFree` idle buffers;
/// when a request fits none of them, the smallest idle buffer is freed and a larger one allocated,
/// so the pool converges to "one buffer per concurrent borrower, of the largest size asked for".
public final class ScratchPool: @unchecked Sendable {
    public static let shared = ScratchPool()

    private let lock = NSLock()
    private var free: [(pointer: UnsafeMutableRawPointer, bytes: Int)] = []
    private let maxFree = 8
    private var liveBytes = 0

    public init() {}

    /// Borrows a buffer of at least `bytes` bytes (contents unspecified).
    public func acquire(bytes: Int) -> (pointer: UnsafeMutableRawPointer, bytes: Int) {
        let need = max(64, (bytes + 63) & ~63)
        lock.lock()
        // Best fit among idle buffers.
        var best = -1
        for i in free.indices where free[i].bytes >= need {
            if best < 0 || free[i].bytes < free[best].bytes { best = i }
        }
        if best >= 0 {
            let b = free.remove(at: best)
            lock.unlock()
            return b
        }
        // Nothing fits: drop the smallest idle buffer (it would only fit smaller requests).
        var dropped: UnsafeMutableRawPointer?
        if !free.isEmpty, let i = free.indices.min(by: { free[$0].bytes < free[$1].bytes }) {
            let b = free.remove(at: i)
            liveBytes -= b.bytes
            dropped = b.pointer
        }
        liveBytes += need
        lock.unlock()
        dropped?.deallocate()
        return (UnsafeMutableRawPointer.allocate(byteCount: need, alignment: 64), need)
    }

    /// Returns a buffer obtained from `acquire`.
    public func release(_ buffer: (pointer: UnsafeMutableRawPointer, bytes: Int)) {
        lock.lock()
        free.append(buffer)
        var evict: (pointer: UnsafeMutableRawPointer, bytes: Int)?
        if free.count > maxFree, let i = free.indices.min(by: { free[$0].bytes < free[$1].bytes }) {
            evict = free.remove(at: i)
            liveBytes -= evict!.bytes
        }
        lock.unlock()
        evict?.pointer.deallocate()
    }

    /// Runs `body` with a borrowed buffer of `count` floats.
    @inline(__always)
    public func withFloats<R>(_ count: Int, _ body: (UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
        let b = acquire(bytes: count * MemoryLayout<Float>.stride)
        defer { release(b) }
        return try body(b.pointer.bindMemory(to: Float.self, capacity: count))
    }

    /// Frees every idle buffer (e.g. between models).
    public func trim() {
        lock.lock()
        let victims = free
        free.removeAll()
        for v in victims { liveBytes -= v.bytes }
        lock.unlock()
        for v in victims { v.pointer.deallocate() }
    }

    /// Bytes currently owned by the pool (idle and borrowed).
    public var ownedBytes: Int { lock.lock(); defer { lock.unlock() }; return liveBytes }
}
