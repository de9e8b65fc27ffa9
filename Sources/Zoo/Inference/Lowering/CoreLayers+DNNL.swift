import DNNL
import TensorCore
import NN

// oneDNN lowering of the core kinds: BatchNorm folded into the producing convolution, activations
// fused as post-ops, ZeroPadding2D folded into the next convolution or pooling, the residual add
// fused as a sum post-op into the main branch's last convolution.

extension Conv2DKind: DNNLLowerable {
    public func lower(_ node: String, _ module: Module, _ inputs: [InferenceCompiler.Cursor],
                      _ g: inout DNNLInferenceGraph) throws -> InferenceCompiler.Cursor? {
        guard let conv = module as? Conv2D, inputs.count == 1 else { return nil }
        return try InferenceCompiler.lowerConv(conv, inputs[0], &g)
    }
}

extension BatchNormKind: DNNLLowerable {
    public func lower(_ node: String, _ module: Module, _ inputs: [InferenceCompiler.Cursor],
                      _ g: inout DNNLInferenceGraph) throws -> InferenceCompiler.Cursor? {
        guard let bn = module as? BatchNorm, var c = inputs.first, !bn.usesBatchStatistics, !c.hasPad else { return nil }
        let gamma = bn.weight.value.scalars, beta = bn.bias.value.scalars
        let mean = bn.runningMean.value.scalars, variance = bn.runningVar.value.scalars
        var scale = [Float](repeating: 0, count: bn.channels), shift = scale
        for i in 0..<bn.channels {
            scale[i] = gamma[i] / (variance[i] + bn.epsilon).squareRoot()
            shift[i] = beta[i] - mean[i] * scale[i]
        }
        c.value = try g.affine(c.value, scale: scale, shift: shift)
        c.nonNegative = false
        return c
    }
}

extension ActivationKind: DNNLLowerable {
    public func lower(_ node: String, _ module: Module, _ inputs: [InferenceCompiler.Cursor],
                      _ g: inout DNNLInferenceGraph) throws -> InferenceCompiler.Cursor? {
        guard let a = module as? ActivationLayer, var c = inputs.first, !c.hasPad,
              let f = InferenceCompiler.eltwise(a.activation) else { return nil }
        c.value = try g.activation(c.value, f)
        c.nonNegative = InferenceCompiler.nonNegative(after: f, c.nonNegative)
        return c
    }
}

extension Pool2DKind: DNNLLowerable {
    public func lower(_ node: String, _ module: Module, _ inputs: [InferenceCompiler.Cursor],
                      _ g: inout DNNLInferenceGraph) throws -> InferenceCompiler.Cursor? {
        guard let p = module as? Pool2DLayer, let c = inputs.first else { return nil }
        let isMax = p is MaxPool2D
        guard isMax || p is AvgPool2D else { return nil }
        let geo = try p.geometry(for: c.paddedShape(g))
        var alg: DNNLInferenceGraph.PoolAlgorithm = isMax ? .max : .averageExcludingPadding
        if c.hasPad {
            // Zero padding then a pool: a max over >= 0 values ignores the zeros (every window keeps a
            // real cell, padding < window); an average counts them, with no padding of its own.
            let own = geo.padTop + geo.padBottom + geo.padLeft + geo.padRight
            if isMax { guard c.nonNegative else { return nil } } else {
                guard own == 0 else { return nil }
                alg = .averageIncludingPadding
            }
        }
        let win = c.window(kernel: (geo.kernelHeight, geo.kernelWidth), stride: (geo.strideH, geo.strideW),
                           top: geo.padTop, bottom: geo.padBottom, left: geo.padLeft, right: geo.padRight)
        return InferenceCompiler.Cursor(value: try g.pool(c.value, alg, window: win), nonNegative: c.nonNegative)
    }
}

extension GlobalPool2DKind: DNNLLowerable {
    public func lower(_ node: String, _ module: Module, _ inputs: [InferenceCompiler.Cursor],
                      _ g: inout DNNLInferenceGraph) throws -> InferenceCompiler.Cursor? {
        // keepdims feeds a module (MobileNet's conv_preds) that wants [N, C, 1, 1]: run it as its module.
        guard var c = inputs.first, !c.hasPad, !keepDims else { return nil }
        let s = g.shape(c.value)
        let win = DNNLInferenceGraph.Window(kernel: (s[1], s[2]), stride: (1, 1), top: 0, bottom: 0, left: 0, right: 0)
        c.value = try g.pool(c.value, kind == .max ? .max : .averageExcludingPadding, window: win)
        c.flattened = true
        return c
    }
}

extension ZeroPadding2DKind: DNNLLowerable {
    public func lower(_ node: String, _ module: Module, _ inputs: [InferenceCompiler.Cursor],
                      _ g: inout DNNLInferenceGraph) throws -> InferenceCompiler.Cursor? {
        guard var c = inputs.first else { return nil }
        c.pad = (c.pad.top + top, c.pad.bottom + bottom, c.pad.left + left, c.pad.right + right)
        c.padNodes.append(node)
        return c
    }
}

extension DropoutKind: DNNLLowerable {
    /// The identity in inference.
    public func lower(_ node: String, _ module: Module, _ inputs: [InferenceCompiler.Cursor],
                      _ g: inout DNNLInferenceGraph) throws -> InferenceCompiler.Cursor? {
        guard let d = module as? Dropout, let c = inputs.first, !d.isTraining || d.rate == 0 else { return nil }
        return c
    }
}

extension AddKind: DNNLLowerable {
    /// The later-computed input is the one whose convolution can accumulate the other (a residual sum).
    public func lower(_ node: String, _ module: Module, _ inputs: [InferenceCompiler.Cursor],
                      _ g: inout DNNLInferenceGraph) throws -> InferenceCompiler.Cursor? {
        guard inputs.count == 2, !inputs.contains(where: \.hasPad) else { return nil }
        let (a, b) = inputs[0].value >= inputs[1].value ? (inputs[0], inputs[1]) : (inputs[1], inputs[0])
        return InferenceCompiler.Cursor(value: try g.add(a.value, b.value))
    }
}

extension FlattenKind: DNNLLowerable {}
extension ReshapeKind: DNNLLowerable {}
extension DenseKind: DNNLLowerable {}
extension LocalResponseNormKind: DNNLLowerable {}
extension MultiplyKind: DNNLLowerable {}
