import TensorCore

private func checkPool(_ x: Var, _ g: Pool2DGeometry, _ op: String) {
    check(x.shape == [g.batch, g.channels, g.inHeight, g.inWidth],
          "\(op): input \(x.shape) does not match geometry [\(g.batch), \(g.channels), \(g.inHeight), \(g.inWidth)]")
    check(g.outHeight > 0 && g.outWidth > 0, "\(op): empty output \(g.outputShape) for input \(x.shape)")
}

/// Max pooling; the gradient goes to the (first) maximum of each window. Padded cells never win.
public func maxPool2d(_ x: Var, _ g: Pool2DGeometry) -> Var {
    checkPool(x, g, "maxPool2d")
    var y = Tensor(uninitializedShape: g.outputShape)
    PoolKernels.maxForward(g, input: x.value.pointer, output: y.mutablePointer())
    return Var(y, parents: [x]) { dy in
        var dx = Tensor(uninitializedShape: x.shape)
        PoolKernels.maxBackward(g, input: x.value.pointer, dOutput: dy.pointer, dInput: dx.mutablePointer())
        return [dx]
    }
}

/// Average pooling over the in-bounds cells of each window (Keras 'same' semantics: padding is not counted).
public func avgPool2d(_ x: Var, _ g: Pool2DGeometry) -> Var {
    checkPool(x, g, "avgPool2d")
    var y = Tensor(uninitializedShape: g.outputShape)
    PoolKernels.avgForward(g, input: x.value.pointer, output: y.mutablePointer())
    let shape = x.shape   // the pullback needs the shape only, not the input
    return Var(y, parents: [x]) { dy in
        var dx = Tensor(uninitializedShape: shape)
        PoolKernels.avgBackward(g, dOutput: dy.pointer, dInput: dx.mutablePointer())
        return [dx]
    }
}

/// L2 pooling: sqrt(mean of squares) over the in-bounds cells of each window (TFLite L2_POOL_2D).
public func l2Pool2d(_ x: Var, _ g: Pool2DGeometry) -> Var {
    checkPool(x, g, "l2Pool2d")
    var y = Tensor(uninitializedShape: g.outputShape)
    PoolKernels.l2Forward(g, input: x.value.pointer, output: y.mutablePointer())
    let out = y
    return Var(y, parents: [x]) { dy in
        var dx = Tensor(uninitializedShape: x.shape)
        PoolKernels.l2Backward(g, input: x.value.pointer, output: out.pointer, dOutput: dy.pointer, dInput: dx.mutablePointer())
        return [dx]
    }
}

private func globalShape(_ x: Var, _ op: String) -> (Int, Int) {
    check(x.shape.count == 4 && x.shape[2] * x.shape[3] > 0, "\(op): expected non-empty NCHW input, got \(x.shape)")
    return (x.shape[0] * x.shape[1], x.shape[2] * x.shape[3])
}

/// [N, C, H, W] -> [N, C], mean over H*W.
public func globalAvgPool2d(_ x: Var) -> Var {
    let (planes, size) = globalShape(x, "globalAvgPool2d")
    var y = Tensor(uninitializedShape: [x.shape[0], x.shape[1]])
    PoolKernels.globalAvgForward(input: x.value.pointer, output: y.mutablePointer(), planes: planes, size: size)
    let shape = x.shape   // the pullback needs the shape only, not the input
    return Var(y, parents: [x]) { dy in
        var dx = Tensor(uninitializedShape: shape)
        PoolKernels.globalAvgBackward(dOutput: dy.pointer, dInput: dx.mutablePointer(), planes: planes, size: size)
        return [dx]
    }
}

/// [N, C, H, W] -> [N, C], max over H*W (gradient to the first maximum).
public func globalMaxPool2d(_ x: Var) -> Var {
    let (planes, size) = globalShape(x, "globalMaxPool2d")
    var y = Tensor(uninitializedShape: [x.shape[0], x.shape[1]])
    PoolKernels.globalMaxForward(input: x.value.pointer, output: y.mutablePointer(), planes: planes, size: size)
    return Var(y, parents: [x]) { dy in
        var dx = Tensor(uninitializedShape: x.shape)
        PoolKernels.globalMaxBackward(input: x.value.pointer, dOutput: dy.pointer, dInput: dx.mutablePointer(),
                                      planes: planes, size: size)
        return [dx]
    }
}
