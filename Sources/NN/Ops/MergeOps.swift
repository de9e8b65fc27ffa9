import TensorCore

/// Element-wise a * b (same shape), Keras `Multiply` (squeeze-and-excitation gates, attention masks).
public func multiply(_ a: Var, _ b: Var) -> Var {
    check(a.shape == b.shape, "multiply: \(a.shape) vs \(b.shape)")
    var y = Tensor(uninitializedShape: a.shape)
    let pa = a.value.pointer, pb = b.value.pointer, py = y.mutablePointer()
    parallelChunks(y.count, minChunk: 1 << 15) { r in for i in r { py[i] = pa[i] * pb[i] } }
    let (ga, gb) = (a.requiresGrad, b.requiresGrad)
    // Each pullback reads only the other factor.
    let av: Tensor? = gb ? a.value : nil, bv: Tensor? = ga ? b.value : nil
    return Var(y, parents: [a, b]) { g in
        let pg = g.pointer
        func times(_ t: Tensor) -> Tensor {
            var out = Tensor(uninitializedShape: g.shape)
            let pt = t.pointer, po = out.mutablePointer()
            parallelChunks(out.count, minChunk: 1 << 15) { r in for i in r { po[i] = pg[i] * pt[i] } }
            return out
        }
        return [bv.map(times), av.map(times)]
    }
}
