import NN
import Zoo

/// Concatenate has no weights.
extension ConcatenateKind: KerasWeighted {}
