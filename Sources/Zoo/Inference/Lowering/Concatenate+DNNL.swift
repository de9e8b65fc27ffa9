import DNNL
import TensorCore
import NN

extension ConcatenateKind: DNNLLowerable {
    /// A oneDNN concat along the channels; padded inputs would need the padding applied first.
    public func lower(_ node: String, _ module: Module, _ inputs: [InferenceCompiler.Cursor],
                      _ g: inout DNNLInferenceGraph) throws -> InferenceCompiler.Cursor? {
        guard inputs.count >= 2, !inputs.contains(where: \.hasPad) else { return nil }
        let v = try g.concat(inputs.map(\.value))
        return InferenceCompiler.Cursor(value: v, nonNegative: inputs.allSatisfy(\.nonNegative))
    }
}
