import Testing
import TensorCore
@testable import NN

/// Uniform values in [-scale, scale).
func randomTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
    var rng = SeededRandom(seed: seed)
    return Tensor.uniform(shape, limit: scale, rng: &rng)
}

/// Random values with |v| >= margin (keeps ReLU-like kinks out of the finite-difference stencil).
func awayFromZero(_ shape: [Int], seed: UInt64, margin: Float = 0.1) -> Tensor {
    randomTensor(shape, seed: seed).map { $0 >= 0 ? $0 + margin : $0 - margin }
}

/// Distinct values (a shuffled ramp with spacing `step`), so max-pooling windows have clear winners.
func distinctTensor(_ shape: [Int], seed: UInt64, step: Float = 0.05) -> Tensor {
    var rng = SeededRandom(seed: seed)
    let n = Tensor.elementCount(shape)
    var values = (0..<n).map { Float($0 - n / 2) * step }
    values.shuffle(using: &rng)
    return Tensor(shape: shape, scalars: values)
}

/// Finite-difference gradient check. The scalar L = Σ f() ⊙ R (R fixed, random) is differentiated
/// analytically via `backward(seed: R)` and numerically by central differences on every element of
/// every parameter in `params` (sums in Double). Fails if any analytic gradient is missing or differs
/// from the numeric one by more than `tolerance` relative to the largest gradient magnitude, or if
/// the numeric gradient is identically zero (a check that could not fail).
func gradCheck(_ params: [Parameter], eps: Float = 1e-2, tolerance: Double = 1e-2, seed: UInt64 = 99,
               sourceLocation: SourceLocation = #_sourceLocation, _ f: () -> Var) {
    for p in params { p.zeroGrad() }
    let y = f()
    let r = randomTensor(y.shape, seed: seed)
    func loss() -> Double {
        let out = withoutGradients { f() }.value
        var s: Double = 0
        for i in 0..<out.count { s += Double(out[flat: i]) * Double(r[flat: i]) }
        return s
    }
    y.backward(seed: r)
    for (k, p) in params.enumerated() {
        guard let analytic = p.grad else {
            Issue.record("parameter \(k) \(p.shape): no analytic gradient", sourceLocation: sourceLocation)
            continue
        }
        var maxDiff: Double = 0, maxMag: Double = 0
        for i in 0..<p.value.count {
            let v = p.value[flat: i]
            let up = v + eps, down = v - eps
            p.value[flat: i] = up
            let lp = loss()
            p.value[flat: i] = down
            let lm = loss()
            p.value[flat: i] = v
            let numeric = (lp - lm) / (Double(up) - Double(down))
            let a = Double(analytic[flat: i])
            maxDiff = max(maxDiff, abs(a - numeric))
            maxMag = max(maxMag, abs(numeric), abs(a))
        }
        #expect(maxMag > 1e-6, "parameter \(k) \(p.shape): gradient is identically zero", sourceLocation: sourceLocation)
        #expect(maxDiff <= tolerance * max(maxMag, 1e-3),
                "parameter \(k) \(p.shape): max |analytic - numeric| = \(maxDiff), largest gradient \(maxMag)",
                sourceLocation: sourceLocation)
    }
    for p in params { p.zeroGrad() }
}

/// The description of the ShapeError thrown by `body` ("" if none).
func shapeErrorMessage(_ body: () throws -> [Int]) -> String {
    do { _ = try body(); return "" } catch { return "\(error)" }
}

func close(_ a: [Float], _ b: [Float], tol: Float = 1e-5) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tol * max(1, abs($1)) }
}
