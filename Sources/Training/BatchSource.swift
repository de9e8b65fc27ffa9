import TensorCore

/// What a batch's targets are.
public enum Targets: Sendable {
    /// One class index per sample (softmax / euclidean-on-one-hot losses).
    case classes([Int])
    /// `[N, C]` 0/1 (or soft) per-class targets for multi-label (sigmoid) losses.
    case multiHot(Tensor)

    public var count: Int {
        switch self {
        case .classes(let c): c.count
        case .multiHot(let t): t.shape.first ?? 0
        }
    }
}

/// A batch: inputs `[N, ...]` (NCHW images or `[N, F]` cached features) and their targets.
public struct Batch: Sendable {
    public var inputs: Tensor
    public var targets: Targets

    public init(inputs: Tensor, targets: Targets) {
        check(inputs.shape.first == targets.count,
              "Batch: inputs \(inputs.shape) for \(targets.count) targets")
        self.inputs = inputs
        self.targets = targets
    }

    public init(inputs: Tensor, labels: [Int]) { self.init(inputs: inputs, targets: .classes(labels)) }

    public var count: Int { inputs.shape.first ?? 0 }
}

/// Supplies the batches of one epoch. `batches(epoch:)` must be a pure function of the epoch
/// (shuffle with a generator seeded from run seed and epoch), so a resumed run sees exactly the
/// batches an uninterrupted one would have.
public protocol BatchSource {
    /// Batches per epoch; the schedule's total step count is `epochs * batchesPerEpoch`.
    var batchesPerEpoch: Int { get }
    /// The batches of `epoch` (1-based), in order.
    func batches(epoch: Int) -> AnySequence<Batch>
}

/// An in-memory data set cut into batches, reshuffled every epoch from `seed` and the epoch
/// number (deterministic). For tests, cached features, and small data sets.
public struct InMemoryBatchSource: BatchSource, Sendable {
    public let inputs: Tensor
    public let targets: Targets
    public let batchSize: Int
    public let shuffle: Bool
    public let seed: UInt64
    /// Drop a last partial batch (keeps BatchNorm away from 1-sample batches).
    public let dropLast: Bool

    public init(inputs: Tensor, targets: Targets, batchSize: Int, shuffle: Bool = true, seed: UInt64 = 0,
                dropLast: Bool = false) {
        check(inputs.shape.first == targets.count, "InMemoryBatchSource: inputs \(inputs.shape) for \(targets.count) targets")
        check(batchSize > 0, "InMemoryBatchSource: batchSize must be > 0")
        self.inputs = inputs; self.targets = targets; self.batchSize = batchSize
        self.shuffle = shuffle; self.seed = seed; self.dropLast = dropLast
    }

    public var sampleCount: Int { targets.count }

    public var batchesPerEpoch: Int {
        dropLast ? sampleCount / batchSize : (sampleCount + batchSize - 1) / batchSize
    }

    /// The sample order of `epoch` (Fisher-Yates with a stream derived from seed and epoch).
    public func order(epoch: Int) -> [Int] {
        shuffle ? Self.shuffledOrder(count: sampleCount, seed: seed, epoch: epoch) : Array(0..<sampleCount)
    }

    /// 0..<count in the shuffled order of `epoch` (the cached-feature source shares it).
    static func shuffledOrder(count: Int, seed: UInt64, epoch: Int) -> [Int] {
        var idx = Array(0..<count)
        var rng = SeededRandom(seed: seed).derived(UInt64(epoch))
        for i in stride(from: idx.count - 1, to: 0, by: -1) {
            let j = Int(rng.next() % UInt64(i + 1))
            idx.swapAt(i, j)
        }
        return idx
    }

    public func batches(epoch: Int) -> AnySequence<Batch> {
        let order = order(epoch: epoch)
        let n = batchesPerEpoch, size = batchSize
        let inputs = inputs, targets = targets
        return AnySequence((0..<n).lazy.map { b in
            let rows = Array(order[(b * size)..<min(order.count, (b + 1) * size)])
            let x = gatherRows(inputs, rows)
            switch targets {
            case .classes(let c): return Batch(inputs: x, targets: .classes(rows.map { c[$0] }))
            case .multiHot(let t): return Batch(inputs: x, targets: .multiHot(gatherRows(t, rows)))
            }
        })
    }
}

/// Rows `rows` of `t` along the first axis.
func gatherRows(_ t: Tensor, _ rows: [Int]) -> Tensor {
    let rowSize = t.shape.dropFirst().reduce(1, *)
    var out = Tensor(uninitializedShape: [rows.count] + t.shape.dropFirst())
    let d = out.mutablePointer(), s = t.pointer
    for (i, r) in rows.enumerated() { (d + i * rowSize).update(from: s + r * rowSize, count: rowSize) }
    return out
}
