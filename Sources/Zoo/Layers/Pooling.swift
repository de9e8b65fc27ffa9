import TensorCore
import NN

/// Keras `ZeroPadding2D`.
public struct ZeroPadding2DKind: LayerKind, ModuleBuildable, Hashable {
    public var top: Int, bottom: Int, left: Int, right: Int

    public init(top: Int, bottom: Int, left: Int, right: Int) {
        self.top = top; self.bottom = bottom; self.left = left; self.right = right
    }

    public func outputShape(_ inputs: [[Int]]) throws -> [Int] {
        let (c, h, w) = try spatial(inputs, what: "zero padding")
        return [c, h + top + bottom, w + left + right]
    }

    public func makeModule(_ inputs: [[Int]], rng: inout SeededRandom) -> Module {
        ZeroPadding2D(top: top, bottom: bottom, left: left, right: right)
    }

    public static func describing(_ m: Module) -> ZeroPadding2DKind? {
        (m as? ZeroPadding2D).map { ZeroPadding2DKind(top: $0.top, bottom: $0.bottom, left: $0.left, right: $0.right) }
    }
}

/// Keras `MaxPooling2D` / `AveragePooling2D` (square window and stride). `ceilMode` is PyTorch's and
/// Caffe's output rounding, max pooling only: the last window may hang over the bottom/right edge,
/// which is the same as that much more padding there, since padded cells never win a max. So the
/// module is a max pool with the extra padding, and runs (forward, backward, oneDNN) as any other.
public struct Pool2DKind: LayerKind, ModuleBuildable, Hashable {
    public var kind: PoolKind
    public var kernel: Int
    public var stride: Int
    public var padding: SpecPadding = .valid
    public var ceilMode: Bool = false

    public init(_ kind: PoolKind, kernel: Int, stride: Int, padding: SpecPadding = .valid, ceilMode: Bool = false) {
        self.kind = kind; self.kernel = kernel; self.stride = stride; self.padding = padding; self.ceilMode = ceilMode
    }

    public func outputShape(_ inputs: [[Int]]) throws -> [Int] {
        let p = try effectivePadding(inputs)
        let (oh, ow) = try windowed(inputs, what: "\(kind) pooling", kernel: kernel, stride: stride, padding: p)
        return [inputs[0][0], oh, ow]
    }

    /// `padding`, plus in ceil mode the bottom/right overhang of the last window (PyTorch's rule: the
    /// last window must start inside the input or its left padding).
    func effectivePadding(_ inputs: [[Int]]) throws -> SpecPadding {
        guard ceilMode else { return padding }
        let (_, h, w) = try spatial(inputs, what: "\(kind) pooling")
        guard kind == .max else { throw shapeFailure(inputs, "ceil mode is supported for max pooling only") }
        let (t, b, l, r): (Int, Int, Int, Int)
        switch padding {
        case .same: throw shapeFailure(inputs, "ceil mode takes explicit or valid padding, not 'same'")
        case .valid: (t, b, l, r) = (0, 0, 0, 0)
        case let .explicit(top, bottom, left, right): (t, b, l, r) = (top, bottom, left, right)
        }
        func extra(_ size: Int, _ before: Int, _ after: Int) -> Int {
            let span = size + before + after - kernel
            guard span >= 0 else { return 0 }
            var out = (span + stride - 1) / stride + 1
            if (out - 1) * stride >= size + before { out -= 1 }
            return max(0, (out - 1) * stride + kernel - (size + before + after))
        }
        return .explicit(top: t, bottom: b + extra(h, t, b), left: l, right: r + extra(w, l, r))
    }

    public func makeModule(_ inputs: [[Int]], rng: inout SeededRandom) -> Module {
        let p = ((try? effectivePadding(inputs)) ?? padding).nn
        switch kind {
        case .max: return MaxPool2D(kernel: kernel, stride: stride, padding: p)
        case .average: return AvgPool2D(kernel: kernel, stride: stride, padding: p)
        }
    }

    public static func describing(_ m: Module) -> Pool2DKind? {
        guard let p = m as? Pool2DLayer, p.kernelSize.0 == p.kernelSize.1, p.stride.0 == p.stride.1 else { return nil }
        let kind: PoolKind
        switch p {
        case is MaxPool2D: kind = .max
        case is AvgPool2D: kind = .average
        default: return nil
        }
        return Pool2DKind(kind, kernel: p.kernelSize.0, stride: p.stride.0, padding: SpecPadding(p.padding))
    }
}

/// Keras `GlobalAveragePooling2D` / `GlobalMaxPooling2D`: [C, H, W] -> [C].
public struct GlobalPool2DKind: LayerKind, ModuleBuildable, Hashable {
    public var kind: PoolKind
    /// Keras `keepdims`: the output is [C, 1, 1] (MobileNet's 1x1-convolution head reads it).
    public var keepDims: Bool = false

    public init(_ kind: PoolKind, keepDims: Bool = false) { self.kind = kind; self.keepDims = keepDims }

    public func outputShape(_ inputs: [[Int]]) throws -> [Int] {
        let (c, _, _) = try spatial(inputs, what: "head pooling")
        return keepDims ? [c, 1, 1] : [c]
    }

    public func makeModule(_ inputs: [[Int]], rng: inout SeededRandom) -> Module {
        switch kind {
        case .max: GlobalMaxPool2D(keepDims: keepDims)
        case .average: GlobalAvgPool2D(keepDims: keepDims)
        }
    }

    public static func describing(_ m: Module) -> GlobalPool2DKind? {
        switch m {
        case let p as GlobalMaxPool2D: GlobalPool2DKind(.max, keepDims: p.keepDims)
        case let p as GlobalAvgPool2D: GlobalPool2DKind(.average, keepDims: p.keepDims)
        default: nil
        }
    }
}
