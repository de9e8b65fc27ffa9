import DNNL
import TensorCore
import NN

/// The output layer after `ZooModel.extendHead(by:)`: a dense layer with one [N+M, in] weight and [N+M]
/// bias (paths stay `predictions.weight` / `predictions.bias`, a Keras Dense kernel for the importer),
/// whose forward pass computes each original block of rows with exactly the GEMM call the layer made
/// before it was extended. BLAS kernels accumulate differently for different output widths, so a plain
/// wider `Dense` changes the old logits in the last bits; this one keeps them bit-identical.
/// Gradients are those of an ordinary dense layer.
public final class ExtendedDense: Module, Layer {
    public let weight: Parameter
    public let bias: Parameter?
    public let inputSize: Int
    public let outputSize: Int
    /// Row counts of the blocks computed separately: the original outputs first, then each extension.
    public let segments: [Int]
    public var fusedActivation: Activation?

    public init(weight: Tensor, bias: Tensor?, segments: [Int], fusedActivation: Activation?) {
        check(weight.rank == 2 && segments.reduce(0, +) == weight.shape[0] && segments.allSatisfy { $0 > 0 },
              "ExtendedDense: weight \(weight.shape) vs segments \(segments)")
        check(bias == nil || bias!.shape == [weight.shape[0]], "ExtendedDense: bias \(bias!.shape) for weight \(weight.shape)")
        self.weight = Parameter(weight)
        self.bias = bias.map { Parameter($0) }
        self.outputSize = weight.shape[0]
        self.inputSize = weight.shape[1]
        self.segments = segments
        self.fusedActivation = fusedActivation
    }

    public func callAsFunction(_ x: Var) -> Var {
        check(x.shape.count == 2 && x.shape[1] == inputSize,
              "ExtendedDense(\(inputSize)->\(outputSize)): expected input [N, \(inputSize)], got \(x.shape)")
        let n = x.shape[0], inF = inputSize, outF = outputSize
        var y = Tensor(uninitializedShape: [n, outF])
        let yp = y.mutablePointer()
        var r0 = 0
        for seg in segments {
            // The same call `linear` made for a [seg, in] layer: rows prefilled with the bias, beta 1.
            var t = Tensor(uninitializedShape: [n, seg])
            let tp = t.mutablePointer()
            if let b = bias {
                let bp = b.value.pointer + r0
                for r in 0..<n { (tp + r * seg).update(from: bp, count: seg) }
            }
            Backends.cpu.gemm(transA: false, transB: true, m: n, n: seg, k: inF, alpha: 1,
                              a: x.value.pointer, b: weight.value.pointer + r0 * inF, beta: bias == nil ? 0 : 1, c: tp)
            for r in 0..<n { (yp + r * outF + r0).update(from: tp + r * seg, count: seg) }
            r0 += seg
        }
        let w = Var(weight), b = bias.map { Var($0) }
        let logits: Var
        if GradientMode.isEnabled && (x.requiresGrad || w.requiresGrad || (b?.requiresGrad ?? false)) {
            // The tape of an ordinary dense layer (same values up to rounding) carries the gradients.
            let full = linear(x, w, b)
            logits = Var(y, parents: [full]) { g in [g] }
        } else {
            logits = Var(y)
        }
        return fusedActivation.map { activation(logits, $0) } ?? logits
    }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        guard inputShape.count == 2, inputShape[1] == inputSize else {
            throw ShapeError.invalidInput(layer: "ExtendedDense(\(inputSize)->\(outputSize))", input: inputShape,
                                          reason: "expected [N, \(inputSize)]")
        }
        return [inputShape[0], outputSize]
    }
}
