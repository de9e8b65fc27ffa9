import TensorCore
import NN

/// A residual block `out(add(main(x), shortcut(x)))` that is a *transparent* container: its children
/// carry full Keras layer names (`conv2_block1_1_conv`), and `ZooModel` lists them directly, so paths are
/// `conv2_block1_1_conv.weight`, never `conv2_block1.…`. An empty shortcut is the identity.
public final class ResidualBlock: Module, Layer {
    public let name: String
    public let shortcut: [(name: String, layer: any Layer)]
    public let main: [(name: String, layer: any Layer)]
    public let addName: String
    public let outName: String
    public let out: ReLU

    public init(name: String, shortcut: [(String, any Layer)], main: [(String, any Layer)], addName: String, outName: String) {
        self.name = name
        self.shortcut = shortcut.map { (name: $0.0, layer: $0.1) }
        self.main = main.map { (name: $0.0, layer: $0.1) }
        self.addName = addName
        self.outName = outName
        self.out = ReLU()
    }

    public override func namedChildren() -> [(String, Module)] {
        shortcut.map { ($0.name, $0.layer as Module) } + main.map { ($0.name, $0.layer as Module) } + [(outName, out)]
    }
    public override func localParameters() -> [(String, Parameter)] { [] }

    /// Keras layer names in order: shortcut, main branch, add, out.
    public var layerNames: [String] { shortcut.map(\.name) + main.map(\.name) + [addName, outName] }

    public func callAsFunction(_ x: Var) -> Var {
        var m = x
        for (_, l) in main { m = l(m) }
        var s = x
        for (_, l) in shortcut { s = l(s) }
        return out(residualAdd(m, s))
    }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        func run(_ layers: [(name: String, layer: any Layer)], _ shape: [Int]) throws -> [Int] {
            var s = shape
            for (n, l) in layers {
                do { s = try l.outputShape(for: s) } catch let ShapeError.invalidInput(_, input, reason) {
                    throw ShapeError.invalidInput(layer: n, input: input, reason: reason)
                }
            }
            return s
        }
        let m = try run(main, inputShape), s = try run(shortcut, inputShape)
        guard m == s else {
            throw ShapeError.invalidInput(layer: addName, input: inputShape, reason: "branches disagree: main \(m) vs shortcut \(s)")
        }
        return m
    }
}

/// a + b for same-shaped activations (the residual add), with its pullback.
func residualAdd(_ a: Var, _ b: Var) -> Var {
    check(a.shape == b.shape, "residual add: \(a.shape) vs \(b.shape)")
    return add(a, b)
}
