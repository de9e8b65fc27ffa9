/// Basic element-wise arithmetic on whole tensors (vectorised by the compiler under -target-cpu haswell).
extension Tensor {
    public mutating func addInPlace(_ other: Tensor) {
        check(shape == other.shape, "addInPlace: \(shape) vs \(other.shape)")
        let n = count
        let dst = mutablePointer(), src = other.pointer
        parallelChunks(n, minChunk: 1 << 16) { r in
            for i in r { dst[i] += src[i] }
        }
    }

    public mutating func scaleInPlace(_ s: Float) {
        let n = count
        let dst = mutablePointer()
        parallelChunks(n, minChunk: 1 << 16) { r in
            for i in r { dst[i] *= s }
        }
    }

    public static func + (a: Tensor, b: Tensor) -> Tensor { var r = a.copy(); r.addInPlace(b); return r }

    public func map(_ f: (Float) -> Float) -> Tensor {
        var r = Tensor(uninitializedShape: shape)
        let d = r.mutablePointer(), s = pointer
        for i in 0..<count { d[i] = f(s[i]) }
        return r
    }

    public var sum: Float {
        var s: Double = 0
        let p = pointer
        for i in 0..<count { s += Double(p[i]) }
        return Float(s)
    }

    /// Largest absolute element-wise difference (for tests and checks).
    public func maxAbsDifference(_ other: Tensor) -> Float {
        check(shape == other.shape, "maxAbsDifference: \(shape) vs \(other.shape)")
        var m: Float = 0
        let a = pointer, b = other.pointer
        for i in 0..<count { m = Swift.max(m, abs(a[i] - b[i])) }
        return m
    }
}
