import TensorCore
import NN

/// A model graph made trainable: one NN module per node, keyed by the node's name, so parameter paths
/// are `<node>.<param>` (`conv2_block1_1_conv.weight`). The forward pass evaluates the nodes in
/// topological order on the tape; merges (add, multiply, concatenate) are ordinary nodes.
public final class GraphModule: Module, Layer {
    public private(set) var graph: ModelGraph
    private var _modules: [String: Module]
    /// Index of the last node reading each value (values are dropped after it, so inference frees them).
    private var _lastUse: [String: Int] = [:]

    /// Builds every node's module from its kind (`ModuleBuildable`), in node order; `reuse` may return
    /// an existing module for a node instead (a kept hidden layer).
    public convenience init(graph: ModelGraph, rng: inout SeededRandom) {
        let built: (ModelGraph, [String: Module])
        do { built = try Self.build(graph, rng: &rng) { _, _ in nil } } catch { fatalError("GraphModule: \(error)") }
        self.init(graph: graph, modules: built)
    }

    public convenience init(graph: ModelGraph, rng: inout SeededRandom, reuse: (Node, [[Int]]) throws -> Module?) throws {
        self.init(graph: graph, modules: try Self.build(graph, rng: &rng, reuse: reuse))
    }

    private init(graph: (ModelGraph, [String: Module])) {
        self.graph = graph.0
        _modules = graph.1
        super.init()
        updateLastUse()
    }

    private convenience init(graph: ModelGraph, modules: (ModelGraph, [String: Module])) { self.init(graph: modules) }

    private static func build(_ graph: ModelGraph, rng: inout SeededRandom,
                              reuse: (Node, [[Int]]) throws -> Module?) throws -> (ModelGraph, [String: Module]) {
        let flat = (try? graph.flattened()) ?? graph
        var modules: [String: Module] = [:]
        for n in flat.nodes {
            if let m = try reuse(n, flat.inputShapes(n)) { modules[n.name] = m; continue }
            guard let b = n.layer as? any ModuleBuildable else { fatalError("GraphModule: node \(n.name) (\(type(of: n.layer))) cannot make a module") }
            modules[n.name] = b.makeModule(flat.inputShapes(n), rng: &rng)
        }
        return (flat, modules)
    }

    /// A chain of existing layers (a `Sequential`'s), described by their kinds where the zoo knows them.
    public init(chain layers: [(name: String, layer: any Layer)], inputShape: [Int]) throws {
        var nodes: [Node] = []
        var prev = "input"
        for (name, layer) in layers {
            nodes.append(Node(name: name, layer: LayerKinds.kind(of: layer) ?? OpaqueKind(module: layer), inputs: [prev]))
            prev = name
        }
        graph = try ModelGraph(input: "input", inputShape: inputShape, nodes: nodes, output: prev)
        _modules = Dictionary(layers.map { ($0.name, $0.layer as Module) }, uniquingKeysWith: { a, _ in a })
        super.init()
        updateLastUse()
    }

    private func updateLastUse() {
        _lastUse = [:]
        for (i, n) in graph.nodes.enumerated() { for x in n.inputs { _lastUse[x] = i } }
    }

    // MARK: Structure

    /// Nodes with their modules, in node order.
    public var layers: [(name: String, layer: Module)] { graph.nodes.map { ($0.name, _modules[$0.name]!) } }
    public var nodes: [(node: Node, module: Module)] { graph.nodes.map { ($0, _modules[$0.name]!) } }

    public subscript(name: String) -> Module? { _modules[name] }

    /// Replaces the module of node `name` (and its kind, when the new module is of another shape).
    public func replace(_ name: String, with module: Module, kind: (any LayerKind)? = nil) {
        guard let i = graph.nodes.firstIndex(where: { $0.name == name }) else { fatalError("GraphModule.replace: no node \(name)") }
        _modules[name] = module
        if let k = kind ?? LayerKinds.kind(of: module) {
            var nodes = graph.nodes
            nodes[i] = Node(name: name, layer: k, inputs: nodes[i].inputs)
            // The new kind has the node's shapes or the graph would not check: keep the old one then.
            if let g = try? ModelGraph(input: graph.input, inputShape: graph.inputShape, nodes: nodes, output: graph.output) { graph = g }
        }
    }

    public override func namedChildren() -> [(String, Module)] { layers.map { ($0.name, $0.layer) } }
    public override func localParameters() -> [(String, Parameter)] { [] }

    // MARK: Forward

    /// Applies one node's module to its inputs.
    public static func apply(_ module: Module, _ inputs: [Var]) -> Var {
        if let l = module as? any Layer, inputs.count == 1 { return l(inputs[0]) }
        if let m = module as? any MergeLayer { return m(inputs) }
        fatalError("GraphModule: \(type(of: module)) cannot take \(inputs.count) inputs")
    }

    /// Evaluates the graph; `step` runs each node (name, module, the node's own forward) and may time
    /// or record it.
    public func evaluate(_ x: Var, step: (_ name: String, _ module: Module, _ run: () -> Var) -> Var) -> Var {
        var values: [String: Var] = [graph.input: x]
        for (i, n) in graph.nodes.enumerated() {
            let ins = n.inputs.map { values[$0]! }
            let m = _modules[n.name]!
            values[n.name] = step(n.name, m) { Self.apply(m, ins) }
            for x in Set(n.inputs) where _lastUse[x] == i && x != graph.output { values[x] = nil }
        }
        return values[graph.output]!
    }

    public func callAsFunction(_ x: Var) -> Var { evaluate(x) { _, _, run in run() } }

    /// [N] + output shape for [N] + an input shape, through the modules (errors name the node).
    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        var shapes = [graph.input: inputShape]
        for n in graph.nodes {
            let ins = n.inputs.map { shapes[$0]! }
            let m = _modules[n.name]!
            do {
                if let l = m as? any Layer, ins.count == 1 { shapes[n.name] = try l.outputShape(for: ins[0]) }
                else if let mg = m as? any MergeLayer { shapes[n.name] = try mg.outputShape(for: ins) }
                else { throw ShapeError.invalidInput(layer: "", input: ins.first ?? [], reason: "takes 1 input, got \(ins.count)") }
            } catch let ShapeError.invalidInput(inner, input, reason) {
                throw ShapeError.invalidInput(layer: inner.isEmpty ? n.name : "\(n.name) (\(inner))", input: input, reason: reason)
            }
        }
        return shapes[graph.output]!
    }
}

/// The kind of a module no zoo kind describes (in a `Sequential` given to the inference plan): its
/// shapes come from the module, and it always runs as itself.
struct OpaqueKind: LayerKind, @unchecked Sendable {
    let module: Module
    func outputShape(_ inputs: [[Int]]) throws -> [Int] {
        guard let l = module as? any Layer, inputs.count == 1 else { throw shapeFailure(inputs, "takes 1 input") }
        return Array(try l.outputShape(for: [1] + inputs[0]).dropFirst())
    }
    var identity: AnyHashable { AnyHashable(ObjectIdentifier(module)) }
}
