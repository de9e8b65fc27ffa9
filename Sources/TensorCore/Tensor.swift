import Foundation

/// Shared, 64-byte aligned Float32 buffer. Tensors own one through copy-on-write.
/// Large buffers come from and return to `StoragePool` (reused across training steps).
public final class TensorStorage: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    public init(count: Int) {
        self.count = count
        let raw = StoragePool.shared.acquire(bytes: max(count, 1) * MemoryLayout<Float>.stride)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    public convenience init(copying source: UnsafePointer<Float>, count: Int) {
        self.init(count: count)
        pointer.update(from: source, count: count)
    }

    deinit { StoragePool.shared.release(UnsafeMutableRawPointer(pointer), bytes: max(count, 1) * MemoryLayout<Float>.stride) }
}

/// A dense, contiguous, row-major Float32 tensor with value semantics (copy-on-write).
/// Activations are NCHW, convolution weights OIHW, dense weights [out, in].
public struct Tensor: @unchecked Sendable, CustomStringConvertible {
    public private(set) var shape: [Int]
    public private(set) var storage: TensorStorage

    public var count: Int { storage.count }
    public var rank: Int { shape.count }
    public var description: String { "Tensor\(shape)" }

    /// Uninitialised contents: the caller fills every element.
    public init(uninitializedShape shape: [Int]) {
        self.shape = shape
        self.storage = TensorStorage(count: Tensor.elementCount(shape))
    }

    public init(zeros shape: [Int]) {
        self.init(shape: shape, repeating: 0)
    }

    public init(shape: [Int], repeating value: Float) {
        self.init(uninitializedShape: shape)
        storage.pointer.initialize(repeating: value, count: storage.count)
    }

    public init(shape: [Int], scalars: [Float]) {
        check(Tensor.elementCount(shape) == scalars.count,
              "Tensor(shape: \(shape)): expected \(Tensor.elementCount(shape)) scalars, got \(scalars.count)")
        self.init(uninitializedShape: shape)
        scalars.withUnsafeBufferPointer { storage.pointer.update(from: $0.baseAddress!, count: scalars.count) }
    }

    public init(shape: [Int], storage: TensorStorage) {
        check(Tensor.elementCount(shape) == storage.count, "Tensor(shape: \(shape)) over storage of \(storage.count)")
        self.shape = shape
        self.storage = storage
    }

    public static func elementCount(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    public var scalars: [Float] {
        Array(UnsafeBufferPointer(start: storage.pointer, count: count))
    }

    public subscript(flat index: Int) -> Float {
        get { storage.pointer[index] }
        set { makeUnique(); storage.pointer[index] = newValue }
    }

    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.pointer, count: count))
    }

    public mutating func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        makeUnique()
        return try body(UnsafeMutableBufferPointer(start: storage.pointer, count: count))
    }

    /// Pointer for reading; valid while `self` is alive.
    public var pointer: UnsafePointer<Float> { UnsafePointer(storage.pointer) }

    /// Pointer for writing after `makeUnique()`; valid while `self` is alive and not copied.
    public mutating func mutablePointer() -> UnsafeMutablePointer<Float> {
        makeUnique()
        return storage.pointer
    }

    public mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) {
            storage = TensorStorage(copying: storage.pointer, count: storage.count)
        }
    }

    /// Same elements, new shape (shares storage).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var resolved = newShape
        if let inferred = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != inferred }.map(\.element).reduce(1, *)
            resolved[inferred] = known == 0 ? 0 : count / known
        }
        check(Tensor.elementCount(resolved) == count, "reshape \(shape) -> \(newShape): element counts differ")
        return Tensor(shape: resolved, storage: storage)
    }

    public func copy() -> Tensor {
        Tensor(shape: shape, storage: TensorStorage(copying: storage.pointer, count: count))
    }
}

/// Shape checks that must keep their message in release builds (precondition traps silently under -O).
@inline(__always)
public func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
                  file: StaticString = #fileID, line: UInt = #line) {
    if !condition() { fatalError(message(), file: file, line: line) }
}
