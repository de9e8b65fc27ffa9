import Foundation
import NN
import TensorCore

/// A group of processes training one model data-parallel (Horovod's design): each takes its share of
/// every global batch and the gradients are summed across the group. `finetune-mpi` provides one
/// over Open MPI (the Distributed module); plain `finetune` has none.
public protocol DataParallelGroup: AnyObject {
    /// This process's index in the group, 0 ..< size; rank 0 alone writes outputs and prints.
    var rank: Int { get }
    var size: Int { get }
    /// Sums `count` floats across the group in place, blocking.
    func sum(_ values: UnsafeMutablePointer<Float>, count: Int)
    /// Starts summing `count` floats in place; `wait` completes it (the buffer must stay alive).
    func startSum(_ values: UnsafeMutablePointer<Float>, count: Int) -> Int
    /// Lets started sums progress (called while backward runs), and waits for one.
    func progress()
    func wait(_ request: Int)
    /// Sums doubles across the group (metrics, sample counts), blocking.
    func sum(_ values: [Double]) -> [Double]
    /// Every rank's value, in rank order.
    func allGather(_ value: UInt64) -> [UInt64]
    /// Ends the whole job after an error on this rank (the others would wait forever).
    func abort(code: Int32)
}

/// The process-wide group, set once at start-up by `finetune-mpi` (nil: a single process).
public enum DataParallel {
    nonisolated(unsafe) public static var group: DataParallelGroup?

    /// True on the process that writes outputs and prints: rank 0, or the only process.
    public static var isLeader: Bool { (group?.rank ?? 0) == 0 }
}

/// Gradient averaging for one optimizer step, in buckets of about `bucketBytes` started as soon as
/// their parameters' gradients are complete during backward, so communication overlaps the rest of
/// backward. Each rank scales its gradient (a mean over its n_r samples) by n_r / N before the sum,
/// so the result is the gradient of the mean over the whole global batch of N samples, exactly what
/// one process computes (to rounding).
public final class BucketedGradientSync {
    public let group: DataParallelGroup
    public let bucketBytes: Int
    private var scale: Float = 1
    private var pending: [Parameter] = []
    private var pendingCount = 0
    private var started: [(request: Int, buffer: UnsafeMutablePointer<Float>, parameters: [Parameter])] = []
    /// Buckets started in the last step (for logs and tests).
    public private(set) var lastBucketCount = 0

    public init(group: DataParallelGroup, bucketBytes: Int = 25 << 20) {
        self.group = group
        self.bucketBytes = max(4, bucketBytes)
    }

    /// Before backward: this rank's sample count; returns the global batch size.
    @discardableResult
    public func begin(localCount: Int) -> Int {
        let total = Int(group.sum([Double(localCount)])[0])
        scale = total > 0 ? Float(localCount) / Float(total) : 0
        pending = []; pendingCount = 0; lastBucketCount = 0
        return total
    }

    /// During backward: `p`'s gradient is complete.
    public func parameterReady(_ p: Parameter) {
        guard let g = p.grad else { return }
        pending.append(p)
        pendingCount += g.count
        if pendingCount * 4 >= bucketBytes { startBucket() }
        if !started.isEmpty { group.progress() }
    }

    /// After backward: waits for every bucket and writes the averaged gradients back.
    public func finish() {
        startBucket()
        for s in started {
            group.wait(s.request)
            var offset = 0
            for p in s.parameters {
                guard var g = p.grad else { continue }
                let n = g.count
                let dst = g.mutablePointer()
                for i in 0..<n { dst[i] = s.buffer[offset + i] }
                offset += n
                p.grad = g
            }
            s.buffer.deallocate()
        }
        started = []
    }

    private func startBucket() {
        guard !pending.isEmpty else { return }
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: pendingCount)
        var offset = 0
        for p in pending {
            guard let g = p.grad else { continue }
            let src = g.pointer
            for i in 0..<g.count { buffer[offset + i] = src[i] * scale }
            offset += g.count
        }
        started.append((group.startSum(buffer, count: offset), buffer, pending))
        lastBucketCount += 1
        pending = []; pendingCount = 0
    }
}
