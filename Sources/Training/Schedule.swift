import Foundation
import TensorCore

/// A learning-rate schedule: a pure function of the global optimizer step (0-based) and the total
/// number of steps of the run, so resuming only needs the step counter.
public typealias Schedule = @Sendable (_ step: Int, _ totalSteps: Int) -> Float

/// Schedule constructors. All of them clamp `step` into `0...totalSteps`.
public enum Schedules {
    /// The same rate throughout.
    public static func constant(_ lr: Float) -> Schedule {
        { _, _ in lr }
    }

    /// `lr * factor^(step / every)`: multiply by `factor` every `every` steps (PyTorch `StepLR`,
    /// Caffe "step"). For "every k epochs" pass `k * stepsPerEpoch`.
    public static func step(_ lr: Float, factor: Float, every: Int) -> Schedule {
        check(every > 0, "Schedules.step: every must be > 0, got \(every)")
        return { step, _ in
            lr * Float(Foundation.pow(Double(factor), Double(max(step, 0) / every)))
        }
    }

    /// Cosine annealing from `lr` at step 0 to `floor` at `totalSteps` (SGDR without restarts,
    /// PyTorch `CosineAnnealingLR` with `T_max = totalSteps`).
    public static func cosine(_ lr: Float, floor: Float = 0) -> Schedule {
        { step, total in
            guard total > 0 else { return lr }
            let t = Double(min(max(step, 0), total)) / Double(total)
            return floor + (lr - floor) * Float(0.5 * (1 + Foundation.cos(Double.pi * t)))
        }
    }

    /// Smith's one-cycle policy as in PyTorch `OneCycleLR` (cosine annealing in both phases):
    /// from `maxLR / divFactor` up to `maxLR` over the first `pctStart` of the run, then down to
    /// `maxLR / (divFactor * finalDivFactor)` at the last step (`totalSteps - 1`).
    public static func oneCycle(_ maxLR: Float, pctStart: Double = 0.3, divFactor: Float = 25,
                                finalDivFactor: Float = 1e4) -> Schedule {
        let initial = maxLR / divFactor
        let final = initial / finalDivFactor
        return { step, total in
            guard total > 1 else { return maxLR }
            let s = Double(min(max(step, 0), total - 1))
            let peak = pctStart * Double(total) - 1
            let end = Double(total - 1)
            if s <= peak, peak > 0 {
                return cosineBetween(initial, maxLR, s / peak)
            }
            let span = end - max(peak, 0)
            return cosineBetween(maxLR, final, span > 0 ? (s - max(peak, 0)) / span : 1)
        }
    }

    /// Linear warm-up in front of any schedule: for `step < warmupSteps` the rate is
    /// `inner(0, rest) * (step + 1) / warmupSteps`; afterwards `inner(step - warmupSteps, rest)`
    /// with `rest = totalSteps - warmupSteps`, so a cosine or one-cycle still spans the steps after
    /// warm-up. The ramp never uses a zero rate and reaches the inner schedule's start on its last step.
    public static func warmup(_ warmupSteps: Int, _ inner: @escaping Schedule) -> Schedule {
        guard warmupSteps > 0 else { return inner }
        return { step, total in
            let rest = max(total - warmupSteps, 1)
            if step < warmupSteps {
                return inner(0, rest) * Float(max(step, 0) + 1) / Float(warmupSteps)
            }
            return inner(step - warmupSteps, rest)
        }
    }

    /// Cosine interpolation from `a` (t = 0) to `b` (t = 1).
    static func cosineBetween(_ a: Float, _ b: Float, _ t: Double) -> Float {
        let c = Float(0.5 * (1 + Foundation.cos(Double.pi * min(max(t, 0), 1))))
        return b + (a - b) * c
    }
}
