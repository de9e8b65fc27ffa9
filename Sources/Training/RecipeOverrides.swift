import Foundation
import TensorCore
import Yams

/// A partial recipe: every field optional. It is what a YAML file decodes to before defaults are
/// filled in, and what the command line produces; `Recipe.apply(_:)` lays one over a recipe.
/// Precedence: defaults < recipe file < command-line flags.
public struct RecipeOverrides: Codable, Sendable, Equatable {
    public var model: String?
    public var weights: String?
    public var classes: Int?
    public var data: String?
    public var classNames: [String]?
    public var inputSize: Int?
    public var batchSize: Int?
    public var epochs: Int?
    public var lr: Double?
    public var optimizer: Recipe.OptimizerKind?
    public var momentum: Double?
    public var nesterov: Bool?
    public var weightDecay: Double?
    public var l1: Double?
    public var schedule: Recipe.ScheduleKind?
    public var stepEvery: Int?
    public var stepFactor: Double?
    public var minLR: Double?
    public var warmup: Int?
    public var freeze: Recipe.FreezeSpec?
    public var unfreezeAt: [Recipe.UnfreezeStep]?
    public var trunkLRScale: Double?
    public var dropout: Double?
    public var labelSmoothing: Double?
    public var loss: Recipe.LossKind?
    public var seed: UInt64?
    public var threads: Int?
    public var out: String?
    public var augmentation: Recipe.Augmentation?
    public var preprocess: Preprocessing?
    public var cacheFeatures: CacheCopies?
    public var extend: String?
    public var head: Recipe.Head?
    public var validationSplit: Double?
    public var width: Double?
    public var cifarStem: Bool?
    public var inputChannels: Int?
    public var earlyStopping: Recipe.EarlyStopping?
    public var keepBest: Bool?
    public var lrScaling: Recipe.LRScaling?

    public init() {}

    typealias CodingKeys = Recipe.CodingKeys

    /// Parses `key=value` command-line assignments (keys as flags or YAML keys: `batch-size`,
    /// `--batch-size`, `batch_size`; values in YAML syntax, so `unfreeze-at=[3:layer4, 5:layer3]`
    /// works). Errors name the flag. Repeated `unfreeze-at` entries accumulate.
    public init(assignments: [String]) throws {
        var pairs: [(String, String)] = []
        for a in assignments {
            guard let eq = a.firstIndex(of: "=") else {
                throw RecipeError.invalidValue(key: a, line: nil, message: "expected KEY=VALUE")
            }
            pairs.append((String(a[..<eq]), String(a[a.index(after: eq)...])))
        }
        try self.init(pairs: pairs)
    }

    /// Like `init(assignments:)` with the key/value split done by the caller (e.g. ArgumentParser).
    public init(pairs: [(key: String, value: String)]) throws {
        self.init()
        for (rawKey, value) in pairs {
            var key = rawKey
            while key.hasPrefix("-") { key.removeFirst() }
            key = key.replacingOccurrences(of: "-", with: "_")
            guard Recipe.keys.contains(key) else {
                throw RecipeError.unknownKey(key: rawKey, line: nil, suggestion: closestKey(key, in: Recipe.keys))
            }
            let parsed: RecipeOverrides
            do {
                let trimmed = value.trimmingCharacters(in: .whitespaces)
                if trimmed.hasPrefix("[") || trimmed.hasPrefix("{") {
                    parsed = try Recipe.decodeOverrides(yaml: "\(key): \(value)\n")
                } else {
                    // Built as a node, not text, so values with ':' or '#' stay one plain scalar.
                    let scalar = Node(value)
                    let node: Node = key == "unfreeze_at" ? Node([scalar]) : scalar
                    parsed = try Recipe.decodeOverrides(node: Node([(Node(key), node)]), source: nil)
                }
            } catch RecipeError.invalidValue(_, _, let message) {
                throw RecipeError.invalidValue(key: rawKey, line: nil, message: message)
            } catch RecipeError.unknownKey(let k, _, let s) {
                throw RecipeError.unknownKey(key: "\(rawKey) (\(k))", line: nil, suggestion: s)
            } catch RecipeError.syntax(let message) {
                throw RecipeError.invalidValue(key: rawKey, line: nil, message: message)
            }
            if key == "unfreeze_at", let steps = parsed.unfreezeAt {
                unfreezeAt = (unfreezeAt ?? []) + steps
            } else {
                self = self.merged(with: parsed)
            }
        }
    }

    /// `other`'s set fields win.
    public func merged(with other: RecipeOverrides) -> RecipeOverrides {
        var r = self
        r.model = other.model ?? model; r.weights = other.weights ?? weights; r.classes = other.classes ?? classes
        r.data = other.data ?? data; r.inputSize = other.inputSize ?? inputSize
        r.batchSize = other.batchSize ?? batchSize; r.epochs = other.epochs ?? epochs; r.lr = other.lr ?? lr
        r.optimizer = other.optimizer ?? optimizer; r.momentum = other.momentum ?? momentum
        r.nesterov = other.nesterov ?? nesterov; r.weightDecay = other.weightDecay ?? weightDecay
        r.l1 = other.l1 ?? l1; r.schedule = other.schedule ?? schedule; r.stepEvery = other.stepEvery ?? stepEvery
        r.stepFactor = other.stepFactor ?? stepFactor; r.minLR = other.minLR ?? minLR; r.warmup = other.warmup ?? warmup
        r.freeze = other.freeze ?? freeze; r.unfreezeAt = other.unfreezeAt ?? unfreezeAt
        r.trunkLRScale = other.trunkLRScale ?? trunkLRScale; r.dropout = other.dropout ?? dropout
        r.labelSmoothing = other.labelSmoothing ?? labelSmoothing; r.loss = other.loss ?? loss
        r.seed = other.seed ?? seed; r.threads = other.threads ?? threads; r.out = other.out ?? out
        r.augmentation = other.augmentation ?? augmentation; r.preprocess = other.preprocess ?? preprocess
        r.cacheFeatures = other.cacheFeatures ?? cacheFeatures; r.extend = other.extend ?? extend
        r.head = other.head ?? head; r.validationSplit = other.validationSplit ?? validationSplit
        r.width = other.width ?? width; r.cifarStem = other.cifarStem ?? cifarStem
        r.classNames = other.classNames ?? classNames; r.inputChannels = other.inputChannels ?? inputChannels
        r.earlyStopping = other.earlyStopping ?? earlyStopping; r.keepBest = other.keepBest ?? keepBest
        r.lrScaling = other.lrScaling ?? lrScaling
        return r
    }
}

extension Recipe {
    /// Lays the set fields of `o` over this recipe.
    public mutating func apply(_ o: RecipeOverrides) {
        model = o.model ?? model; weights = o.weights ?? weights; classes = o.classes ?? classes
        data = o.data ?? data; inputSize = o.inputSize ?? inputSize
        batchSize = o.batchSize ?? batchSize; epochs = o.epochs ?? epochs; lr = o.lr ?? lr
        optimizer = o.optimizer ?? optimizer; momentum = o.momentum ?? momentum
        nesterov = o.nesterov ?? nesterov; weightDecay = o.weightDecay ?? weightDecay
        l1 = o.l1 ?? l1; schedule = o.schedule ?? schedule; stepEvery = o.stepEvery ?? stepEvery
        stepFactor = o.stepFactor ?? stepFactor; minLR = o.minLR ?? minLR; warmup = o.warmup ?? warmup
        freeze = o.freeze ?? freeze; unfreezeAt = o.unfreezeAt ?? unfreezeAt
        trunkLRScale = o.trunkLRScale ?? trunkLRScale; dropout = o.dropout ?? dropout
        labelSmoothing = o.labelSmoothing ?? labelSmoothing; loss = o.loss ?? loss
        seed = o.seed ?? seed; threads = o.threads ?? threads; out = o.out ?? out
        augmentation = o.augmentation ?? augmentation; preprocess = o.preprocess ?? preprocess
        cacheFeatures = o.cacheFeatures ?? cacheFeatures; extend = o.extend ?? extend
        head = o.head ?? head; validationSplit = o.validationSplit ?? validationSplit
        width = o.width ?? width; cifarStem = o.cifarStem ?? cifarStem
        classNames = o.classNames ?? classNames; inputChannels = o.inputChannels ?? inputChannels
        earlyStopping = o.earlyStopping ?? earlyStopping; keepBest = o.keepBest ?? keepBest
        lrScaling = o.lrScaling ?? lrScaling
    }

    public func applying(_ o: RecipeOverrides) -> Recipe { var r = self; r.apply(o); return r }
}

/// The known key nearest to `key` by edit distance, if it is close (for "did you mean").
func closestKey(_ key: String, in keys: [String]) -> String? {
    func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        var prev = Array(0...b.count)
        for i in 1...a.count {
            var cur = [i] + Array(repeating: 0, count: b.count)
            for j in stride(from: 1, through: b.count, by: 1) {
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            prev = cur
        }
        return prev[b.count]
    }
    let k = Array(key.lowercased())
    let best = keys.map { ($0, distance(k, Array($0))) }.min { $0.1 < $1.1 }
    guard let (name, d) = best, d <= max(2, key.count / 3) else { return nil }
    return name
}
