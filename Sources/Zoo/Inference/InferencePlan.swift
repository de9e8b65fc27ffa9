import Foundation
import DNNL
import TensorCore
import NN

/// A model compiled for inference into chains of oneDNN primitives (`DNNLInferenceNet`):
/// inference-mode BatchNorm folded into the preceding convolution, bias + activation and the
/// residual add + ReLU fused into the convolution as post-ops, ZeroPadding2D folded into the next
/// convolution or pooling, pooling on the blocked layout, and activations kept in oneDNN's blocked
/// layout from the first layer to the last native one (reordered only at entry and exit).
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
    enum Stage {
        /// A native chain; `layers` are what it replaces (run instead if compiling it for a batch
        /// size fails); `outputShape` is the logical per-image shape after it ([C] after global pooling).
        case native(DNNLInferenceNet, layers: [(name: String, layer: any Layer)], outputShape: [Int])
        case module(name: String, layer: any Layer)
    }

    public let model: any Layer
    /// [C, H, W] the plan was compiled for; other input shapes run `model` directly.
    public let inputShape: [Int]
    private var stages: [Stage]
    private let lock = NSLock()
    /// Native chains that could not be compiled for some batch size and ran as modules instead.
    public private(set) var nativeFailures = 0

    /// Compiles `model` (a `ZooModel`, a `Sequential`, or any layer) for inputs of `inputShape` ([C, H, W]).
    public init(_ model: any Layer, inputShape: [Int], options: InferenceOptions = InferenceOptions()) {
        self.model = model
        self.inputShape = inputShape
        stages = Self.compile(Self.flatLayers(model), inputShape: inputShape, settings: options)
    }

    /// Compiles a zoo model for its own input size.
    public convenience init(_ model: ZooModel, options: InferenceOptions = InferenceOptions()) {
        self.init(model, inputShape: model.inputShape, options: options)
    }

    static func flatLayers(_ model: any Layer) -> [(name: String, layer: any Layer)] {
        switch model {
        case let z as ZooModel: flatLayers(z.trunk) + flatLayers(z.head)
        case let s as Sequential: s.layers.flatMap { ($0.layer is Sequential) ? flatLayers($0.layer) : [$0] }
        default: [("model", model)]
        }
    }

    static func compile(_ layers: [(name: String, layer: any Layer)], inputShape: [Int], settings: InferenceOptions) -> [Stage] {
        var stages: [Stage] = []
        var graph: DNNLInferenceGraph?
        var cursor = InferenceCompiler.Cursor(value: 0)
        var covered: [(name: String, layer: any Layer)] = []
        var shape: [Int]? = inputShape   // logical per-image shape (nil: unknown)

        func close() {
            if let g = graph, g.opCount > 0, let net = try? DNNLInferenceNet(graph: g, output: cursor.value, options: settings) {
                let realCovered = covered.filter { c in !cursor.padLayers.contains { $0.layer === c.layer } }
                let out = cursor.flattened ? [g.shape(cursor.value)[0]] : g.shape(cursor.value)
                stages.append(.native(net, layers: realCovered, outputShape: out))
            } else {
                // Nothing worth a primitive (e.g. only an identity Dropout): the layers run as modules.
                for l in covered where !cursor.padLayers.contains(where: { $0.layer === l.layer }) {
                    stages.append(.module(name: l.name, layer: l.layer))
                }
            }
            // A padding nothing could absorb runs as a module after the chain.
            for p in cursor.padLayers { stages.append(.module(name: p.name, layer: p.layer)) }
            graph = nil
            covered = []
            cursor = InferenceCompiler.Cursor(value: 0)
        }

        for (name, layer) in layers {
            if let s = shape, s.count == 3 {
                var trial: DNNLInferenceGraph
                var c: InferenceCompiler.Cursor
                if let g = graph {
                    trial = g; c = cursor
                } else {
                    trial = DNNLInferenceGraph(input: s); c = InferenceCompiler.Cursor(value: 0)
                }
                if InferenceCompiler.emit(layer, name: name, &trial, &c) {
                    graph = trial; cursor = c
                    covered.append((name, layer))
                    shape = try? layer.outputShape(for: [1] + s).dropFirst().map { $0 }
                    continue
                }
            }
            close()
            stages.append(.module(name: name, layer: layer))
            shape = shape.flatMap { s in try? layer.outputShape(for: [1] + s).dropFirst().map { $0 } }
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
        var t = x
        for i in stages.indices {
            switch stages[i] {
            case let .module(_, layer):
                t = withoutGradients { layer(Var(t)).value }
            case let .native(net, layers, outShape):
                var y = Tensor(uninitializedShape: [n] + net.outputShape)
                do {
                    let src = t
                    try net.run(input: src.pointer, batch: n, output: y.mutablePointer())
                    t = y.reshaped([n] + outShape)
                } catch {
                    // oneDNN could not compile this chain for this batch size: its layers run as modules.
                    nativeFailures += 1
                    for (_, l) in layers { t = withoutGradients { l(Var(t)).value } }
                }
            }
        }
        return t
    }

    /// Times every oneDNN step and module layer over `reps` runs of `x` (median seconds each):
    /// (what, seconds, multiply-adds). Module layers come as "module NAME".
    public func profile(_ x: Tensor, reps: Int) throws -> [(step: String, seconds: Double, macs: Double)] {
        lock.lock()
        defer { lock.unlock() }
        let n = x.shape.first ?? 0
        var t = x
        var out: [(step: String, seconds: Double, macs: Double)] = []
        for s in stages {
            switch s {
            case let .module(name, layer):
                var times: [Double] = []
                var y = t
                for _ in 0..<max(1, reps) {
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    y = withoutGradients { layer(Var(t)).value }
                    times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
                }
                out.append(("module \(name)", times.sorted()[times.count / 2], 0))
                t = y
            case let .native(net, _, outShape):
                var y = Tensor(uninitializedShape: [n] + net.outputShape)
                let src = t
                out += try net.profile(input: src.pointer, batch: n, output: y.mutablePointer(), reps: reps)
                t = y.reshaped([n] + outShape)
            }
        }
        return out
    }

    /// Bytes of activation buffers and oneDNN scratchpads the native chains hold for the batch sizes
    /// run so far (weights not counted).
    public var activationBytes: Int {
        stages.reduce(0) { acc, s in if case let .native(net, _, _) = s { acc + net.programBytes } else { acc } }
    }

    /// Layers (Keras names; residual blocks count once) that run in native chains.
    public var nativeLayerCount: Int {
        stages.reduce(0) { acc, s in if case let .native(_, l, _) = s { acc + l.count } else { acc } }
    }

    /// Names of the layers that run through their module forward.
    public var moduleLayers: [String] {
        stages.compactMap { if case let .module(name, _) = $0 { name } else { nil } }
    }

    /// Stages, graph summaries and (with `batch`) oneDNN's implementation per primitive.
    public func describe(batch: Int? = nil) -> String {
        var lines: [String] = []
        for s in stages {
            switch s {
            case let .native(net, layers, _):
                lines.append("native chain: \(layers.count) layers (\(layers.first?.name ?? "")...\(layers.last?.name ?? "")), "
                             + String(format: "%.2f GMAC/img", net.graph.macsPerImage / 1e9))
                if let b = batch {
                    let d = (try? net.describe(batch: b)) ?? "cannot compile for batch \(b)"
                    lines += d.split(separator: "\n").map { "  " + $0 }
                } else {
                    lines.append("  " + net.graph.summary)
                }
            case let .module(name, layer):
                lines.append("module: \(name) (\(type(of: layer)))")
            }
        }
        return lines.joined(separator: "\n")
    }
}
