import TensorCore

/// An ordered chain of named layers. Names default to indices ("0", "1", ...) as in PyTorch;
/// zoo models pass Keras layer names ("block1_conv1") so paths equal the names in weight files.
public final class Sequential: Module, Layer {
    public private(set) var layers: [(name: String, layer: any Layer)]

    public init(_ layers: [any Layer]) {
        self.layers = layers.enumerated().map { ("\($0.offset)", $0.element) }
    }

    public init(named layers: [(String, any Layer)]) {
        self.layers = layers.map { (name: $0.0, layer: $0.1) }
    }

    public override func namedChildren() -> [(String, Module)] { layers.map { ($0.name, $0.layer as Module) } }
    public override func localParameters() -> [(String, Parameter)] { [] }

    public func append(_ name: String, _ layer: any Layer) { layers.append((name, layer)) }

    public func replace(_ name: String, with layer: any Layer) {
        guard let i = layers.firstIndex(where: { $0.name == name }) else {
            fatalError("Sequential.replace: no layer named \(name)")
        }
        layers[i].layer = layer
    }

    public func removeLast(_ n: Int = 1) { layers.removeLast(n) }

    public subscript(name: String) -> (any Layer)? { layers.first { $0.name == name }?.layer }

    public func callAsFunction(_ x: Var) -> Var {
        var y = x
        for (_, layer) in layers { y = layer(y) }
        return y
    }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        var s = inputShape
        for (name, layer) in layers {
            do { s = try layer.outputShape(for: s) } catch let ShapeError.invalidInput(inner, input, reason) {
                throw ShapeError.invalidInput(layer: inner.isEmpty ? name : "\(name) (\(inner))", input: input, reason: reason)
            }
        }
        return s
    }
}
