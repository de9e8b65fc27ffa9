import TensorCore
import NN

/// Keras `Cropping2D`: rows and columns removed at the edges.
public struct Cropping2DKind: LayerKind, ModuleBuildable, Hashable {
    public var top: Int, bottom: Int, left: Int, right: Int
    public init(top: Int, bottom: Int, left: Int, right: Int) { self.top = top; self.bottom = bottom; self.left = left; self.right = right }

    public func outputShape(_ inputs: [[Int]]) throws -> [Int] {
        let (c, h, w) = try spatial(inputs, what: "cropping")
        guard h > top + bottom, w > left + right else { throw shapeFailure(inputs, "cropping (\(top), \(bottom), \(left), \(right)) leaves nothing") }
        return [c, h - top - bottom, w - left - right]
    }
    public func makeModule(_ inputs: [[Int]], rng: inout SeededRandom) -> Module { Cropping2D(top: top, bottom: bottom, left: left, right: right) }
    public static func describing(_ m: Module) -> Cropping2DKind? {
        (m as? Cropping2D).map { Cropping2DKind(top: $0.top, bottom: $0.bottom, left: $0.left, right: $0.right) }
    }
}

/// Keras `UpSampling2D` (nearest): each pixel repeated `height` x `width` times.
public struct UpSampling2DKind: LayerKind, ModuleBuildable, Hashable {
    public var height: Int, width: Int
    public init(height: Int, width: Int) { self.height = height; self.width = width }

    public func outputShape(_ inputs: [[Int]]) throws -> [Int] {
        let (c, h, w) = try spatial(inputs, what: "up-sampling")
        guard height > 0, width > 0 else { throw shapeFailure(inputs, "up-sampling factors must be positive") }
        return [c, h * height, w * width]
    }
    public func makeModule(_ inputs: [[Int]], rng: inout SeededRandom) -> Module { UpSampling2D(height: height, width: width) }
    public static func describing(_ m: Module) -> UpSampling2DKind? { (m as? UpSampling2D).map { UpSampling2DKind(height: $0.height, width: $0.width) } }
}
