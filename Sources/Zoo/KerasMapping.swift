import TensorCore
import NN

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

    /// The Graft shape for a Keras tensor shape, or nil when the layout cannot apply to it.
    public func graftShape(forKeras s: [Int]) -> [Int]? {
        switch self {
        case .asIs: return s
        case .hwioToOihw: return s.count == 4 ? [s[3], s[2], s[0], s[1]] : nil
        case .inOutToOutIn: return s.count == 2 ? [s[1], s[0]] : nil
        case let .flattenedDense(c, h, w): return s.count == 2 && s[0] == c * h * w ? [s[1], s[0]] : nil
        }
    }

    /// The Keras shape for a Graft tensor shape, or nil when the layout cannot apply to it.
    public func kerasShape(forGraft s: [Int]) -> [Int]? {
        switch self {
        case .asIs: return s
        case .hwioToOihw: return s.count == 4 ? [s[2], s[3], s[1], s[0]] : nil
        case .inOutToOutIn: return s.count == 2 ? [s[1], s[0]] : nil
        case let .flattenedDense(c, h, w): return s.count == 2 && s[1] == c * h * w ? [s[1], s[0]] : nil
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

extension ZooModel {
    /// Keras location and layout of every parameter, in path order. The first Dense after a Flatten gets
    /// `.flattenedDense` with the feature-map shape Flatten received (computed for `inputShape`).
    public func kerasWeightMap() throws -> KerasMapping {
        // Shape entering each head layer (Flatten's input decides the fc1 permutation).
        var shape = try trunk.outputShape(for: [1] + inputShape)
        var flattenedFrom: [String: [Int]] = [:]   // dense name -> [C, H, W] flattened before it
        var pendingFlatten: [Int]? = nil
        for (name, layer) in head.layers {
            if layer is Flatten, shape.count == 4 { pendingFlatten = Array(shape[1...]) }
            if layer is Dense || layer is ExtendedDense {
                if let f = pendingFlatten { flattenedFrom[name] = f }
                pendingFlatten = nil
            }
            shape = try layer.outputShape(for: shape)
        }
        var refs: [KerasWeightRef] = []
        for (name, module) in namedLayers {
            guard let module else { continue }
            for (param, p) in module.namedParameters() {
                let path = "\(name).\(param)"
                let w: KerasWeightName, layout: KerasLayout
                switch (module, param) {
                case (is Conv2D, "weight"): (w, layout) = (.kernel, .hwioToOihw)
                case (is Dense, "weight"), (is ExtendedDense, "weight"):
                    w = .kernel
                    if let f = flattenedFrom[name] { layout = .flattenedDense(channels: f[0], height: f[1], width: f[2]) }
                    else { layout = .inOutToOutIn }
                case (is BatchNorm, "weight"): (w, layout) = (.gamma, .asIs)
                case (is BatchNorm, "bias"): (w, layout) = (.beta, .asIs)
                case (is BatchNorm, "runningMean"): (w, layout) = (.movingMean, .asIs)
                case (is BatchNorm, "runningVar"): (w, layout) = (.movingVariance, .asIs)
                case (_, "bias"): (w, layout) = (.bias, .asIs)
                default:
                    throw ZooError.invalidOption("\(architecture): no Keras mapping for parameter \(path)")
                }
                refs.append(KerasWeightRef(path: path, layer: name, weight: w, layout: layout, graftShape: p.shape))
            }
        }
        return KerasMapping(weights: refs, legacyAliases: legacyAliases, bnEpsilon: bnEpsilon)
    }
}
