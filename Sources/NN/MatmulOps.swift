import DNNL
import TensorCore

/// y = f(x · Wᵀ (+ b)): x [N, in], W [out, in], b [out], optional fused activation f. The dense layer's op.
public func linear(_ x: Var, _ w: Var, _ b: Var?, activation: Activation? = nil) -> Var {
    check(x.shape.count == 2 && w.shape.count == 2 && x.shape[1] == w.shape[1],
          "linear: x \(x.shape) vs weight \(w.shape)")
    let n = x.shape[0], inF = x.shape[1], outF = w.shape[0]
    let be = Backends.cpu
    var y = Tensor(uninitializedShape: [n, outF])
    let yp = y.mutablePointer()
    if let b {
        check(b.shape == [outF], "linear: bias \(b.shape) for \(outF) outputs")
        let bp = b.value.pointer
        for r in 0..<n { (yp + r * outF).update(from: bp, count: outF) }
    }
    be.gemm(transA: false, transB: true, m: n, n: outF, k: inF, alpha: 1,
            a: x.value.pointer, b: w.value.pointer, beta: b == nil ? 0 : 1, c: yp)
    let parents = b.map { [x, w, $0] } ?? [x, w]
    // Capture only what the pullback reads: the input for dW, the weights for dX, flags otherwise.
    let input: Tensor? = w.requiresGrad ? x.value : nil, weight: Tensor? = x.requiresGrad ? w.value : nil
    let needBias = b?.requiresGrad ?? false, hasBias = b != nil
    return withActivation(activation, &y, parents: parents) { g in
        var dx: Tensor? = nil, dw: Tensor? = nil, db: Tensor? = nil
        if let weight {
            var t = Tensor(uninitializedShape: [n, inF])
            be.gemm(transA: false, transB: false, m: n, n: inF, k: outF, alpha: 1,
                    a: g.pointer, b: weight.pointer, beta: 0, c: t.mutablePointer())
            dx = t
        }
        if let input {
            var t = Tensor(uninitializedShape: [outF, inF])
            be.gemm(transA: true, transB: false, m: outF, n: inF, k: n, alpha: 1,
                    a: g.pointer, b: input.pointer, beta: 0, c: t.mutablePointer())
            dw = t
        }
        if needBias {
            var t = Tensor(zeros: [outF])
            let tp = t.mutablePointer(), gp = g.pointer
            for r in 0..<n {
                let row = gp + r * outF
                for c in 0..<outF { tp[c] += row[c] }   // vectorises across c
            }
            db = t
        }
        return hasBias ? [dx, dw, db] : [dx, dw]
    }
}
