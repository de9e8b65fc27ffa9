import TensorCore

/// Element-wise a + b (same shape): the residual connection.
public func add(_ a: Var, _ b: Var) -> Var {
    check(a.shape == b.shape, "add: \(a.shape) vs \(b.shape)")
    var y = Tensor(uninitializedShape: a.shape)
    let pa = a.value.pointer, pb = b.value.pointer, py = y.mutablePointer()
    parallelChunks(y.count, minChunk: 1 << 15) { r in for i in r { py[i] = pa[i] + pb[i] } }
    let (ga, gb) = (a.requiresGrad, b.requiresGrad)   // flags, not the Vars: the inputs' values may go
    return Var(y, parents: [a, b], pullback: { g in [ga ? g : nil, gb ? g : nil] },
               reluPullback: { g, out in
                   let m = Activation.relu.gradient(g, output: out, input: nil)
                   return [ga ? m : nil, gb ? m : nil]
               })
}

extension Var {
    public static func + (a: Var, b: Var) -> Var { add(a, b) }
}

/// Concatenation along `axis` (default: channels of NCHW). All other dimensions must agree.
public func concat(_ xs: [Var], axis: Int = 1) -> Var {
    check(!xs.isEmpty, "concat: no inputs")
    let rank = xs[0].shape.count
    check(axis >= 0 && axis < rank, "concat: axis \(axis) for rank \(rank)")
    for x in xs {
        var a = x.shape, b = xs[0].shape
        if a.count == rank { a[axis] = 0; b[axis] = 0 }
        check(a == b, "concat(axis: \(axis)): \(x.shape) vs \(xs[0].shape)")
    }
    let outer = xs[0].shape[..<axis].reduce(1, *), inner = xs[0].shape[(axis + 1)...].reduce(1, *)
    let sizes = xs.map { $0.shape[axis] * inner }
    let total = sizes.reduce(0, +)
    var shape = xs[0].shape
    shape[axis] = xs.map { $0.shape[axis] }.reduce(0, +)
    var y = Tensor(uninitializedShape: shape)
    let dst = y.mutablePointer()
    var offsets: [Int] = []
    var off = 0
    for s in sizes { offsets.append(off); off += s }
    parallelChunks(outer, minChunk: max(1, 16384 / max(1, total))) { r in
        for o in r {
            for (k, x) in xs.enumerated() {
                (dst + o * total + offsets[k]).update(from: x.value.pointer + o * sizes[k], count: sizes[k])
            }
        }
    }
    let needs = xs.map(\.requiresGrad), shapes = xs.map(\.shape)
    return Var(y, parents: xs) { g in
        let gp = g.pointer
        return shapes.indices.map { k -> Tensor? in
            guard needs[k] else { return nil }
            var t = Tensor(uninitializedShape: shapes[k])
            let tp = t.mutablePointer()
            for o in 0..<outer { (tp + o * sizes[k]).update(from: gp + o * total + offsets[k], count: sizes[k]) }
            return t
        }
    }
}

/// Same elements, new shape (shares storage; -1 infers one dimension).
public func reshape(_ x: Var, _ shape: [Int]) -> Var {
    let y = x.value.reshaped(shape)
    let original = x.shape
    return Var(y, parents: [x]) { g in [g.reshaped(original)] }
}

/// [N, ...] -> [N, product of the rest] in row-major (CHW for NCHW) order.
public func flatten(_ x: Var) -> Var {
    check(x.shape.count >= 1, "flatten: scalar input")
    return reshape(x, [x.shape[0], x.shape.dropFirst().reduce(1, *)])
}

/// y = x * mask (the mask already holds 0 or 1/(1-rate)).
public func dropout(_ x: Var, mask: Tensor) -> Var {
    check(mask.shape == x.shape, "dropout: mask \(mask.shape) for input \(x.shape)")
    var y = Tensor(uninitializedShape: x.shape)
    let px = x.value.pointer, pm = mask.pointer, py = y.mutablePointer()
    parallelChunks(y.count, minChunk: 1 << 15) { r in for i in r { py[i] = px[i] * pm[i] } }
    return Var(y, parents: [x]) { g in
        var dx = Tensor(uninitializedShape: g.shape)
        let pg = g.pointer, pd = dx.mutablePointer(), pm = mask.pointer   // captures `mask`, keeping it alive
        parallelChunks(dx.count, minChunk: 1 << 15) { r in for i in r { pd[i] = pg[i] * pm[i] } }
        return [dx]
    }
}

/// Inverted dropout: each element is kept with probability 1 - rate and scaled by 1/(1 - rate).
public func dropout(_ x: Var, rate: Float, rng: inout SeededRandom) -> Var {
    check(rate >= 0 && rate < 1, "dropout: rate \(rate) outside [0, 1)")
    if rate == 0 { return x }
    var mask = Tensor(uninitializedShape: x.shape)
    let p = mask.mutablePointer(), keep = 1 / (1 - rate)
    // 24-bit uniforms compared with the rate; sequential so the mask depends only on the seed.
    let threshold = UInt64((Double(rate) * Double(1 << 24)).rounded())
    for i in 0..<mask.count { p[i] = (rng.next() >> 40) >= threshold ? keep : 0 }
    return dropout(x, mask: mask)
}

/// y + shortcut(x) for a residual block whose shortcut is He et al.'s option A: x subsampled by
/// `stride` (x[:, :, ::s, ::s]) and zero-padded in channels up to y's. One pass, no padded copy;
/// a following ReLU fuses into it.
public func addShortcutA(_ y: Var, _ x: Var, stride s: Int) -> Var {
    check(y.shape.count == 4 && x.shape.count == 4 && s >= 1, "addShortcutA: expected NCHW, got \(y.shape), \(x.shape)")
    let (n, c, h, w) = (y.shape[0], y.shape[1], y.shape[2], y.shape[3])
    let (cin, hin, win) = (x.shape[1], x.shape[2], x.shape[3])
    check(x.shape[0] == n && cin <= c && (hin - 1) / s + 1 == h && (win - 1) / s + 1 == w,
          "addShortcutA: main \(y.shape) vs shortcut \(x.shape) with stride \(s)")
    var out = Tensor(uninitializedShape: y.shape)
    let yp = y.value.pointer, xp = x.value.pointer, op = out.mutablePointer()
    let plane = h * w, inPlane = hin * win
    parallelChunks(n * c, minChunk: max(1, 16384 / max(1, plane))) { r in
        for p in r {
            let (img, ch) = (p / c, p % c)
            let src = yp + p * plane, dst = op + p * plane
            if ch >= cin { dst.update(from: src, count: plane); continue }
            let sx = xp + (img * cin + ch) * inPlane
            if s == 1 { for i in 0..<plane { dst[i] = src[i] + sx[i] }; continue }   // contiguous: vectorises
            for i in 0..<h {
                let row = sx + i * s * win
                for j in 0..<w { dst[i * w + j] = src[i * w + j] + row[j * s] }
            }
        }
    }
    // dL/dx: the gradient at the sampled positions of the first `cin` channels, zero elsewhere.
    func shortcutGradient(_ g: Tensor) -> Tensor {
        if s == 1 && cin == c { return g }
        var dx = Tensor(uninitializedShape: [n, cin, hin, win])
        let gp = g.pointer, dp = dx.mutablePointer()
        parallelChunks(n * cin, minChunk: max(1, 16384 / max(1, inPlane))) { r in
            for p in r {
                let (img, ch) = (p / cin, p % cin)
                let src = gp + (img * c + ch) * plane, dst = dp + p * inPlane
                if s != 1 { dst.initialize(repeating: 0, count: inPlane) }
                for i in 0..<h {
                    let row = dst + i * s * win
                    for j in 0..<w { row[j * s] = src[i * w + j] }
                }
            }
        }
        return dx
    }
    let (gy, gx) = (y.requiresGrad, x.requiresGrad)
    return Var(out, parents: [y, x],
               pullback: { g in [gy ? g : nil, gx ? shortcutGradient(g) : nil] },
               reluPullback: { g, o in
                   let m = Activation.relu.gradient(g, output: o, input: nil)
                   return [gy ? m : nil, gx ? shortcutGradient(m) : nil]
               })
}
