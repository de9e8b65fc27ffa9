import DNNL
import TensorCore

/// 2-D convolution (cross-correlation) over NCHW input with OIHW weights ([O, C/groups, KH, KW]),
/// optional bias [O] and an optional fused activation applied after the bias.
/// The pullback computes the input gradient only if `x.requiresGrad`, and the weight/bias
/// gradients only if those require it, so a frozen trunk below a trainable head costs nothing.
public func conv2d(_ x: Var, _ w: Var, _ b: Var?, _ g: Conv2DGeometry, activation: Activation? = nil) -> Var {
    check(x.shape == g.inputShape, "conv2d: input \(x.shape) does not match geometry \(g.inputShape)")
    check(w.shape == g.weightShape, "conv2d: weight \(w.shape) does not match geometry \(g.weightShape)")
    check(g.outHeight > 0 && g.outWidth > 0, "conv2d: empty output \(g.outputShape) for input \(x.shape)")
    if let b { check(b.shape == [g.outChannels], "conv2d: bias \(b.shape) for \(g.outChannels) output channels") }
    let be = Backends.cpu
    var y = Tensor(uninitializedShape: g.outputShape)
    be.conv2dForward(g, input: x.value.pointer, weight: w.value.pointer, bias: b?.value.pointer, output: y.mutablePointer())
    let parents = b.map { [x, w, $0] } ?? [x, w]
    // Capture only what the pullback reads: the input for dW, the weights for dX, flags otherwise.
    let needX = x.requiresGrad, needW = w.requiresGrad, needBias = b?.requiresGrad ?? false, hasBias = b != nil
    let input: Tensor? = needW ? x.value : nil, weight: Tensor? = needX ? w.value : nil
    return withActivation(activation, &y, parents: parents) { dy in
        var dx: Tensor? = nil, dw: Tensor? = nil, db: Tensor? = nil
        if let weight {
            var t = Tensor(uninitializedShape: g.inputShape)
            be.conv2dBackwardData(g, dOutput: dy.pointer, weight: weight.pointer, dInput: t.mutablePointer())
            dx = t
        }
        if let input {
            var t = Tensor(uninitializedShape: g.weightShape)
            var tb = needBias ? Tensor(uninitializedShape: [g.outChannels]) : nil
            let biasPtr: UnsafeMutablePointer<Float>? = needBias ? tb!.mutablePointer() : nil
            be.conv2dBackwardWeights(g, input: input.pointer, dOutput: dy.pointer, dWeight: t.mutablePointer(), dBias: biasPtr)
            dw = t
            db = tb
        } else if needBias {
            var tb = Tensor(uninitializedShape: [g.outChannels])
            Reductions.channelSums(dy.pointer, batch: g.batch, channels: g.outChannels, spatial: g.outHeight * g.outWidth,
                                   into: tb.mutablePointer())
            db = tb
        }
        return hasBias ? [dx, dw, db] : [dx, dw]
    }
}

/// Convenience: geometry from the input shape, the weight shape, strides and a `Padding`.
public func conv2d(_ x: Var, _ w: Var, _ b: Var?, stride: (Int, Int) = (1, 1), padding: Padding = .valid,
                   groups: Int = 1, activation: Activation? = nil) -> Var {
    check(x.shape.count == 4 && w.shape.count == 4, "conv2d: expected NCHW input and OIHW weight, got \(x.shape), \(w.shape)")
    let p = padding.amounts(height: x.shape[2], width: x.shape[3], kernel: (w.shape[2], w.shape[3]), stride: stride)
    let g = Conv2DGeometry(batch: x.shape[0], inChannels: x.shape[1], inHeight: x.shape[2], inWidth: x.shape[3],
                           outChannels: w.shape[0], kernelHeight: w.shape[2], kernelWidth: w.shape[3],
                           strideH: stride.0, strideW: stride.1,
                           padTop: p.top, padBottom: p.bottom, padLeft: p.left, padRight: p.right, groups: groups)
    return conv2d(x, w, b, g, activation: activation)
}

/// Zero padding of the two spatial axes of NCHW.
public func zeroPad2d(_ x: Var, top: Int, bottom: Int, left: Int, right: Int) -> Var {
    check(x.shape.count == 4, "zeroPad2d: expected NCHW input, got \(x.shape)")
    check(min(top, bottom, left, right) >= 0, "zeroPad2d: negative padding (\(top), \(bottom), \(left), \(right))")
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let oh = h + top + bottom, ow = w + left + right
    var y = Tensor(zeros: [n, c, oh, ow])
    let src = x.value.pointer, dst = y.mutablePointer()
    parallelChunks(n * c, minChunk: max(1, 16384 / max(1, oh * ow))) { r in
        for p in r {
            for row in 0..<h {
                (dst + p * oh * ow + (row + top) * ow + left).update(from: src + p * h * w + row * w, count: w)
            }
        }
    }
    return Var(y, parents: [x]) { g in
        var dx = Tensor(uninitializedShape: [n, c, h, w])
        let gp = g.pointer, dp = dx.mutablePointer()
        parallelChunks(n * c, minChunk: max(1, 16384 / max(1, oh * ow))) { r in
            for p in r {
                for row in 0..<h {
                    (dp + p * h * w + row * w).update(from: gp + p * oh * ow + (row + top) * ow + left, count: w)
                }
            }
        }
        return [dx]
    }
}
