import Foundation
import DNNL
import TensorCore
import NN

/// A model compiled for inference into chains of oneDNN primitives (`DNNLInferenceNet`):
/// inference-mode BatchNorm folded into the preceding convolution, bias + activation and the
/// residual add + ReLU fused into the convolution as post-ops, ZeroPadding2D folded into the next
/// convolution or pooling, pooling on the blocked layout, and activations kept in oneDNN's blocked
/// layout from the first layer to the last native one (reordered only at entry and exit); depthwise
/// convolutions are grouped oneDNN convolutions, Concatenate a oneDNN concat. The model's graph is
/// walked in node order (see `compile`); each node lowers through its kind's `DNNLLowerable`.
/// Layers it does not know (or cannot run natively in their current mode: training-mode BatchNorm or
/// Dropout, softmax, L2 pooling, Flatten, Dense...) run through their ordinary module forward, so
/// every model runs, and the output equals `model(x)` in the mode the model had when compiled.
///
/// The plan **snapshots the weights and modes** at build time (folded, reordered copies): after
/// training, loading weights, freezing BatchNorm or `setTraining`, build a new plan.
///
/// Calls are serialised by a lock (one batch at a time; the batch itself uses `Threads.count` cores).
/// Settings (`InferenceOptions`; measured defaults, see `DNNLInferenceNet`): nChw16c activations on
/// AVX-512, Winograd for 3x3 stride-1 convolutions (direct elsewhere), the batch cut into slices of at
/// most 4 images shared by the cores. `InferenceOptions.plan` off makes the jobs that use a plan
/// (bench, feature cache, predict, evaluate) run the module forward instead.
public final class InferencePlan: @unchecked Sendable {
    /// A node of the model as the plan runs it.
    struct PlanNode {
        let name: String
        let inputs: [String]
        let module: Module
    }

    enum Stage {
        /// A native chain reading the tensor `input` and writing `output`; `nodes` are what it replaces
        /// (run instead if compiling it for a batch size fails); `outputShape` is the logical per-image
        /// shape after it ([C] after global pooling).
        case native(DNNLInferenceNet, input: String, output: String, nodes: [PlanNode], outputShape: [Int])
        case module(PlanNode)
    }

    public let model: any Layer
    /// [C, H, W] the plan was compiled for; other input shapes run `model` directly.
    public let inputShape: [Int]
    private var stages: [Stage]
    private let input: String, output: String
    /// Index of the last stage reading each tensor (tensors are dropped after it).
    private var lastUse: [String: Int] = [:]
    private let lock = NSLock()
    /// Native chains that could not be compiled for some batch size and ran as modules instead.
    public private(set) var nativeFailures = 0

    /// Compiles `model` (a `ZooModel`, a `GraphModule`, a `Sequential`, or any layer) for inputs of
    /// `inputShape` ([C, H, W]) with the inference `options`.
    public init(_ model: any Layer, inputShape: [Int], options: InferenceOptions = InferenceOptions()) {
        self.model = model
        self.inputShape = inputShape
        let (graph, modules) = Self.graph(of: model, inputShape: inputShape)
        input = graph.input
        output = graph.output
        stages = Self.compile(graph, modules, settings: options)
        for (i, s) in stages.enumerated() {
            switch s {
            case let .native(_, inName, _, _, _): lastUse[inName] = i
            case let .module(n): for x in n.inputs { lastUse[x] = i }
            }
        }
    }

    /// Compiles a zoo model for its own input size.
    public convenience init(_ model: ZooModel, options: InferenceOptions = InferenceOptions()) {
        self.init(model, inputShape: model.inputShape, options: options)
    }

    /// The model as one graph and its modules by node name (any other layer: one opaque node).
    static func graph(of model: any Layer, inputShape: [Int]) -> (ModelGraph, [String: Module]) {
        func gm(_ g: GraphModule) -> [(Node, Module)] { g.nodes.map { ($0.node, $0.module) } }
        func flatLayers(_ s: Sequential) -> [(name: String, layer: any Layer)] {
            s.layers.flatMap { l in (l.layer as? Sequential).map(flatLayers) ?? [l] }
        }
        var parts: [(Node, Module)]? = nil
        var g: ModelGraph? = nil
        switch model {
        case let z as ZooModel:
            g = try? z.graph
            parts = gm(z.trunk) + gm(z.head)
        case let m as GraphModule:
            g = m.graph
            parts = gm(m)
        case let s as Sequential:
            if let c = try? GraphModule(chain: flatLayers(s), inputShape: inputShape) { g = c.graph; parts = gm(c) }
        default:
            break
        }
        if let g, let parts, g.inputShape == inputShape {
            return (g, Dictionary(parts.map { ($0.0.name, $0.1) }, uniquingKeysWith: { a, _ in a }))
        }
        let opaque = Node(name: "model", layer: OpaqueKind(module: model), inputs: ["input"])
        let whole = (try? ModelGraph(input: "input", inputShape: inputShape, nodes: [opaque]))
            ?? ModelGraph.opaque(model, inputShape: inputShape)
        return (whole, ["model": model])
    }

    /// Greedy chains in node order: a chain reads one tensor (its entry) and grows while each node's
    /// inputs are values of the chain and the node lowers; it closes on a node that does not, and
    /// that node runs as a module. A chain whose nodes other than the last are read after it runs as
    /// modules (a native chain has one output).
    static func compile(_ graph: ModelGraph, _ modules: [String: Module], settings: InferenceOptions) -> [Stage] {
        let readers = graph.readers
        var stages: [Stage] = []
        var dnnl: DNNLInferenceGraph?
        var entry = graph.input
        var cursors: [String: InferenceCompiler.Cursor] = [:]
        var chain: [PlanNode] = []

        func close() {
            defer { dnnl = nil; cursors = [:]; chain = [] }
            guard let last = chain.last else { return }
            let members = Set(chain.map(\.name))
            let readOutside = chain.dropLast().contains { n in
                n.name == graph.output || (readers[n.name] ?? []).contains { !members.contains($0) }
            }
            let c = cursors[last.name]!
            // A padding nothing absorbed runs as modules after the chain, from the first padding node on.
            let tail = c.padNodes.first.flatMap { p in chain.firstIndex { $0.name == p } } ?? chain.count
            let outName = tail < chain.count ? chain[tail].inputs[0] : last.name
            if !readOutside, tail > 0, let g = dnnl, g.opCount > 0, outName != entry,
               let net = try? DNNLInferenceNet(graph: g, output: c.value, options: settings) {
                let out = c.flattened ? [g.shape(c.value)[0]] : g.shape(c.value)
                stages.append(.native(net, input: entry, output: outName, nodes: Array(chain[..<tail]), outputShape: out))
                for n in chain[tail...] { stages.append(.module(n)) }
            } else {
                // Nothing worth a primitive (e.g. only an identity Dropout): the nodes run as modules.
                for n in chain { stages.append(.module(n)) }
            }
        }

        for node in graph.nodes {
            let module = modules[node.name]!
            let pn = PlanNode(name: node.name, inputs: node.inputs, module: module)
            if !chain.isEmpty, !node.inputs.allSatisfy({ cursors[$0] != nil }) { close() }
            if chain.isEmpty {
                // A new chain starts at a node reading one [C, H, W] tensor.
                if let x = node.inputs.first, node.inputs.allSatisfy({ $0 == x }), let s = graph.shapes[x], s.count == 3 {
                    dnnl = DNNLInferenceGraph(input: s)
                    entry = x
                    cursors = [x: InferenceCompiler.Cursor(value: 0)]
                    if (readers[x]?.count ?? 0) > 1 { dnnl!.retain(0) }
                }
            }
            if var trial = dnnl,
               let c = InferenceCompiler.lower(node.name, node.layer, module, node.inputs.map { cursors[$0]! }, &trial) {
                if (readers[node.name]?.count ?? 0) > 1 { trial.retain(c.value) }
                dnnl = trial
                cursors[node.name] = c
                chain.append(pn)
                continue
            }
            close()
            stages.append(.module(pn))
        }
        close()
        return stages
    }

    /// The model's output for `x` ([N] + inputShape); any other shape runs the module forward.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        lock.lock()
        defer { lock.unlock() }
        let n = x.shape.first ?? 0
        guard x.shape.count == inputShape.count + 1, Array(x.shape.dropFirst()) == inputShape, n > 0 else {
            return withoutGradients { model(Var(x)).value }
        }
        var env: [String: Tensor] = [input: x]
        func runModule(_ node: PlanNode) {
            let ins = node.inputs.map { Var(env[$0]!) }
            env[node.name] = withoutGradients { GraphModule.apply(node.module, ins).value }
        }
        for (i, stage) in stages.enumerated() {
            switch stage {
            case let .module(node):
                runModule(node)
            case let .native(net, inName, outName, nodes, outShape):
                var y = Tensor(uninitializedShape: [n] + net.outputShape)
                do {
                    let src = env[inName]!
                    try net.run(input: src.pointer, batch: n, output: y.mutablePointer())
                    env[outName] = y.reshaped([n] + outShape)
                } catch {
                    // oneDNN could not compile this chain for this batch size: its nodes run as modules.
                    nativeFailures += 1
                    for node in nodes { runModule(node) }
                }
            }
            for (name, last) in lastUse where last == i && name != output { env[name] = nil }
        }
        return env[output]!
    }

    /// Times every oneDNN step and module layer over `reps` runs of `x` (median seconds each):
    /// (what, seconds, multiply-adds). Module layers come as "module NAME".
    public func profile(_ x: Tensor, reps: Int) throws -> [(step: String, seconds: Double, macs: Double)] {
        lock.lock()
        defer { lock.unlock() }
        let n = x.shape.first ?? 0
        var env: [String: Tensor] = [input: x]
        var out: [(step: String, seconds: Double, macs: Double)] = []
        for s in stages {
            switch s {
            case let .module(node):
                var times: [Double] = []
                let ins = node.inputs.map { env[$0]! }
                var y = ins[0]
                for _ in 0..<max(1, reps) {
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    y = withoutGradients { GraphModule.apply(node.module, ins.map { Var($0) }).value }
                    times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
                }
                out.append(("module \(node.name)", times.sorted()[times.count / 2], 0))
                env[node.name] = y
            case let .native(net, inName, outName, _, outShape):
                var y = Tensor(uninitializedShape: [n] + net.outputShape)
                let src = env[inName]!
                out += try net.profile(input: src.pointer, batch: n, output: y.mutablePointer(), reps: reps)
                env[outName] = y.reshaped([n] + outShape)
            }
        }
        return out
    }

    /// Bytes of activation buffers and oneDNN scratchpads the native chains hold for the batch sizes
    /// run so far (weights not counted).
    public var activationBytes: Int {
        stages.reduce(0) { acc, s in if case let .native(net, _, _, _, _) = s { acc + net.programBytes } else { acc } }
    }

    /// Nodes (Keras layers) that run in native chains.
    public var nativeLayerCount: Int {
        stages.reduce(0) { acc, s in if case let .native(_, _, _, l, _) = s { acc + l.count } else { acc } }
    }

    /// Names of the layers that run through their module forward.
    public var moduleLayers: [String] {
        stages.compactMap { if case let .module(node) = $0 { node.name } else { nil } }
    }

    /// Number format and algorithm of the native chains' convolutions for `batch` images, e.g.
    /// "fp32 winograd 13 (precision fp32)" (compiles the chains for that batch if needed).
    public func convPaths(batch: Int) -> String {
        var parts: [String] = [], precision = "fp32"
        for s in stages {
            guard case let .native(net, _, _, _, _) = s else { continue }
            precision = net.precision.rawValue
            parts.append((try? net.convPaths(batch: batch)) ?? "cannot compile for batch \(batch)")
        }
        return parts.joined(separator: "; ") + " (precision \(precision))"
    }

    /// Stages, graph summaries and (with `batch`) oneDNN's implementation per primitive.
    public func describe(batch: Int? = nil) -> String {
        var lines: [String] = []
        for s in stages {
            switch s {
            case let .native(net, _, _, layers, _):
                lines.append("native chain: \(layers.count) layers (\(layers.first?.name ?? "")...\(layers.last?.name ?? "")), "
                             + String(format: "%.2f GMAC/img", net.graph.macsPerImage / 1e9))
                if let b = batch {
                    let d = (try? net.describe(batch: b)) ?? "cannot compile for batch \(b)"
                    lines += d.split(separator: "\n").map { "  " + $0 }
                } else {
                    lines.append("  " + net.graph.summary)
                }
            case let .module(node):
                lines.append("module: \(node.name) (\(type(of: node.module)))")
            }
        }
        return lines.joined(separator: "\n")
    }
}
