import CDNNL
import Foundation
import TensorCore

// oneDNN C objects, each owned by one small final class whose `deinit` destroys it. Each is created
// on its own, so a throw half-way through building a primitive frees what was already made (Swift
// runs no `deinit` on a partly initialised object, so an `init` never holds several raw handles).

struct DNNLError: Error, CustomStringConvertible {
    let what: String, status: dnnl_status_t
    var description: String { "\(what): \(String(cString: dnnl_status2str(status)))" }
}

@inline(__always) func dnnlCheck(_ s: dnnl_status_t, _ what: @autoclosure () -> String) throws {
    if s != dnnl_success { throw DNNLError(what: what(), status: s) }
}

/// A memory descriptor of f32 values with these dimensions and format tag.
func dnnlMemoryDesc(_ dims: [Int], _ tag: dnnl_format_tag_t) throws -> dnnl_memory_desc_t {
    try dnnlTypedMemoryDesc(dnnl_f32, dims, tag)
}

/// A memory descriptor of `dataType` values with these dimensions and format tag.
func dnnlTypedMemoryDesc(_ dataType: dnnl_data_type_t, _ dims: [Int], _ tag: dnnl_format_tag_t) throws -> dnnl_memory_desc_t {
    var d = dnnl_memory_desc_t()
    try dnnlCheck(dnnl_memory_desc_init_by_tag(&d, Int32(dims.count), dims.map(Int64.init), dataType, tag),
                  "memory_desc_init \(dims)")
    return d
}

/// `dnnl_post_ops_t`.
final class PostOps {
    let handle: dnnl_post_ops_t

    init() throws {
        var h: dnnl_post_ops_t?
        try dnnlCheck(dnnl_post_ops_create(&h), "post_ops_create")
        guard let h else { throw DNNLError(what: "post_ops_create", status: dnnl_out_of_memory) }
        handle = h
    }

    deinit { dnnl_post_ops_destroy(handle) }
}

/// `dnnl_primitive_attr_t`.
final class PrimitiveAttr {
    let handle: dnnl_primitive_attr_t

    init() throws {
        var h: dnnl_primitive_attr_t?
        try dnnlCheck(dnnl_primitive_attr_create(&h), "primitive_attr_create")
        guard let h else { throw DNNLError(what: "primitive_attr_create", status: dnnl_out_of_memory) }
        handle = h
    }

    /// An attribute with a user-provided scratchpad (oneDNN 2.x's library scratchpad is thread-local and
    /// sized at creation, so a primitive run on another thread would write through a null pointer).
    static func userScratchpad() throws -> PrimitiveAttr {
        let a = try PrimitiveAttr()
        try dnnlCheck(dnnl_primitive_attr_set_scratchpad_mode(a.handle, dnnl_scratchpad_mode_user), "set_scratchpad_mode")
        return a
    }

    deinit { dnnl_primitive_attr_destroy(handle) }
}

/// `dnnl_primitive_desc_t`.
final class PrimitiveDesc: @unchecked Sendable {
    let handle: dnnl_primitive_desc_t

    /// Runs `create` (one `dnnl_*_primitive_desc_create` call) and owns what it made.
    init(_ what: @autoclosure () -> String, _ create: (inout dnnl_primitive_desc_t?) -> dnnl_status_t) throws {
        var h: dnnl_primitive_desc_t?
        try dnnlCheck(create(&h), what())
        guard let h else { throw DNNLError(what: what(), status: dnnl_runtime_error) }
        handle = h
    }

    /// From an op descriptor (`dnnl_convolution_desc_t`, ...), with an optional forward hint.
    convenience init<D>(_ what: @autoclosure () -> String, op desc: inout D, attr: PrimitiveAttr?, engine: dnnl_engine_t,
                        hint: PrimitiveDesc? = nil) throws {
        try self.init(what()) { pd in
            withUnsafePointer(to: &desc) { dnnl_primitive_desc_create(&pd, UnsafeRawPointer($0), attr?.handle, engine, hint?.handle) }
        }
    }

    /// Every implementation oneDNN offers for `desc`, in its order of preference (the first is what
    /// `init(op:)` gives).
    static func implementations<D>(op desc: inout D, attr: PrimitiveAttr?, engine: dnnl_engine_t) -> [PrimitiveDesc] {
        var it: dnnl_primitive_desc_iterator_t?
        let st = withUnsafePointer(to: &desc) { dnnl_primitive_desc_iterator_create(&it, UnsafeRawPointer($0), attr?.handle, engine, nil) }
        guard st == dnnl_success, let it else { return [] }
        defer { dnnl_primitive_desc_iterator_destroy(it) }
        var all: [PrimitiveDesc] = []
        repeat {
            if let h = dnnl_primitive_desc_iterator_fetch(it), let pd = try? PrimitiveDesc("iterator fetch", { $0 = h; return dnnl_success }) {
                all.append(pd)
            }
        } while dnnl_primitive_desc_iterator_next(it) == dnnl_success && all.count < 64
        return all
    }

    /// A reorder between two layouts on one engine.
    static func reorder(from: dnnl_memory_desc_t, to: dnnl_memory_desc_t, engine: dnnl_engine_t, attr: PrimitiveAttr?,
                        _ what: @autoclosure () -> String) throws -> PrimitiveDesc {
        var f = from, t = to
        return try PrimitiveDesc(what()) { dnnl_reorder_primitive_desc_create(&$0, &f, engine, &t, engine, attr?.handle) }
    }

    deinit { dnnl_primitive_desc_destroy(handle) }

    /// The memory descriptor oneDNN chose for `what` (`dnnl_query_src_md`, ...), or nil.
    func memoryDesc(_ what: dnnl_query_t, _ index: Int32 = 0) -> dnnl_memory_desc_t? {
        dnnl_primitive_desc_query_md(handle, what, index)?.pointee
    }

    /// The scratchpad this primitive needs, nil when it needs none.
    var scratchpad: (md: dnnl_memory_desc_t, bytes: Int)? {
        guard var m = memoryDesc(dnnl_query_scratchpad_md) else { return nil }
        let size = dnnl_memory_desc_get_size(&m)
        return size == 0 ? nil : (m, size)
    }

    /// oneDNN's implementation name, e.g. "jit:avx2" or "brg:avx512_core".
    var implementation: String {
        var impl: UnsafePointer<CChar>?
        _ = withUnsafeMutablePointer(to: &impl) { dnnl_primitive_desc_query(handle, dnnl_query_impl_info_str, 0, $0) }
        return impl.map { String(cString: $0) } ?? "?"
    }
}

/// `dnnl_primitive_t`. Thread-safe to execute (with a user scratchpad per call).
final class Primitive: @unchecked Sendable {
    let handle: dnnl_primitive_t

    init(_ pd: PrimitiveDesc, _ what: @autoclosure () -> String) throws {
        var h: dnnl_primitive_t?
        try dnnlCheck(dnnl_primitive_create(&h, pd.handle), what())
        guard let h else { throw DNNLError(what: what(), status: dnnl_runtime_error) }
        handle = h
    }

    deinit { dnnl_primitive_destroy(handle) }
}

/// `dnnl_memory_t` over a caller-owned buffer (oneDNN never frees the buffer).
final class Memory: @unchecked Sendable {
    let handle: dnnl_memory_t

    init(_ md: dnnl_memory_desc_t, engine: dnnl_engine_t, buffer: UnsafeMutableRawPointer?) throws {
        var m = md
        var h: dnnl_memory_t?
        try dnnlCheck(dnnl_memory_create(&h, &m, engine, buffer), "memory_create")
        guard let h else { throw DNNLError(what: "memory_create", status: dnnl_out_of_memory) }
        handle = h
    }

    deinit { dnnl_memory_destroy(handle) }
}

/// oneDNN memory objects over caller-owned buffers for one call; destroyed when the call's owner goes.
final class DNNLMemoryHandles {
    private let engine: dnnl_engine_t
    private var made: [Memory] = []

    init(engine: dnnl_engine_t) { self.engine = engine }

    func wrap(_ md: dnnl_memory_desc_t, _ handle: UnsafeMutableRawPointer) -> dnnl_memory_t {
        let m: Memory
        do { m = try Memory(md, engine: engine, buffer: handle) } catch {
            preconditionFailure("DNNLConv \(error)")
        }
        made.append(m)
        return m.handle
    }
}

/// The CPU engine and one in-order stream, created once.
final class DNNLContext: @unchecked Sendable {
    static let shared: DNNLContext? = DNNLContext()
    let engine: dnnl_engine_t
    let stream: dnnl_stream_t
    /// oneDNN (OpenMP build) sizes its thread team from the calling thread's OpenMP ICV; set it to
    /// `Threads.count` before each call, via libgomp's `omp_set_num_threads` (no omp.h in the shim).
    let setOMPThreads: (@convention(c) (Int32) -> Void)?

    private init?() {
        var e: dnnl_engine_t?
        guard dnnl_engine_create(&e, dnnl_cpu, 0) == dnnl_success, let e else { return nil }
        var s: dnnl_stream_t?
        guard dnnl_stream_create(&s, e, dnnl_stream_default_flags.rawValue) == dnnl_success, let s else {
            dnnl_engine_destroy(e); return nil
        }
        engine = e; stream = s
        if let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "omp_set_num_threads") {
            setOMPThreads = unsafeBitCast(sym, to: (@convention(c) (Int32) -> Void).self)
        } else {
            setOMPThreads = nil
        }
    }

    deinit {
        dnnl_stream_destroy(stream)
        dnnl_engine_destroy(engine)
    }
}
