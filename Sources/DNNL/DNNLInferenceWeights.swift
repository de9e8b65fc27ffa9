import CDNNL
import Foundation

/// Weights and biases in the layouts the primitives want, shared by every program of one net (batch
/// slices, batch sizes): the copies are made once, by the first program that needs that layout.
final class DNNLInferenceWeights: @unchecked Sendable {
    final class Buffer: @unchecked Sendable {
        let pointer: UnsafeMutableRawPointer
        let md: dnnl_memory_desc_t
        init(bytes: Int, md: dnnl_memory_desc_t) {
            pointer = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
            self.md = md
        }
        deinit { pointer.deallocate() }
    }

    private let lock = NSLock()
    private var entries: [Int: [Buffer]] = [:]
    private var choices: [Int: DNNLPrecisionChoice?] = [:]

    func buffer(key: Int, md: dnnl_memory_desc_t, bytes: Int, fill: (UnsafeMutableRawPointer) throws -> Void) throws -> Buffer {
        lock.lock()
        defer { lock.unlock() }
        var want = md
        for b in entries[key] ?? [] {
            var have = b.md
            if dnnl_memory_desc_equal(&have, &want) != 0 { return b }
        }
        let b = Buffer(bytes: bytes, md: md)
        try fill(b.pointer)
        entries[key, default: []].append(b)
        return b
    }

    /// The bf16-or-fp32 choice for `key` (an op of the graph): `decide`'s, made (timed) by the first
    /// program that asks, while the others wait, so the net's programs agree and time nothing twice.
    func choice(key: Int, decide: () throws -> DNNLPrecisionChoice?) rethrows -> DNNLPrecisionChoice? {
        lock.lock()
        defer { lock.unlock() }
        if let c = choices[key] { return c }
        let c = try decide()
        choices[key] = c
        return c
    }
}
