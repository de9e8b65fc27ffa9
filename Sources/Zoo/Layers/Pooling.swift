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

/// Keras `MaxPooling2D` / `AveragePooling2D` (square window and stride).
public struct Pool2DKind: LayerKind, ModuleBuildable, Hashable {
    public var kind: PoolKind
    public var kernel: Int
    public var stride: Int
    public var padding: SpecPadding = .valid

    public init(_ kind: PoolKind, kernel: Int, stride: Int, padding: SpecPadding = .valid) {
        self.kind = kind; self.kernel = kernel; self.stride = stride; self.padding = padding
    }

    public func outputShape(_ inputs: [[Int]]) throws -> [Int] {
        let (oh, ow) = try windowed(inputs, what: "\(kind) pooling", kernel: kernel, stride: stride, padding: padding)
        return [inputs[0][0], oh, ow]
    }

    public func makeModule(_ inputs: [[Int]], rng: inout SeededRandom) -> Module {
        switch kind {
        case .max: MaxPool2D(kernel: kernel, stride: stride, padding: padding.nn)
        case .average: AvgPool2D(kernel: kernel, stride: stride, padding: padding.nn)
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
