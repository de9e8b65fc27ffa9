import Foundation
import TensorCore

/// How a layer's weights are drawn. Fans follow Keras: fanIn = C/groups·KH·KW, fanOut = O·KH·KW
/// (Dense: in and out).
public enum WeightInitializer: Hashable, Sendable {
    /// U(-l, l), l = sqrt(6 / (fanIn + fanOut)) (the Keras default).
    case glorotUniform
    /// Truncated normal (±2σ, re-drawn) with σ = sqrt(2 / fanIn) / 0.8796 (Keras he_normal).
    case heNormal
    /// U(-l, l), l = sqrt(6 / fanIn) (Keras he_uniform).
    case heUniform

    public func make(_ shape: [Int], fanIn: Int, fanOut: Int, rng: inout SeededRandom) -> Tensor {
        switch self {
        case .glorotUniform:
            return .uniform(shape, limit: (6 / Float(fanIn + fanOut)).squareRoot(), rng: &rng)
        case .heUniform:
            return .uniform(shape, limit: (6 / Float(fanIn)).squareRoot(), rng: &rng)
        case .heNormal:
            let std = (2 / Float(fanIn)).squareRoot() / 0.879_625_66
            var t = Tensor(uninitializedShape: shape)
            let p = t.mutablePointer()
            for i in 0..<t.count {
                var z = rng.nextGaussian()
                while abs(z) > 2 { z = rng.nextGaussian() }
                p[i] = z * std
            }
            return t
        }
    }
}

/// 2-D convolution layer: NCHW input, weight [O, C/groups, KH, KW], bias [O], optional fused activation.
public final class Conv2D: Module, Layer {
    public let weight: Parameter
    public let bias: Parameter?
    public let inChannels: Int
    public let outChannels: Int
    public let kernelSize: (Int, Int)
    public let stride: (Int, Int)
    public let padding: Padding
    public let groups: Int
    /// Applied after the bias (Keras's `activation=`); relu/tanh/sigmoid/leaky/elu/softmax run in place.
    public var fusedActivation: Activation? = nil

    public init(inChannels: Int, outChannels: Int, kernelSize: (Int, Int), strides: (Int, Int) = (1, 1),
                padding: Padding = .valid, useBias: Bool = true, groups: Int = 1,
                initializer: WeightInitializer = .glorotUniform, rng: inout SeededRandom) {
        check(inChannels > 0 && outChannels > 0 && groups > 0 && inChannels % groups == 0 && outChannels % groups == 0,
              "Conv2D(\(inChannels)->\(outChannels)): channels must be positive and divisible by groups \(groups)")
        check(kernelSize.0 > 0 && kernelSize.1 > 0 && strides.0 > 0 && strides.1 > 0,
              "Conv2D(\(inChannels)->\(outChannels)): kernel \(kernelSize) and strides \(strides) must be positive")
        if case let .explicit(t, b, l, r) = padding {
            check(min(t, b, l, r) >= 0, "Conv2D(\(inChannels)->\(outChannels)): negative padding \(padding)")
        }
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernelSize = kernelSize
        self.stride = strides
        self.padding = padding
        self.groups = groups
        let field = kernelSize.0 * kernelSize.1
        weight = Parameter(initializer.make([outChannels, inChannels / groups, kernelSize.0, kernelSize.1],
                                            fanIn: inChannels / groups * field, fanOut: outChannels * field, rng: &rng))
        bias = useBias ? Parameter(Tensor(zeros: [outChannels])) : nil
    }

    public convenience init(inChannels: Int, outChannels: Int, kernel: Int, stride: Int = 1, padding: Padding = .valid,
                            useBias: Bool = true, groups: Int = 1, initializer: WeightInitializer = .glorotUniform,
                            rng: inout SeededRandom) {
        self.init(inChannels: inChannels, outChannels: outChannels, kernelSize: (kernel, kernel), strides: (stride, stride),
                  padding: padding, useBias: useBias, groups: groups, initializer: initializer, rng: &rng)
    }

    public var name: String {
        var s = "Conv2D(\(inChannels)->\(outChannels), \(sizeString(kernelSize))"
        if stride != (1, 1) { s += ", stride \(stride.0 == stride.1 ? "\(stride.0)" : sizeString(stride))" }
        if padding != .valid { s += ", \(padding)" }
        if groups != 1 { s += ", groups \(groups)" }
        return s + ")"
    }

    /// The convolution geometry for an NCHW input shape; throws (naming the layer) when the channels
    /// do not match or the output would be empty.
    public func geometry(for s: [Int]) throws -> Conv2DGeometry {
        guard s.count == 4 else {
            throw ShapeError.invalidInput(layer: name, input: s, reason: "expected NCHW [N, \(inChannels), H, W]")
        }
        guard s[1] == inChannels else {
            throw ShapeError.invalidInput(layer: name, input: s, reason: "has \(s[1]) channels, expected \(inChannels)")
        }
        let p = padding.amounts(height: s[2], width: s[3], kernel: kernelSize, stride: stride)
        let g = Conv2DGeometry(batch: s[0], inChannels: inChannels, inHeight: s[2], inWidth: s[3],
                               outChannels: outChannels, kernelHeight: kernelSize.0, kernelWidth: kernelSize.1,
                               strideH: stride.0, strideW: stride.1,
                               padTop: p.top, padBottom: p.bottom, padLeft: p.left, padRight: p.right, groups: groups)
        guard s[2] + p.top + p.bottom >= kernelSize.0, s[3] + p.left + p.right >= kernelSize.1, s[0] > 0 else {
            throw ShapeError.invalidInput(layer: name, input: s,
                                          reason: "is too small: the output would be empty (padded \(s[2] + p.top + p.bottom)x\(s[3] + p.left + p.right) < kernel \(sizeString(kernelSize)))")
        }
        return g
    }

    public func outputShape(for inputShape: [Int]) throws -> [Int] { try geometry(for: inputShape).outputShape }

    public func callAsFunction(_ x: Var) -> Var {
        let g = checked { try geometry(for: x.shape) }
        return conv2d(x, Var(weight), bias.map { Var($0) }, g, activation: fusedActivation)
    }
}

/// Zero padding of the spatial axes (Keras ZeroPadding2D).
public final class ZeroPadding2D: Module, Layer {
    public let top: Int, bottom: Int, left: Int, right: Int

    public init(top: Int, bottom: Int, left: Int, right: Int) {
        check(min(top, bottom, left, right) >= 0, "ZeroPadding2D: negative padding (\(top), \(bottom), \(left), \(right))")
        self.top = top; self.bottom = bottom; self.left = left; self.right = right
    }

    public convenience init(_ p: Int) { self.init(top: p, bottom: p, left: p, right: p) }

    public func outputShape(for s: [Int]) throws -> [Int] {
        guard s.count == 4 else {
            throw ShapeError.invalidInput(layer: "ZeroPadding2D(\(top), \(bottom), \(left), \(right))", input: s,
                                          reason: "expected NCHW [N, C, H, W]")
        }
        return [s[0], s[1], s[2] + top + bottom, s[3] + left + right]
    }

    public func callAsFunction(_ x: Var) -> Var {
        _ = checked { try outputShape(for: x.shape) }
        return zeroPad2d(x, top: top, bottom: bottom, left: left, right: right)
    }
}
