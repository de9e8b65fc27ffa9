import Foundation
import Synchronization

/// Box that lets a non-Sendable closure cross into `concurrentPerform` (Swift 6 requires @Sendable).
/// Safe because `concurrentPerform` returns only after every iteration has finished.
private struct UncheckedSendable<T>: @unchecked Sendable { let value: T }

public enum Threads {
    /// Worker count for element-wise and batch-parallel kernels: one per core unless set at start-up
    /// (`RuntimeOptions.apply`, a recipe's `threads`). Process-wide by nature, like the OpenMP and
    /// OpenBLAS thread counts the kernels also set from it, so an atomic value set explicitly rather
    /// than a parameter of every kernel.
    public static var count: Int {
        get { stored.load(ordering: .relaxed) }
        set { stored.store(max(1, newValue), ordering: .relaxed) }
    }
    private static let stored = Atomic<Int>(RuntimeEnvironment.processorCount)
}

/// Runs `body(i)` for i in 0..<n on up to `Threads.count` workers; serial when n == 1 or one thread.
public func parallelFor(_ n: Int, _ body: (Int) -> Void) {
    if n <= 0 { return }
    if n == 1 || Threads.count == 1 {
        for i in 0..<n { body(i) }
        return
    }
    withoutActuallyEscaping(body) { escaping in
        let box = UncheckedSendable(value: escaping)
        DispatchQueue.concurrentPerform(iterations: n) { i in box.value(i) }
    }
}

/// Splits 0..<total into at most `Threads.count` contiguous chunks (each at least `minChunk` long)
/// and runs `body(range)` for each in parallel.
public func parallelChunks(_ total: Int, minChunk: Int = 4096, _ body: (Range<Int>) -> Void) {
    if total <= 0 { return }
    let chunks = max(1, min(Threads.count, total / max(minChunk, 1)))
    if chunks == 1 { body(0..<total); return }
    let size = (total + chunks - 1) / chunks
    parallelFor(chunks) { c in
        let lo = c * size
        let hi = min(total, lo + size)
        if lo < hi { body(lo..<hi) }
    }
}
