import NN
import TensorCore

/// Turning a recipe into the loop's parts: optimizer, schedule, and which parameters are frozen
/// in which epoch. Layer names are parameter-path prefixes (`layer3`, `features.10`, `fc`).
extension Recipe {
    /// The optimizer with the recipe's decay, L1 and a trunk group: parameters outside
    /// `headPrefixes` train at `lr * trunkLRScale` (they only get gradients once unfrozen).
    public func makeOptimizer(headPrefixes: [String]) -> any Optimizer {
        let isHead: @Sendable (String) -> Bool = { path in
            headPrefixes.contains { path == $0 || path.hasPrefix($0 + ".") }
        }
        let trunk = ParamGroup(lrScale: Float(trunkLRScale)) { !isHead($0) }
        let options = OptimizerOptions(weightDecay: Float(weightDecay), l1: Float(l1), groups: [trunk])
        switch optimizer {
        case .sgd: return SGD(momentum: Float(momentum), nesterov: nesterov && momentum > 0, options: options)
        case .adam: return Adam(options: options)
        case .adamw: return AdamW(options: options)
        }
    }

    /// The learning-rate schedule over `epochs * stepsPerEpoch` steps; `step_every` and `warmup`
    /// are epochs and become `* stepsPerEpoch` steps.
    public func makeSchedule(stepsPerEpoch: Int) -> Schedule {
        check(stepsPerEpoch > 0, "makeSchedule: stepsPerEpoch must be > 0")
        let base = Float(lr)
        let inner: Schedule
        switch schedule {
        case .constant: inner = Schedules.constant(base)
        case .step: inner = Schedules.step(base, factor: Float(stepFactor), every: stepEvery * stepsPerEpoch)
        case .cosine: inner = Schedules.cosine(base, floor: Float(minLR))
        case .onecycle: inner = Schedules.oneCycle(base)
        }
        return Schedules.warmup(warmup * stepsPerEpoch, inner)
    }
}

public enum FreezeError: Error, Equatable, CustomStringConvertible {
    case noSuchLayer(String, option: String)
    public var description: String {
        switch self {
        case let .noSuchLayer(l, option): "\(option): no parameter path starts with '\(l)' (check the layer name)"
        }
    }
}

/// Which trainable parameters are frozen at each epoch, from `freeze` and `unfreeze_at`.
/// Works on the model's parameter paths in declaration order (input to output), so "up to" and
/// "from LAYER on" follow the network's order. Heads are never frozen.
public struct FreezePlan: Sendable, Equatable {
    public let paths: [String]
    public let headPrefixes: [String]
    /// Frozen paths before epoch 1.
    public let initial: Set<String>
    /// 1-based epoch → paths that become trainable before it.
    public let unfreezes: [Int: Set<String>]

    public init(paths: [String], headPrefixes: [String], freeze: Recipe.FreezeSpec,
                unfreezeAt: [Recipe.UnfreezeStep] = []) throws {
        self.paths = paths
        self.headPrefixes = headPrefixes
        func isHead(_ p: String) -> Bool { headPrefixes.contains { p == $0 || p.hasPrefix($0 + ".") } }
        func firstIndex(_ layer: String, _ option: String) throws -> Int {
            guard let i = paths.firstIndex(where: { $0 == layer || $0.hasPrefix(layer + ".") }) else {
                throw FreezeError.noSuchLayer(layer, option: option)
            }
            return i
        }
        let trunk = paths.filter { !isHead($0) }
        switch freeze {
        case .none: initial = []
        case .trunk: initial = Set(trunk)
        case .upTo(let layer):
            _ = try firstIndex(layer, "freeze upto:\(layer)")
            let last = paths.lastIndex { $0 == layer || $0.hasPrefix(layer + ".") }!
            initial = Set(paths[...last].filter { !isHead($0) })
        }
        var plan: [Int: Set<String>] = [:]
        for step in unfreezeAt {
            if step.layer == "all" { plan[step.epoch, default: []].formUnion(trunk); continue }
            let i = try firstIndex(step.layer, "unfreeze_at \(step)")
            plan[step.epoch, default: []].formUnion(paths[i...].filter { !isHead($0) })
        }
        unfreezes = plan
    }

    /// Frozen paths while training `epoch` (1-based).
    public func frozen(atEpoch epoch: Int) -> Set<String> {
        var f = initial
        for (e, paths) in unfreezes where e <= epoch { f.subtract(paths) }
        return f
    }

    /// Sets `isFrozen` on the model's trainable parameters for `epoch`; returns how many are frozen.
    @discardableResult
    public func apply(to model: Module, epoch: Int) -> Int {
        let f = frozen(atEpoch: epoch)
        var n = 0
        for (path, p) in model.namedParameters() where p.kind == .trainable {
            p.isFrozen = f.contains(path)
            if p.isFrozen { n += 1 }
        }
        return n
    }
}
