import DNNL
import TensorCore
import NN

extension DepthwiseConv2DKind: DNNLLowerable {
    /// A grouped oneDNN convolution with one group per input channel.
    public func lower(_ node: String, _ module: Module, _ inputs: [InferenceCompiler.Cursor],
                      _ g: inout DNNLInferenceGraph) throws -> InferenceCompiler.Cursor? {
        guard let conv = module as? Conv2D, inputs.count == 1, conv.groups == conv.inChannels else { return nil }
        return try InferenceCompiler.lowerConv(conv, inputs[0], &g)
    }
}
