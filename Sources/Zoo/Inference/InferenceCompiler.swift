import DNNL
import TensorCore
import NN

/// A kind that can emit oneDNN inference primitives for its node (conformances in
/// `Inference/Lowering/`). `lower` adds the node to the graph, reading its inputs' cursors, or
/// returns nil when the node (or its module's current mode: training-mode BatchNorm, softmax, an
/// unfoldable padding...) is not supported natively; the node then runs through its module forward.
/// `lower` may have changed the graph when it returns nil or throws: the compiler tries on a copy.
public protocol DNNLLowerable: LayerKind {
    func lower(_ node: String, _ module: Module, _ inputs: [InferenceCompiler.Cursor],
               _ g: inout DNNLInferenceGraph) throws -> InferenceCompiler.Cursor?
}

extension DNNLLowerable {
    /// Not lowerable: runs as its module.
    public func lower(_ node: String, _ module: Module, _ inputs: [InferenceCompiler.Cursor],
                      _ g: inout DNNLInferenceGraph) throws -> InferenceCompiler.Cursor? { nil }
}

public enum InferenceCompiler {
    /// Where a node's activation stands in a native chain: the value holding it, a zero padding not yet
    /// applied (folded into the next convolution or pooling) with the padding nodes it stands for, and
    /// whether the value is known to be >= 0.
    public struct Cursor {
        public var value: DNNLInferenceGraph.Value
        public var pad = (top: 0, bottom: 0, left: 0, right: 0)
        public var padNodes: [String] = []
        public var nonNegative = false
        /// Set after a global pooling: the chain's [C, 1, 1] is the logical [C], nothing may follow natively.
        public var flattened = false

        public init(value: DNNLInferenceGraph.Value, nonNegative: Bool = false) {
            self.value = value
            self.nonNegative = nonNegative
        }

        public var hasPad: Bool { !padNodes.isEmpty }

        /// [1, C, H + padding, W + padding] of the value in `g`, the padding applied.
        func paddedShape(_ g: DNNLInferenceGraph) -> [Int] {
            let s = g.shape(value)
            return [1, s[0], s[1] + pad.top + pad.bottom, s[2] + pad.left + pad.right]
        }

        /// The window of a convolution or pooling with its own padding, plus the pending padding.
        func window(kernel: (Int, Int), stride: (Int, Int), top: Int, bottom: Int, left: Int, right: Int) -> DNNLInferenceGraph.Window {
            DNNLInferenceGraph.Window(kernel: kernel, stride: stride, top: top + pad.top, bottom: bottom + pad.bottom,
                                      left: left + pad.left, right: right + pad.right)
        }
    }

    static func eltwise(_ a: Activation?) -> [DNNLInferenceGraph.Eltwise]? {
        switch a {
        case nil, .linear?: []
        case .relu?: [.relu(alpha: 0)]
        case .relu6?: [.clip(lower: 0, upper: 6)]
        case let .leakyReLU(alpha)?: [.relu(alpha: alpha)]
        case let .elu(alpha)?: [.elu(alpha: alpha)]
        case .tanh?: [.tanh]
        case .absTanh?: [.tanh, .abs]
        case .sigmoid?: [.logistic]
        case .softmax?: nil
        default: nil   // the other Keras functions run as their module
        }
    }

    static func nonNegative(after f: [DNNLInferenceGraph.Eltwise], _ before: Bool) -> Bool {
        guard let last = f.last else { return before }
        switch last {
        case .relu(alpha: 0), .logistic, .abs: return true
        case let .clip(lower, _): return lower >= 0
        default: return false
        }
    }

    /// Lowers a convolution module (Conv2D, grouped or depthwise) reading `c`, with its fused activation.
    static func lowerConv(_ conv: Conv2D, _ c: Cursor, _ g: inout DNNLInferenceGraph) throws -> Cursor? {
        guard let post = eltwise(conv.fusedActivation) else { return nil }
        let geo = try conv.geometry(for: c.paddedShape(g))
        let win = c.window(kernel: (geo.kernelHeight, geo.kernelWidth), stride: (geo.strideH, geo.strideW),
                           top: geo.padTop, bottom: geo.padBottom, left: geo.padLeft, right: geo.padRight)
        var v = try g.conv(c.value, outChannels: conv.outChannels, groups: conv.groups, window: win,
                           weight: conv.weight.value, bias: conv.bias?.value.scalars)
        v = try g.activation(v, post)
        return Cursor(value: v, nonNegative: nonNegative(after: post, false))
    }

    /// Lowers node `name` (kind and module) reading `inputs` into `g`: nil when it must run as a module.
    /// A chain's value may not flow on natively after a global pooling.
    static func lower(_ name: String, _ kind: any LayerKind, _ module: Module, _ inputs: [Cursor],
                      _ g: inout DNNLInferenceGraph) -> Cursor? {
        guard let k = kind as? any DNNLLowerable, !inputs.contains(where: \.flattened) else { return nil }
        return (try? k.lower(name, module, inputs, &g)) ?? nil
    }
}
