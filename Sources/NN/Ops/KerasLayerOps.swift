import TensorCore

// Ops of the Keras layers people's CNNs use besides the core ones: element-wise merges, per-channel
// affine maps (Rescaling, Normalization), PReLU, cropping, nearest up-sampling and dilated kernels.
// Each has its pullback; NNTests check them by finite differences.

/// a − b (same shape), Keras `Subtract`.
public func subtract(_ a: Var, _ b: Var) -> Var {
    check(a.shape == b.shape, "subtract: \(a.shape) vs \(b.shape)")
    var y = Tensor(uninitializedShape: a.shape)
    let pa = a.value.pointer, pb = b.value.pointer, py = y.mutablePointer()
    parallelChunks(y.count, minChunk: 1 << 15) { r in for i in r { py[i] = pa[i] - pb[i] } }
    let (ga, gb) = (a.requiresGrad, b.requiresGrad)
    return Var(y, parents: [a, b]) { g in [ga ? g : nil, gb ? scaledTensor(g, -1) : nil] }
}

/// x · s.
public func scaled(_ x: Var, _ s: Float) -> Var {
    Var(scaledTensor(x.value, s), parents: [x]) { g in [scaledTensor(g, s)] }
}

func scaledTensor(_ t: Tensor, _ s: Float) -> Tensor {
    var y = Tensor(uninitializedShape: t.shape)
    let p = t.pointer, py = y.mutablePointer()
    parallelChunks(y.count, minChunk: 1 << 15) { r in for i in r { py[i] = p[i] * s } }
    return y
}

/// The element-wise maximum of same-shaped inputs (Keras `Maximum`); the gradient goes to the first
/// input holding the maximum.
public func maximum(_ xs: [Var]) -> Var {
    check(xs.count >= 1 && xs.allSatisfy { $0.shape == xs[0].shape }, "maximum: shapes \(xs.map(\.shape))")
    let n = xs[0].value.count
    var y = Tensor(uninitializedShape: xs[0].shape)
    var winner = [Int32](repeating: 0, count: n)
    let py = y.mutablePointer()
    let inputs = xs.map(\.value)
    winner.withUnsafeMutableBufferPointer { w in
        let wp = w.baseAddress!
        let ptrs = inputs.map(\.pointer)
        parallelChunks(n, minChunk: 1 << 14) { r in
            for i in r {
                var best = ptrs[0][i], k: Int32 = 0
                for j in 1..<ptrs.count where ptrs[j][i] > best { best = ptrs[j][i]; k = Int32(j) }
                py[i] = best; wp[i] = k
            }
        }
    }
    let needs = xs.map(\.requiresGrad), shape = xs[0].shape
    return Var(y, parents: xs) { g in
        let pg = g.pointer
        return needs.enumerated().map { j, need -> Tensor? in
            guard need else { return nil }
            var d = Tensor(uninitializedShape: shape)
            let pd = d.mutablePointer()
            for i in 0..<n { pd[i] = winner[i] == Int32(j) ? pg[i] : 0 }
            return d
        }
    }
}

/// y = x·scale[c] + shift[c] over the channel axis (axis 1) of [N, C, ...]; one value broadcasts to
/// every channel. Constants: no gradient for them (Keras `Rescaling`, `Normalization`).
public func channelAffine(_ x: Var, scale: [Float], shift: [Float]) -> Var {
    check(x.shape.count >= 2, "channelAffine: expected [N, C, ...], got \(x.shape)")
    let (o, c, inner) = (x.shape[0], x.shape[1], x.shape.dropFirst(2).reduce(1, *))
    check((scale.count == 1 || scale.count == c) && (shift.count == 1 || shift.count == c),
          "channelAffine: \(scale.count) scales, \(shift.count) shifts for \(c) channels")
    func at(_ v: [Float], _ ch: Int) -> Float { v.count == 1 ? v[0] : v[ch] }
    func apply(_ t: Tensor, withShift: Bool) -> Tensor {
        var y = Tensor(uninitializedShape: t.shape)
        let p = t.pointer, py = y.mutablePointer()
        parallelChunks(o * c, minChunk: max(1, 16384 / max(1, inner))) { r in
            for row in r {
                let ch = row % c, s = at(scale, ch), b = withShift ? at(shift, ch) : 0
                let base = row * inner
                for i in 0..<inner { py[base + i] = p[base + i] * s + b }
            }
        }
        return y
    }
    return Var(apply(x.value, withShift: true), parents: [x]) { g in [apply(g, withShift: false)] }
}

/// Keras `PReLU`: y = x for x > 0, alpha·x otherwise. `alpha` has the per-image shape of `x` ([C, H,
/// W] or [C]) with any axis of size 1 shared (Keras `shared_axes`).
public func prelu(_ x: Var, _ alpha: Var) -> Var {
    let s = Array(x.shape.dropFirst()), a = alpha.shape
    check(a.count == s.count && zip(a, s).allSatisfy { $0 == $1 || $0 == 1 }, "prelu: alpha \(a) for input \(x.shape)")
    let per = s.reduce(1, *), batch = x.shape[0]
    // Index of alpha for each position of one image.
    var map = [Int](repeating: 0, count: per)
    var strides = [Int](repeating: 1, count: a.count)
    for i in stride(from: a.count - 2, through: 0, by: -1) { strides[i] = strides[i + 1] * a[i + 1] }
    var sStrides = [Int](repeating: 1, count: s.count)
    for i in stride(from: s.count - 2, through: 0, by: -1) { sStrides[i] = sStrides[i + 1] * s[i + 1] }
    for p in 0..<per {
        var rest = p, k = 0
        for d in 0..<s.count { let v = rest / sStrides[d]; rest %= sStrides[d]; if a[d] != 1 { k += v * strides[d] } }
        map[p] = k
    }
    var y = Tensor(uninitializedShape: x.shape)
    let px = x.value.pointer, pa = alpha.value.pointer, py = y.mutablePointer()
    parallelChunks(batch, minChunk: 1) { r in
        for n in r { for p in 0..<per { let v = px[n * per + p]; py[n * per + p] = v > 0 ? v : pa[map[p]] * v } }
    }
    let xv = x.value, av = alpha.value, needX = x.requiresGrad, needA = alpha.requiresGrad, aShape = a
    return Var(y, parents: [x, alpha]) { g in
        let pg = g.pointer, px = xv.pointer, pa = av.pointer
        var dx: Tensor? = nil, da: Tensor? = nil
        if needX {
            var t = Tensor(uninitializedShape: xv.shape)
            let pt = t.mutablePointer()
            for n in 0..<batch { for p in 0..<per { let i = n * per + p; pt[i] = px[i] > 0 ? pg[i] : pa[map[p]] * pg[i] } }
            dx = t
        }
        if needA {
            var t = Tensor(zeros: aShape)
            let pt = t.mutablePointer()
            for n in 0..<batch { for p in 0..<per { let i = n * per + p; if px[i] <= 0 { pt[map[p]] += pg[i] * px[i] } } }
            da = t
        }
        return [dx, da]
    }
}

/// Removes rows and columns at the edges of NCHW (Keras `Cropping2D`).
public func crop2d(_ x: Var, top: Int, bottom: Int, left: Int, right: Int) -> Var {
    check(x.shape.count == 4, "crop2d: expected NCHW input, got \(x.shape)")
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let oh = h - top - bottom, ow = w - left - right
    check(min(top, bottom, left, right) >= 0 && oh > 0 && ow > 0, "crop2d: cropping (\(top), \(bottom), \(left), \(right)) of \(h)x\(w)")
    var y = Tensor(uninitializedShape: [n, c, oh, ow])
    let src = x.value.pointer, dst = y.mutablePointer()
    parallelChunks(n * c, minChunk: max(1, 16384 / max(1, h * w))) { r in
        for p in r { for row in 0..<oh { (dst + (p * oh + row) * ow).update(from: src + p * h * w + (row + top) * w + left, count: ow) } }
    }
    return Var(y, parents: [x]) { g in
        var dx = Tensor(zeros: [n, c, h, w])
        let gp = g.pointer, dp = dx.mutablePointer()
        for p in 0..<(n * c) { for row in 0..<oh { (dp + p * h * w + (row + top) * w + left).update(from: gp + (p * oh + row) * ow, count: ow) } }
        return [dx]
    }
}

/// Nearest-neighbour up-sampling of NCHW by whole factors (Keras `UpSampling2D`, interpolation nearest).
public func upsampleNearest2d(_ x: Var, height sh: Int, width sw: Int) -> Var {
    check(x.shape.count == 4 && sh > 0 && sw > 0, "upsampleNearest2d: input \(x.shape), factors \(sh)x\(sw)")
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let oh = h * sh, ow = w * sw
    var y = Tensor(uninitializedShape: [n, c, oh, ow])
    let src = x.value.pointer, dst = y.mutablePointer()
    parallelChunks(n * c, minChunk: max(1, 16384 / max(1, oh * ow))) { r in
        for p in r { for i in 0..<oh { for j in 0..<ow { dst[(p * oh + i) * ow + j] = src[(p * h + i / sh) * w + j / sw] } } }
    }
    return Var(y, parents: [x]) { g in
        var dx = Tensor(zeros: [n, c, h, w])
        let gp = g.pointer, dp = dx.mutablePointer()
        for p in 0..<(n * c) { for i in 0..<oh { for j in 0..<ow { dp[(p * h + i / sh) * w + j / sw] += gp[(p * oh + i) * ow + j] } } }
        return [dx]
    }
}

/// An OIHW kernel with `dilation − 1` zeros between its taps: a dilated convolution is the ordinary
/// convolution with this kernel. The pullback gathers the taps' gradients.
public func dilateKernel(_ w: Var, _ dilation: Int) -> Var {
    check(w.shape.count == 4 && dilation >= 1, "dilateKernel: kernel \(w.shape), dilation \(dilation)")
    if dilation == 1 { return w }
    let (o, i, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
    let eh = (kh - 1) * dilation + 1, ew = (kw - 1) * dilation + 1
    var y = Tensor(zeros: [o, i, eh, ew])
    let src = w.value.pointer, dst = y.mutablePointer()
    for p in 0..<(o * i) { for a in 0..<kh { for b in 0..<kw { dst[(p * eh + a * dilation) * ew + b * dilation] = src[(p * kh + a) * kw + b] } } }
    return Var(y, parents: [w]) { g in
        var dw = Tensor(uninitializedShape: [o, i, kh, kw])
        let gp = g.pointer, dp = dw.mutablePointer()
        for p in 0..<(o * i) { for a in 0..<kh { for b in 0..<kw { dp[(p * kh + a) * kw + b] = gp[(p * eh + a * dilation) * ew + b * dilation] } } }
        return [dw]
    }
}
