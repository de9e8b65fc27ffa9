import NN
import Zoo

extension ConcatenateKind: KerasLayer {
    public static var kerasClassNames: [String] { ["Concatenate"] }

    /// Graft concatenates channels: Keras axis -1 (or 3) of channels-last data.
    public func kerasDisagreement(_ l: KerasLayerConfig, module: Module?) -> KerasDisagreement? {
        if let a = l.axis, a != -1, a != 3 { return .init("axis", file: a, model: -1) }
        return nil
    }

    public static func fromKeras(_ l: KerasLayerConfig) -> ConcatenateKind? {
        l.axis == nil || l.axis == -1 || l.axis == 3 ? ConcatenateKind() : nil
    }
}
