import Foundation
import NN
import TensorCore
@testable import Training

/// Mean softmax cross-entropy over a batch, as a tape op (kept local so these tests do not depend
/// on NN's loss file being finished).
func testCrossEntropy(_ logits: Var, _ labels: [Int]) -> Var {
    let n = logits.shape[0], c = logits.shape[1]
    let x = logits.value.pointer
    var probs = Tensor(uninitializedShape: [n, c])
    let p = probs.mutablePointer()
    var total: Double = 0
    for r in 0..<n {
        var mx = -Float.infinity
        for j in 0..<c { mx = max(mx, x[r * c + j]) }
        var s: Float = 0
        for j in 0..<c { p[r * c + j] = Foundation.exp(x[r * c + j] - mx); s += p[r * c + j] }
        for j in 0..<c { p[r * c + j] /= s }
        total -= Double(Foundation.log(max(p[r * c + labels[r]], 1e-30)))
    }
    let loss = Tensor(shape: [1], scalars: [Float(total / Double(n))])
    return Var(loss, parents: [logits]) { g in
        var d = probs.copy()
        let dp = d.mutablePointer()
        let scale = g[flat: 0] / Float(n)
        for r in 0..<n { dp[r * c + labels[r]] -= 1 }
        for i in 0..<(n * c) { dp[i] *= scale }
        return [d]
    }
}

func crossEntropyLoss(_ out: Var, _ targets: Targets) -> Var { testCrossEntropy(out, targets.labels!) }

/// A parameter with fixed value and gradient.
func param(_ values: [Float], grad: [Float]? = nil) -> Parameter {
    let p = Parameter(Tensor(shape: [values.count], scalars: values))
    if let grad { p.grad = Tensor(shape: [grad.count], scalars: grad) }
    return p
}

/// Two Gaussian blobs, linearly separable: class 0 around (-2, -1), class 1 around (2, 1).
func separablePoints(count: Int, seed: UInt64) -> (Tensor, [Int]) {
    var rng = SeededRandom(seed: seed)
    var xs: [Float] = [], ys: [Int] = []
    for i in 0..<count {
        let label = i % 2
        let cx: Float = label == 0 ? -2 : 2, cy: Float = label == 0 ? -1 : 1
        xs += [cx + 0.5 * rng.nextGaussian(), cy + 0.5 * rng.nextGaussian()]
        ys.append(label)
    }
    return (Tensor(shape: [count, 2], scalars: xs), ys)
}

func approxEqual(_ a: [Float], _ b: [Float], tol: Float = 1e-5) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= tol * max(1, abs($1)) }
}

/// A unique temporary directory for file tests.
func temporaryDirectory() -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("graft-training-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
