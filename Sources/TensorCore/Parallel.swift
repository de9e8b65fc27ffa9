import Foundation

/// Box that lets a non-Sendable closure cross into `concurrentPerform` (Swift 6 requires @Sendable).
/// Safe because `concurrentPerform` returns only after every iteration has finished.
private struct UncheckedSendable<T>: @unchecked Sendable { let value: T }

public enum Threads {
    /// Worker count for element-wise and batch-parallel kernels. Set once at start-up (e.g. from --threads).
    nonisolated(unsafe) public static var count: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)
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
