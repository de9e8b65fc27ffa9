import TensorCore
import NN
import Zoo

/// How a Keras tensor's layout relates to Graft's. `toGraft` and `toKeras` are exact inverses.
public enum KerasLayout: Sendable, Equatable, Hashable {
    /// Same layout (biases, BatchNorm vectors).
    case asIs
    /// Conv2D kernel: Keras (kh, kw, in/groups, out) -> Graft [out, in/groups, kh, kw].
    case hwioToOihw
    /// Dense kernel: Keras (in, out) -> Graft [out, in].
    case inOutToOutIn
    /// The first Dense after Flatten: Keras rows are in (h, w, c) flatten order, Graft's Flatten is
    /// (c, h, w). Rows are permuted HWC -> CHW, then transposed to [out, in].
    case flattenedDense(channels: Int, height: Int, width: Int)
    /// DepthwiseConv2D kernel: Keras (kh, kw, C, m) -> Graft [C·m, 1, kh, kw] (output channel c·m + j).
    case depthwiseToOihw(multiplier: Int)
    /// A per-position tensor (PReLU alpha): Keras (H, W, C) -> Graft [C, H, W].
    case hwcToChw

    /// The Graft shape for a Keras tensor shape, or nil when the layout cannot apply to it.
    public func graftShape(forKeras s: [Int]) -> [Int]? {
        switch self {
        case .asIs: return s
        case .hwioToOihw: return s.count == 4 ? [s[3], s[2], s[0], s[1]] : nil
        case .inOutToOutIn: return s.count == 2 ? [s[1], s[0]] : nil
        case let .flattenedDense(c, h, w): return s.count == 2 && s[0] == c * h * w ? [s[1], s[0]] : nil
        case let .depthwiseToOihw(m): return s.count == 4 && s[3] == m ? [s[2] * s[3], 1, s[0], s[1]] : nil
        case .hwcToChw: return s.count == 3 ? [s[2], s[0], s[1]] : nil
        }
    }

    /// The Keras shape for a Graft tensor shape, or nil when the layout cannot apply to it.
    public func kerasShape(forGraft s: [Int]) -> [Int]? {
        switch self {
        case .asIs: return s
        case .hwioToOihw: return s.count == 4 ? [s[2], s[3], s[1], s[0]] : nil
        case .inOutToOutIn: return s.count == 2 ? [s[1], s[0]] : nil
        case let .flattenedDense(c, h, w): return s.count == 2 && s[1] == c * h * w ? [s[1], s[0]] : nil
        case let .depthwiseToOihw(m): return s.count == 4 && s[1] == 1 && m > 0 && s[0] % m == 0 ? [s[2], s[3], s[0] / m, m] : nil
        case .hwcToChw: return s.count == 3 ? [s[1], s[2], s[0]] : nil
        }
    }

    /// Converts a Keras-layout tensor to Graft's layout (traps on a shape the layout cannot take; check
    /// with `graftShape(forKeras:)` first when the data comes from a file).
    public func toGraft(_ t: Tensor) -> Tensor {
        guard let outShape = graftShape(forKeras: t.shape) else {
            fatalError("KerasLayout.\(self).toGraft: cannot take Keras shape \(t.shape)")
        }
        return permute(t, outShape: outShape, forward: true)
    }

    /// Converts a Graft tensor to Keras's layout (the inverse of `toGraft`).
    public func toKeras(_ t: Tensor) -> Tensor {
        guard let outShape = kerasShape(forGraft: t.shape) else {
            fatalError("KerasLayout.\(self).toKeras: cannot take Graft shape \(t.shape)")
        }
        return permute(t, outShape: outShape, forward: false)
    }

    /// Moves every element between the Keras index k and the Graft index g (forward: Keras -> Graft),
    /// walking the Keras tensor in memory order.
    private func permute(_ t: Tensor, outShape: [Int], forward: Bool) -> Tensor {
        if self == .asIs { return t }
        let g = forward ? outShape : t.shape           // Graft shape
        var out = Tensor(uninitializedShape: outShape)
        out.withUnsafeMutableBufferPointer { dst in
            t.withUnsafeBufferPointer { src in
                @inline(__always) func move(_ k: Int, _ gi: Int) {
                    if forward { dst[gi] = src[k] } else { dst[k] = src[gi] }
                }
                var k = 0
                switch self {
                case .asIs:
                    break
                case .hwioToOihw:                          // Keras [kh, kw, i, o] -> Graft [o, i, kh, kw]
                    let (o, i, kh, kw) = (g[0], g[1], g[2], g[3])
                    for y in 0..<kh { for x in 0..<kw { for ci in 0..<i {
                        let base = (ci * kh + y) * kw + x, step = i * kh * kw
                        for co in 0..<o { move(k, co * step + base); k += 1 }
                    } } }
                case .inOutToOutIn:                        // Keras [in, out] -> Graft [out, in]
                    let (o, inF) = (g[0], g[1])
                    for r in 0..<inF { for co in 0..<o { move(k, co * inF + r); k += 1 } }
                case let .flattenedDense(c, h, w):         // Keras [(y*W + x)*C + ch, out] -> Graft [out, ch*H*W + y*W + x]
                    let (o, inF) = (g[0], g[1])
                    for y in 0..<h { for x in 0..<w { for ch in 0..<c {
                        let col = ch * h * w + y * w + x
                        for co in 0..<o { move(k, co * inF + col); k += 1 }
                    } } }
                case let .depthwiseToOihw(m):             // Keras [kh, kw, c, m] -> Graft [c*m, 1, kh, kw]
                    let (kh, kw, c) = (g[2], g[3], g[0] / m)
                    for y in 0..<kh { for x in 0..<kw { for ci in 0..<c { for j in 0..<m {
                        move(k, ((ci * m + j) * kh + y) * kw + x); k += 1
                    } } } }
                case .hwcToChw:                            // Keras [h, w, c] -> Graft [c, h, w]
                    let (c, h, w) = (g[0], g[1], g[2])
                    for y in 0..<h { for x in 0..<w { for ch in 0..<c { move(k, (ch * h + y) * w + x); k += 1 } } }
                }
            }
        }
        return out
    }
}

/// Keras weight names inside a layer.
public enum KerasWeightName: String, Sendable, CaseIterable {
    case kernel, bias, gamma, beta
    case movingMean = "moving_mean"
    case movingVariance = "moving_variance"
    case depthwiseKernel = "depthwise_kernel"
    case pointwiseKernel = "pointwise_kernel"
    case alpha, mean, variance
}

/// Where a Graft parameter lives in a Keras file, and how to convert it.
public struct KerasWeightRef: Sendable, Equatable, Hashable {
    /// Graft parameter path, e.g. `block1_conv1.weight`.
    public var path: String
    /// Keras layer name, e.g. `block1_conv1`.
    public var layer: String
    public var weight: KerasWeightName
    public var layout: KerasLayout
    /// Shape of the Graft tensor.
    public var graftShape: [Int]
    /// Shape the Keras tensor must have.
    public var kerasShape: [Int] { layout.kerasShape(forGraft: graftShape) ?? graftShape }
}

/// Everything an importer needs to read Keras weights into a zoo model.
public struct KerasMapping: Sendable {
    public var weights: [KerasWeightRef]
    /// Legacy layer name -> Keras layer name.
    public var legacyAliases: [String: String]
    public var bnEpsilon: Float?

    /// The entry for a Keras (layer, weight), legacy layer names accepted.
    public func ref(layer: String, weight: KerasWeightName) -> KerasWeightRef? {
        let l = legacyAliases[layer] ?? layer
        return weights.first { $0.layer == l && $0.weight == weight }
    }
}

/// What a Keras weight map needs to know about a node besides its kind: its input shapes and, for a
/// layer right after a Flatten (through weightless layers), the [C, H, W] that Flatten received.
public struct KerasWeightContext: Sendable {
    public var inputs: [[Int]]
    public var flattenedFrom: [Int]?
}

/// A kind's Keras weight names and layouts (WeightIO's `KerasLayer` holds the rest of Keras: class
/// names and config). Weightless kinds keep the default (no weights).
public protocol KerasWeighted: LayerKind {
    /// The Keras weight and layout of Graft parameter `param`, or nil when it has none.
    func kerasWeight(_ param: String, _ context: KerasWeightContext) -> (KerasWeightName, KerasLayout)?
}

extension KerasWeighted {
    public func kerasWeight(_ param: String, _ context: KerasWeightContext) -> (KerasWeightName, KerasLayout)? { nil }
}

extension ModelGraph {
    /// The weight context of every node: inputs, and the Flatten input reaching it through weightless nodes.
    public func kerasWeightContexts() -> [String: KerasWeightContext] {
        var flat: [String: [Int]] = [:]
        var out: [String: KerasWeightContext] = [:]
        for n in nodes {
            let ins = inputShapes(n)
            let from = n.inputs.count == 1 ? flat[n.inputs[0]] : nil
            out[n.name] = KerasWeightContext(inputs: ins, flattenedFrom: from)
            if let f = n.layer as? FlattenKind, ins.count == 1, ins[0].count == 3 { if !f.channelsFirst { flat[n.name] = ins[0] } }
            else if n.layer.parameters(ins).isEmpty, let f = from { flat[n.name] = f }
        }
        return out
    }

    /// Keras location and layout of every parameter of the graph's kinds, in path order.
    public func kerasWeightRefs() throws -> [KerasWeightRef] {
        let contexts = kerasWeightContexts()
        return try nodes.flatMap { n -> [KerasWeightRef] in
            let ctx = contexts[n.name]!
            return try n.layer.parameters(ctx.inputs).map { p in
                guard let k = n.layer as? any KerasWeighted, let (w, layout) = k.kerasWeight(p.name, ctx) else {
                    throw ZooError.invalidOption("no Keras mapping for parameter \(n.name).\(p.name)")
                }
                return KerasWeightRef(path: "\(n.name).\(p.name)", layer: n.name, weight: w, layout: layout, graftShape: p.shape)
            }
        }
    }
}

extension ZooModel {
    /// Keras location and layout of every parameter, in path order. The first Dense after a Flatten gets
    /// `.flattenedDense` with the feature-map shape Flatten received (computed for `inputShape`).
    public func kerasWeightMap() throws -> KerasMapping {
        let whole = try graph
        let contexts = whole.kerasWeightContexts()
        var refs: [KerasWeightRef] = []
        for (node, module) in namedNodes {
            let ctx = contexts[node.name]!
            for (param, p) in module.namedParameters() {
                let path = "\(node.name).\(param)"
                guard let k = node.layer as? any KerasWeighted, let (w, layout) = k.kerasWeight(param, ctx) else {
                    throw ZooError.invalidOption("\(architecture): no Keras mapping for parameter \(path)")
                }
                refs.append(KerasWeightRef(path: path, layer: node.name, weight: w, layout: layout, graftShape: p.shape))
            }
        }
        return KerasMapping(weights: refs, legacyAliases: legacyAliases, bnEpsilon: bnEpsilon)
    }
}
