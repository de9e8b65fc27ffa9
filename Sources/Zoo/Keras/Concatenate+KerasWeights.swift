import NN

/// Concatenate has no weights.
extension ConcatenateKind: KerasWeighted {}
