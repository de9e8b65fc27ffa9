import Foundation
import Synchronization

/// Free lists of tensor buffers by size class, so that training steps reuse last step's activation and
/// gradient buffers instead of mapping (and page-faulting) fresh memory for every large tensor.
///
/// Bound: idle bytes never push `live + idle` more than `slackBytes` above the largest live total seen
/// so far, so the pool adds at most that to peak memory; a fresh allocation that would break the bound
/// evicts idle buffers first.
/// Buffers of `MappedPages.minBytes` and more are page mappings: when no idle buffer has the requested
/// class, the pages of idle buffers of other sizes are moved into the new one (`MappedPages`), so a
/// step whose tensor sizes do not repeat in the same order still reuses its resident pages.
/// Buffers below `minBytes` go straight to malloc, which already recycles small blocks well.
/// Contents of a reused buffer are unspecified, exactly as for a fresh `Tensor(uninitializedShape:)`.
public final class StoragePool: @unchecked Sendable {
    /// The pool every `Tensor` uses. Whether it pools is fixed when it is first used: set it before
    /// (`configureShared`, called by `RuntimeOptions.apply` at start-up).
    public static let shared: StoragePool = {
        sharedCreated.store(true, ordering: .sequentiallyConsistent)
        return StoragePool(enabled: sharedEnabled.load(ordering: .sequentiallyConsistent))
    }()
    private static let sharedEnabled = Atomic<Bool>(true)
    private static let sharedCreated = Atomic<Bool>(false)

    /// Whether `shared` pools (`RuntimeOptions.tensorPool`). Only before the first tensor exists: a
    /// pooled buffer must go back to the pool it came from.
    public static func configureShared(enabled: Bool) {
        sharedEnabled.store(enabled, ordering: .sequentiallyConsistent)
        check(!sharedCreated.load(ordering: .sequentiallyConsistent) || shared.enabled == enabled,
              "StoragePool.configureShared(enabled: \(enabled)) after the shared pool was first used")
    }

    /// Smallest pooled request.
    public static let minBytes = 32 << 10

    private let lock = NSLock()
    /// Idle malloc'd buffers (classes below `MappedPages.minBytes`) by class.
    private var free: [Int: [UnsafeMutableRawPointer]] = [:]
    /// Idle mapped buffers by class, and mapped leftovers of any size (tails of split buffers).
    private var freeMapped: [Int: [PageRange]] = [:]
    private var spare: [PageRange] = []
    /// Mapped buffers in use that consist of more than one mapping, by base address.
    private var liveExtents: [UnsafeMutableRawPointer: [Int]] = [:]
    private var liveBytes = 0, idleBytes = 0, peakLiveBytes = 0
    /// false: no pooling (every buffer is allocated and freed as before).
    public let enabled: Bool

    /// Idle bytes allowed above the peak live total: without it, a small net (LeNet: 4.5 MiB live)
    /// settles into a cycle that evicts at its peak and re-faults the same buffers every step.
    public let slackBytes: Int

    /// Leftover pieces smaller than this are unmapped rather than kept.
    private static let minSpareBytes = 64 << 10

    public init(slackBytes: Int = 64 << 20, enabled: Bool = true) { self.slackBytes = slackBytes; self.enabled = enabled }

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
        let mapped = size >= MappedPages.minBytes
        lock.lock()
        liveBytes += size
        if !mapped, var list = free[size], let p = list.popLast() {
            free[size] = list.isEmpty ? nil : list
            idleBytes -= size
            lock.unlock()
            return p
        }
        if mapped, var list = freeMapped[size], let r = list.popLast() {
            freeMapped[size] = list.isEmpty ? nil : list
            idleBytes -= size
            if r.extents.count > 1 { liveExtents[r.base] = r.extents }
            lock.unlock()
            return r.base
        }
        let pieces = mapped ? takeIdlePages(size) : []
        let fresh = size - pieces.reduce(0) { $0 + $1.bytes }
        let victims = fresh > 0 ? evictAboveBound() : Victims()
        peakLiveBytes = max(peakLiveBytes, liveBytes)
        lock.unlock()
        victims.free()
        guard mapped else { return UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64) }
        let range = MappedPages.assemble(size, from: pieces)
        if range.extents.count > 1 { lock.lock(); liveExtents[range.base] = range.extents; lock.unlock() }
        return range.base
    }

    /// Gives back a buffer from `acquire(bytes:)` with the same `bytes`.
    public func release(_ pointer: UnsafeMutableRawPointer, bytes: Int) {
        let size = StoragePool.classBytes(bytes)
        if !enabled || size < StoragePool.minBytes { pointer.deallocate(); return }
        lock.lock()
        liveBytes -= size
        idleBytes += size
        if size >= MappedPages.minBytes {
            let extents = liveExtents.removeValue(forKey: pointer) ?? [size]
            freeMapped[size, default: []].append(PageRange(base: pointer, extents: extents))
        } else {
            free[size, default: []].append(pointer)
        }
        lock.unlock()
    }

    /// Frees every idle buffer and forgets the peak (e.g. between models).
    public func trim() {
        lock.lock()
        let victims = Victims(malloced: free.values.flatMap { $0 }, mapped: freeMapped.values.flatMap { $0 } + spare)
        free.removeAll(); freeMapped.removeAll(); spare.removeAll()
        idleBytes = 0
        peakLiveBytes = liveBytes
        lock.unlock()
        victims.free()
    }

    /// (bytes in live tensors, bytes idle in the pool), for tests and logs.
    public var usage: (live: Int, idle: Int) { lock.lock(); defer { lock.unlock() }; return (liveBytes, idleBytes) }

    // MARK: - Under the lock

    /// Idle buffers to be freed once the lock is released.
    private struct Victims {
        var malloced: [UnsafeMutableRawPointer] = []
        var mapped: [PageRange] = []
        func free() {
            for p in malloced { p.deallocate() }
            for r in mapped { MappedPages.unmap(r) }
        }
    }

    /// Idle mapped pages to make up `size` bytes: the smallest idle range that covers it alone (its
    /// tail kept as a spare), else the largest ones until covered. Removed from the idle set.
    private func takeIdlePages(_ size: Int) -> [PageRange] {
        var candidates = spare
        for list in freeMapped.values { candidates += list }
        guard !candidates.isEmpty else { return [] }
        var chosen: [PageRange] = []
        if let single = candidates.filter({ $0.bytes >= size }).min(by: { $0.bytes < $1.bytes }) {
            chosen = [single]
        } else {
            var total = 0, extents = 0
            for c in candidates.sorted(by: { $0.bytes > $1.bytes }) where total < size {
                if extents + c.extents.count > MappedPages.maxExtents { continue }
                chosen.append(c); total += c.bytes; extents += c.extents.count
            }
        }
        for c in chosen { removeIdle(c) }
        // The last piece may overshoot: keep its tail idle.
        let covered = chosen.reduce(0) { $0 + $1.bytes }
        if covered > size, let last = chosen.popLast() {
            let (head, tail) = last.split(at: last.bytes - (covered - size))
            chosen.append(head)
            if let tail { keepSpare(tail) }
        }
        return chosen
    }

    private func removeIdle(_ r: PageRange) {
        idleBytes -= r.bytes
        if let i = spare.firstIndex(where: { $0.base == r.base }) { spare.remove(at: i); return }
        var list = freeMapped[r.bytes]!
        list.remove(at: list.firstIndex { $0.base == r.base }!)
        freeMapped[r.bytes] = list.isEmpty ? nil : list
    }

    private func keepSpare(_ r: PageRange) {
        if r.bytes < StoragePool.minSpareBytes { MappedPages.unmap(r); return }
        spare.append(r)
        idleBytes += r.bytes
    }

    /// Evicts idle buffers while they would lift memory above the peak: the smallest one that covers
    /// the excess, else the largest (and repeat), so that as few idle bytes as possible are lost.
    private func evictAboveBound() -> Victims {
        var victims = Victims()
        let limit = peakLiveBytes + slackBytes
        while liveBytes + idleBytes > limit, idleBytes > 0 {
            let excess = liveBytes + idleBytes - limit
            var sizes = Set(free.keys).union(freeMapped.keys)
            sizes.formUnion(spare.map(\.bytes))
            guard let victim = sizes.filter({ $0 >= excess }).min() ?? sizes.max() else { break }
            if let r = spare.first(where: { $0.bytes == victim }) {
                removeIdle(r); victims.mapped.append(r)
            } else if let r = freeMapped[victim]?.last {
                removeIdle(r); victims.mapped.append(r)
            } else {
                var list = free[victim]!
                victims.malloced.append(list.removeLast())
                free[victim] = list.isEmpty ? nil : list
                idleBytes -= victim
            }
        }
        return victims
    }
}
