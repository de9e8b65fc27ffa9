import TensorCore

/// Shared window logic of the 2-D pooling layers (floor mode; padded cells ignored).
public class Pool2DLayer: Module {
    public let kernelSize: (Int, Int)
    public let stride: (Int, Int)
    public let padding: Padding
    let kindName: String

    init(_ kindName: String, kernelSize: (Int, Int), strides: (Int, Int)?, padding: Padding) {
        let s = strides ?? kernelSize
        check(kernelSize.0 > 0 && kernelSize.1 > 0 && s.0 > 0 && s.1 > 0,
              "\(kindName): kernel \(kernelSize) and strides \(s) must be positive")
        self.kindName = kindName
        self.kernelSize = kernelSize
        self.stride = s
        self.padding = padding
    }

    public var name: String {
        var s = "\(kindName)(\(sizeString(kernelSize))"
        if stride != kernelSize { s += ", stride \(stride.0 == stride.1 ? "\(stride.0)" : sizeString(stride))" }
        if padding != .valid { s += ", \(padding)" }
        return s + ")"
    }

    public func geometry(for s: [Int]) throws -> Pool2DGeometry {
        guard s.count == 4 else { throw ShapeError.invalidInput(layer: name, input: s, reason: "expected NCHW [N, C, H, W]") }
        let p = padding.amounts(height: s[2], width: s[3], kernel: kernelSize, stride: stride)
        guard p.top < kernelSize.0, p.bottom < kernelSize.0, p.left < kernelSize.1, p.right < kernelSize.1,
              min(p.top, p.bottom, p.left, p.right) >= 0 else {
            throw ShapeError.invalidInput(layer: name, input: s, reason: "padding \(padding) must be smaller than the window")
        }
        guard s[2] + p.top + p.bottom >= kernelSize.0, s[3] + p.left + p.right >= kernelSize.1, s[0] > 0 else {
            throw ShapeError.invalidInput(layer: name, input: s,
                                          reason: "is too small: the output would be empty (padded \(s[2] + p.top + p.bottom)x\(s[3] + p.left + p.right) < window \(sizeString(kernelSize)))")
        }
        return Pool2DGeometry(batch: s[0], channels: s[1], inHeight: s[2], inWidth: s[3],
                              kernelHeight: kernelSize.0, kernelWidth: kernelSize.1, strideH: stride.0, strideW: stride.1,
                              padTop: p.top, padBottom: p.bottom, padLeft: p.left, padRight: p.right)
    }

    public func outputShape(for inputShape: [Int]) throws -> [Int] { try geometry(for: inputShape).outputShape }
}

public final class MaxPool2D: Pool2DLayer, Layer {
    public init(kernel: Int, stride: Int? = nil, padding: Padding = .valid) {
        super.init("MaxPool2D", kernelSize: (kernel, kernel), strides: stride.map { ($0, $0) }, padding: padding)
    }
    public init(kernelSize: (Int, Int), strides: (Int, Int)? = nil, padding: Padding = .valid) {
        super.init("MaxPool2D", kernelSize: kernelSize, strides: strides, padding: padding)
    }
    public func callAsFunction(_ x: Var) -> Var { maxPool2d(x, checked { try geometry(for: x.shape) }) }
}

/// Average over the in-bounds cells of each window ('same' padding is not counted, as in Keras).
public final class AvgPool2D: Pool2DLayer, Layer {
    public init(kernel: Int, stride: Int? = nil, padding: Padding = .valid) {
        super.init("AvgPool2D", kernelSize: (kernel, kernel), strides: stride.map { ($0, $0) }, padding: padding)
    }
    public init(kernelSize: (Int, Int), strides: (Int, Int)? = nil, padding: Padding = .valid) {
        super.init("AvgPool2D", kernelSize: kernelSize, strides: strides, padding: padding)
    }
    public func callAsFunction(_ x: Var) -> Var { avgPool2d(x, checked { try geometry(for: x.shape) }) }
}

/// sqrt(mean of squares) over the in-bounds cells of each window (TFLite L2_POOL_2D; PyTorch's
/// LPPool2d(2) is this times sqrt(window size) for valid windows).
public final class L2Pool2D: Pool2DLayer, Layer {
    public init(kernel: Int, stride: Int? = nil, padding: Padding = .valid) {
        super.init("L2Pool2D", kernelSize: (kernel, kernel), strides: stride.map { ($0, $0) }, padding: padding)
    }
    public init(kernelSize: (Int, Int), strides: (Int, Int)? = nil, padding: Padding = .valid) {
        super.init("L2Pool2D", kernelSize: kernelSize, strides: strides, padding: padding)
    }
    public func callAsFunction(_ x: Var) -> Var { l2Pool2d(x, checked { try geometry(for: x.shape) }) }
}

func globalPoolShape(_ layer: String, _ s: [Int]) throws -> [Int] {
    guard s.count == 4, s[2] > 0, s[3] > 0 else {
        throw ShapeError.invalidInput(layer: layer, input: s, reason: "expected non-empty NCHW [N, C, H, W]")
    }
    return [s[0], s[1]]
}

/// [N, C, H, W] -> [N, C] (mean over H, W).
public final class GlobalAvgPool2D: Module, Layer {
    /// Keras `keepdims=True`: [N, C, 1, 1] instead of [N, C] (MobileNet's convolutional head).
    public let keepDims: Bool
    public init(keepDims: Bool = false) { self.keepDims = keepDims }
    public func outputShape(for s: [Int]) throws -> [Int] {
        let r = try globalPoolShape("GlobalAvgPool2D", s)
        return keepDims ? r + [1, 1] : r
    }
    public func callAsFunction(_ x: Var) -> Var {
        let s = checked { try outputShape(for: x.shape) }
        let y = globalAvgPool2d(x)
        return keepDims ? reshape(y, s) : y
    }
}

/// [N, C, H, W] -> [N, C] (max over H, W).
public final class GlobalMaxPool2D: Module, Layer {
    /// Keras `keepdims=True`: [N, C, 1, 1] instead of [N, C] (MobileNet's convolutional head).
    public let keepDims: Bool
    public init(keepDims: Bool = false) { self.keepDims = keepDims }
    public func outputShape(for s: [Int]) throws -> [Int] {
        let r = try globalPoolShape("GlobalMaxPool2D", s)
        return keepDims ? r + [1, 1] : r
    }
    public func callAsFunction(_ x: Var) -> Var {
        let s = checked { try outputShape(for: x.shape) }
        let y = globalMaxPool2d(x)
        return keepDims ? reshape(y, s) : y
    }
}
