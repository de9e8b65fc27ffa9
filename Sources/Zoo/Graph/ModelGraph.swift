import NN

/// A layer kind: its options, output shape and parameter names, nothing about Keras or oneDNN. Every
/// other concern is a protocol of the module that owns it, conformed to per kind in its own file:
/// `ModuleBuildable` (Zoo/Layers), `DNNLLowerable` (Zoo/Inference/Lowering), `KerasWeighted` and
/// `KerasLayer` (WeightIO/Keras), `MACCountable` (Bench/BenchMACs). The tables `LayerKinds.all`
/// and `KerasLayers.all` list the kinds, so a kind missing a conformance does not compile.
public protocol LayerKind: Sendable {
    /// Output shape ([C, H, W], or [F] after flatten / global pooling) for the per-image input shapes;
    /// throws `ShapeError.invalidInput` (the node name is filled in by the graph).
    func outputShape(_ inputs: [[Int]]) throws -> [Int]
    /// Parameters in Graft layout and declaration order (the NN module's `namedParameters` order).
    func parameters(_ inputs: [[Int]]) -> [(name: String, shape: [Int])]
    /// Value identity of the kind and its options (for `Equatable` graphs).
    var identity: AnyHashable { get }
}

extension LayerKind where Self: Hashable {
    public var identity: AnyHashable { AnyHashable(self) }
}

extension LayerKind {
    public func parameters(_ inputs: [[Int]]) -> [(name: String, shape: [Int])] { [] }
}

/// The shape error of a kind, without a layer name (the graph names the node).
func shapeFailure(_ inputs: [[Int]], _ reason: String) -> ShapeError {
    .invalidInput(layer: "", input: [1] + (inputs.first ?? []), reason: reason)
}

/// One layer of a graph: a unique (Keras) name, which is also its parameter-path prefix, a kind with
/// its options, and the names of the nodes (or the graph input) it reads, in order.
public struct Node: Sendable, Equatable {
    public let name: String
    public let layer: any LayerKind
    public let inputs: [String]

    public init(name: String, layer: any LayerKind, inputs: [String]) {
        self.name = name; self.layer = layer; self.inputs = inputs
    }

    public static func == (a: Node, b: Node) -> Bool {
        a.name == b.name && a.inputs == b.inputs && a.layer.identity == b.layer.identity
    }
}

/// A model as Keras's functional config has it: named nodes in topological order, each reading earlier
/// nodes or the input, and one output. Shapes are known per node (the graph is built for one input
/// shape); a size the network cannot take fails when the graph is made, naming the node.
///
/// Nested sub-models (a Keras trunk such as `vgg16` inside an outer `Sequential`/`Functional`) are a
/// node whose kind is `SubModel`; `flattened()` inlines them: the inner nodes keep their own names (Keras
/// layer names are unique across nested models, and the weight file stores them under the same layer
/// names), the inner input is bound to the outer node's input, and readers of the sub-model read its
/// output. Zoo models are the nested case too: the head is a graph whose input is the trunk's output.
public struct ModelGraph: Sendable, Equatable {
    /// Name of the input (Keras `InputLayer`), read by nodes like any other.
    public let input: String
    /// Per-image input shape [C, H, W].
    public let inputShape: [Int]
    public private(set) var nodes: [Node]
    public private(set) var output: String
    /// Output shape of every node (and of the input).
    public private(set) var shapes: [String: [Int]]

    /// Checks names (unique, inputs defined before use) and shapes.
    public init(input: String = "input", inputShape: [Int], nodes: [Node], output: String? = nil) throws {
        self.input = input
        self.inputShape = inputShape
        self.nodes = nodes
        self.output = output ?? nodes.last?.name ?? input
        self.shapes = try Self.computeShapes(input: input, inputShape: inputShape, nodes: nodes)
        guard shapes[self.output] != nil else {
            throw ShapeError.invalidInput(layer: self.output, input: [1] + inputShape, reason: "is not a node of the graph")
        }
    }

    private init(input: String, inputShape: [Int], nodes: [Node], output: String, shapes: [String: [Int]]) {
        self.input = input; self.inputShape = inputShape; self.nodes = nodes; self.output = output; self.shapes = shapes
    }

    /// One node running `module` with no shape known (a layer the inference plan cannot look into).
    static func opaque(_ module: Module, inputShape: [Int]) -> ModelGraph {
        ModelGraph(input: "input", inputShape: inputShape, nodes: [Node(name: "model", layer: OpaqueKind(module: module), inputs: ["input"])],
                   output: "model", shapes: ["input": inputShape, "model": []])
    }

    public static func == (a: ModelGraph, b: ModelGraph) -> Bool {
        a.input == b.input && a.inputShape == b.inputShape && a.nodes == b.nodes && a.output == b.output
    }

    static func computeShapes(input: String, inputShape: [Int], nodes: [Node]) throws -> [String: [Int]] {
        var shapes = [input: inputShape]
        for n in nodes {
            guard shapes[n.name] == nil else {
                throw ShapeError.invalidInput(layer: n.name, input: [1] + inputShape, reason: "is defined twice")
            }
            let ins = try n.inputs.map { i -> [Int] in
                guard let s = shapes[i] else {
                    throw ShapeError.invalidInput(layer: n.name, input: [], reason: "reads '\(i)', which is not defined before it")
                }
                return s
            }
            do { shapes[n.name] = try n.layer.outputShape(ins) } catch let ShapeError.invalidInput(l, i, reason) {
                throw ShapeError.invalidInput(layer: l.isEmpty ? n.name : "\(n.name) (\(l))", input: i, reason: reason)
            }
        }
        return shapes
    }

    public var outputShape: [Int] { shapes[output]! }

    /// Shapes of a node's inputs.
    public func inputShapes(_ n: Node) -> [[Int]] { n.inputs.map { shapes[$0]! } }

    public func node(named name: String) -> Node? { nodes.first { $0.name == name } }

    /// Output shape for another input shape (throws naming the node that cannot take it).
    public func outputShape(forInput s: [Int]) throws -> [Int] {
        let all = try Self.computeShapes(input: input, inputShape: s, nodes: nodes)
        return all[output]!
    }

    /// Every node's shape for another input shape.
    public func shapes(forInput s: [Int]) throws -> [String: [Int]] {
        try Self.computeShapes(input: input, inputShape: s, nodes: nodes)
    }

    /// Parameter paths (`node.param`) and shapes in node order.
    public var parameterShapes: [(path: String, shape: [Int])] {
        nodes.flatMap { n -> [(path: String, shape: [Int])] in
            if let sub = n.layer as? SubModel { return sub.graph.parameterShapes }
            return n.layer.parameters(inputShapes(n)).map { ("\(n.name).\($0.name)", $0.shape) }
        }
    }

    public var parameterCount: Int { parameterShapes.reduce(0) { $0 + $1.shape.reduce(1, *) } }

    /// Nodes that read each node (and the input), in node order.
    public var readers: [String: [String]] {
        var r: [String: [String]] = [:]
        for n in nodes { for i in n.inputs { r[i, default: []].append(n.name) } }
        return r
    }

    /// `next` run after this graph: `next.input` must be this graph's output.
    public func appending(_ next: ModelGraph) throws -> ModelGraph {
        guard next.input == output, next.inputShape == outputShape else {
            throw ShapeError.invalidInput(layer: next.input, input: [1] + next.inputShape,
                                          reason: "does not continue \(output) \(outputShape)")
        }
        return try ModelGraph(input: input, inputShape: inputShape, nodes: nodes + next.nodes,
                              output: next.nodes.isEmpty ? output : next.output)
    }

    /// The graph with every `SubModel` node inlined (recursively); see the type's documentation.
    public func flattened() throws -> ModelGraph {
        var out: [Node] = []
        var rename: [String: String] = [:]   // sub-model node name -> its output's name
        for n in nodes {
            let inputs = n.inputs.map { rename[$0] ?? $0 }
            guard let sub = n.layer as? SubModel else {
                out.append(Node(name: n.name, layer: n.layer, inputs: inputs))
                continue
            }
            let inner = try sub.graph.flattened()
            for m in inner.nodes {
                out.append(Node(name: m.name, layer: m.layer, inputs: m.inputs.map { $0 == inner.input ? inputs[0] : $0 }))
            }
            rename[n.name] = inner.output == inner.input ? inputs[0] : inner.output
        }
        return try ModelGraph(input: input, inputShape: inputShape, nodes: out, output: rename[output] ?? output)
    }
}

/// A nested model used as one layer (Keras: a `Functional` inside an outer model). Graphs run it
/// inlined (`ModelGraph.flattened()`); its parameters keep the inner node names.
public struct SubModel: LayerKind, Equatable, Hashable {
    public let graph: ModelGraph

    public init(_ graph: ModelGraph) { self.graph = graph }

    public func outputShape(_ inputs: [[Int]]) throws -> [Int] {
        guard inputs.count == 1 else { throw shapeFailure(inputs, "a nested model takes 1 input, got \(inputs.count)") }
        return try graph.outputShape(forInput: inputs[0])
    }

    public func parameters(_ inputs: [[Int]]) -> [(name: String, shape: [Int])] { [] }

    public static func == (a: SubModel, b: SubModel) -> Bool { a.graph == b.graph }
    public func hash(into h: inout Hasher) { h.combine(graph.input); h.combine(graph.nodes.map(\.name)) }
}
