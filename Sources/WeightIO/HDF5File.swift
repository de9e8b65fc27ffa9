import CHDF5
import Foundation
import TensorCore

// A thin, safe wrapper over the HDF5 C API: every handle is owned by an object whose deinit (or a
// local `defer`) closes it, HDF5's stderr error printing is switched off, and failures become
// `WeightIOError`s that name the file and the object.

/// HDF5's error printing is per thread in thread-safe builds, so every public entry point calls this.
@inline(__always) func hdf5Quiet() { _ = chdf5_silence_errors() }

/// The most specific message on the calling thread's HDF5 error stack ("" if none).
func hdf5LastError() -> String {
    var buffer = [CChar](repeating: 0, count: 512)
    chdf5_last_error(&buffer, buffer.count)
    let message = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    // A failed system call's message carries a timestamp, buffer addresses and sizes; keep its cause.
    if let start = message.range(of: "error message = '"), let end = message[start.upperBound...].firstIndex(of: "'") {
        return String(message[start.upperBound..<end])
    }
    return message
}

public enum HDF5ObjectKind: Sendable, Equatable { case group, dataset, other }

/// A link in a group: its name, what it points at, and the object-header address (creation order in
/// files written once, e.g. by h5py or Caffe).
public struct HDF5Child: Sendable, Equatable {
    public let name: String
    public let kind: HDF5ObjectKind
    public let address: UInt64
}

/// An attribute's value as stored. Integers and floats are widened to Double.
public enum HDF5AttributeValue: Equatable, Sendable {
    case string(String)                   // scalar string (vlen or fixed length)
    case strings([String])                // string array, flattened
    case numbers([Double], shape: [Int])  // numeric, flattened; Keras's empty list is `.numbers([], shape: [0])`
}

/// An open HDF5 file. Closed by `close()` or on deinit (HDF5 keeps it open while groups or datasets
/// obtained from it are alive).
public final class HDF5File {
    public let path: String
    public let isWritable: Bool
    /// Size on disk when opened for reading: the bound on what any dataset or attribute may declare.
    let byteSize: Int
    private var id: hid_t
    private var isOpen = true

    private init(path: String, id: hid_t, writable: Bool, byteSize: Int = Int.max) {
        self.path = path
        self.id = id
        self.isWritable = writable
        self.byteSize = byteSize
    }

    deinit { if isOpen { _ = H5Fclose(id) } }

    /// The size of a file that may be an HDF5 file: refuses a missing path, a directory, a FIFO or
    /// device (which would block or never end), and an empty file, without HDF5 touching it.
    static func checkedSize(_ path: String) throws -> Int {
        var info = stat()
        guard stat(path, &info) == 0 else { throw WeightIOError(.fileNotFound, file: path, "no such file") }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw WeightIOError(.notHDF5, file: path, "not an HDF5 file (it is a directory)")
        default: throw WeightIOError(.notHDF5, file: path, "not an HDF5 file (not a regular file)")
        }
        if info.st_size == 0 { throw WeightIOError(.notHDF5, file: path, "not an HDF5 file (empty, 0 bytes)") }
        return Int(info.st_size)
    }

    /// Opens an existing file read-only. Distinguishes a missing file, an empty or non-HDF5 file, and
    /// a truncated or damaged HDF5 file.
    public static func open(_ path: String) throws -> HDF5File {
        hdf5Quiet()
        let size = try checkedSize(path)
        let signature = H5Fis_hdf5(path)
        if signature == 0 {
            throw WeightIOError(.notHDF5, file: path, "not an HDF5 file (no HDF5 signature in its \(size) bytes)")
        }
        if signature < 0 {
            throw WeightIOError(.notHDF5, file: path, "not an HDF5 file (cannot be read: \(hdf5LastError()))")
        }
        let fid = H5Fopen(path, chdf5_acc_rdonly(), chdf5_p_default())
        if fid < 0 {
            let why = hdf5LastError()
            throw WeightIOError(.corruptFile, file: path,
                                "truncated or corrupt HDF5 file (\(size) bytes; HDF5: \(why.isEmpty ? "open failed" : why))")
        }
        return HDF5File(path: path, id: fid, writable: false, byteSize: size)
    }

    /// Creates (or truncates) a file for writing. HDF5 defaults give superblock v0 and old-style
    /// groups, which h5py, tf_keras and Keras 3 all read.
    public static func create(_ path: String) throws -> HDF5File {
        hdf5Quiet()
        let fid = H5Fcreate(path, chdf5_acc_trunc(), chdf5_p_default(), chdf5_p_default())
        if fid < 0 { throw WeightIOError(.writeFailed, file: path, "cannot create HDF5 file (\(hdf5LastError()))") }
        return HDF5File(path: path, id: fid, writable: true)
    }

    /// The root group `/`.
    public func root() throws -> HDF5Group { try openGroup("/") }

    /// Flushes and closes the file; errors (e.g. a full disk) surface here. Idempotent.
    public func close() throws {
        guard isOpen else { return }
        hdf5Quiet()
        isOpen = false
        if isWritable && H5Fflush(id, H5F_SCOPE_GLOBAL) < 0 {
            let why = hdf5LastError()
            _ = H5Fclose(id)
            throw WeightIOError(.writeFailed, file: path, "flush failed (\(why))")
        }
        if H5Fclose(id) < 0 { throw WeightIOError(.hdf5Failure, file: path, "close failed (\(hdf5LastError()))") }
    }

    func checkOpen() throws {
        if !isOpen { throw WeightIOError(.hdf5Failure, file: path, "file already closed") }
    }

    func openGroup(_ name: String) throws -> HDF5Group {
        hdf5Quiet()
        try checkOpen()
        let gid = H5Gopen2(id, name, chdf5_p_default())
        if gid < 0 { throw WeightIOError(.missingObject, file: path, "no group '\(name)'") }
        return HDF5Group(file: self, id: gid, name: name)
    }
}

/// A group or a dataset: both carry attributes.
public class HDF5Object {
    public let file: HDF5File
    /// Full path in the file, e.g. `/conv1/conv1/kernel:0`.
    public let name: String
    let id: hid_t

    init(file: HDF5File, id: hid_t, name: String) {
        self.file = file
        self.id = id
        self.name = name
    }

    deinit { _ = H5Oclose(id) }

    func error(_ kind: WeightIOError.Kind, _ detail: String) -> WeightIOError {
        WeightIOError(kind, file: file.path, detail)
    }

    func childPath(_ child: String) -> String { name == "/" ? "/" + child : name + "/" + child }

    // MARK: attributes

    /// Attribute names in name order.
    public func attributeNames() throws -> [String] {
        hdf5Quiet()
        let box = NameBox()
        let status = chdf5_iterate_attributes(id, { name, ctx in
            Unmanaged<NameBox>.fromOpaque(ctx!).takeUnretainedValue().names.append(String(cString: name!))
            return 0
        }, Unmanaged.passUnretained(box).toOpaque())
        if status < 0 { throw error(.hdf5Failure, "cannot list attributes of '\(name)' (\(hdf5LastError()))") }
        return box.names
    }

    public func hasAttribute(_ attribute: String) -> Bool {
        hdf5Quiet()
        return H5Aexists(id, attribute) > 0
    }

    /// Reads an attribute of any supported type: variable- or fixed-length strings (ASCII or UTF-8),
    /// string arrays, and integer or float scalars/arrays.
    public func attribute(_ attribute: String) throws -> HDF5AttributeValue {
        hdf5Quiet()
        guard H5Aexists(id, attribute) > 0 else {
            throw error(.missingObject, "'\(name)' has no attribute '\(attribute)'")
        }
        let aid = H5Aopen(id, attribute, chdf5_p_default())
        if aid < 0 { throw error(.hdf5Failure, "cannot open attribute '\(attribute)' of '\(name)' (\(hdf5LastError()))") }
        defer { H5Aclose(aid) }
        let tid = H5Aget_type(aid)
        defer { H5Tclose(tid) }
        let sid = H5Aget_space(aid)
        defer { H5Sclose(sid) }
        let what = "attribute '\(attribute)' of '\(name)'"
        let (shape, count, isScalar) = try checkedCount(sid, elementSize: H5Tget_size(tid), bound: file.byteSize, what: what)
        switch H5Tget_class(tid) {
        case H5T_STRING:
            let strings = try readStrings(fileType: tid, count: count, what: what) { mem, buf in H5Aread(aid, mem, buf) }
            return isScalar ? .string(strings.first ?? "") : .strings(strings)
        case H5T_INTEGER, H5T_FLOAT:
            var values = [Double](repeating: 0, count: max(count, 1))
            if count > 0 && H5Aread(aid, chdf5_native_double(), &values) < 0 {
                throw error(.hdf5Failure, "cannot read \(what) (\(hdf5LastError()))")
            }
            return .numbers(Array(values.prefix(count)), shape: shape)
        default:
            throw error(.unsupportedType, "\(what) has an unsupported type (HDF5 class \(H5Tget_class(tid).rawValue))")
        }
    }

    /// A scalar string attribute (a one-element string array is accepted too).
    public func stringAttribute(_ attribute: String) throws -> String {
        switch try self.attribute(attribute) {
        case .string(let s): return s
        case .strings(let a) where a.count == 1: return a[0]
        default: throw error(.unsupportedType, "attribute '\(attribute)' of '\(name)' is not a string")
        }
    }

    /// A string-array attribute. A scalar string gives one element; an empty numeric array (Keras's
    /// float64[0] for "no weights") gives [].
    public func stringArrayAttribute(_ attribute: String) throws -> [String] {
        switch try self.attribute(attribute) {
        case .string(let s): return [s]
        case .strings(let a): return a
        case .numbers(let v, _) where v.isEmpty: return []
        case .numbers: throw error(.unsupportedType, "attribute '\(attribute)' of '\(name)' is numeric, expected strings")
        }
    }

    /// Keras splits attributes larger than 64512 bytes into `name0`, `name1`, ...; this reads either form.
    /// Returns nil when neither `name` nor `name0` exists.
    public func chunkedStringArrayAttribute(_ attribute: String) throws -> [String]? {
        if hasAttribute(attribute) { return try stringArrayAttribute(attribute) }
        guard hasAttribute(attribute + "0") else { return nil }
        var result: [String] = []
        var chunk = 0
        while hasAttribute("\(attribute)\(chunk)") {
            result += try stringArrayAttribute("\(attribute)\(chunk)")
            chunk += 1
        }
        return result
    }

    /// A numeric attribute, flattened.
    public func numericAttribute(_ attribute: String) throws -> [Double] {
        guard case .numbers(let v, _) = try self.attribute(attribute) else {
            throw error(.unsupportedType, "attribute '\(attribute)' of '\(name)' is not numeric")
        }
        return v
    }

    /// Writes a scalar variable-length UTF-8 string attribute (what h5py writes for a Python `str`).
    public func setAttribute(_ attribute: String, string: String) throws {
        try writeStringAttribute(attribute, [string], scalar: true)
    }

    /// Writes a 1-D variable-length UTF-8 string array attribute (h5py's object-dtype string array).
    /// An empty array is written as float64[0], as Keras/h5py do for an empty list.
    public func setAttribute(_ attribute: String, strings: [String]) throws {
        if strings.isEmpty { return try setAttribute(attribute, doubles: []) }
        try writeStringAttribute(attribute, strings, scalar: false)
    }

    /// Writes a 1-D float64 attribute (an empty array gives Keras's float64 array of shape (0,)).
    public func setAttribute(_ attribute: String, doubles: [Double]) throws {
        try replaceAttribute(attribute, type: chdf5_ieee_f64le(), dims: [doubles.count], scalar: false) { aid in
            var buffer = doubles.isEmpty ? [0.0] : doubles
            return H5Awrite(aid, chdf5_native_double(), &buffer)
        }
    }

    private func writeStringAttribute(_ attribute: String, _ values: [String], scalar: Bool) throws {
        let mem = H5Tcopy(chdf5_c_s1())
        defer { H5Tclose(mem) }
        H5Tset_size(mem, chdf5_variable_size())
        H5Tset_cset(mem, H5T_CSET_UTF8)
        try replaceAttribute(attribute, type: mem, dims: [values.count], scalar: scalar) { aid in
            let cStrings = values.map { strdup($0) }
            defer { cStrings.forEach { free($0) } }
            var pointers: [UnsafePointer<CChar>?] = cStrings.map { UnsafePointer($0) }
            return H5Awrite(aid, mem, &pointers)
        }
    }

    private func replaceAttribute(_ attribute: String, type: hid_t, dims: [Int], scalar: Bool,
                                  write: (hid_t) -> herr_t) throws {
        hdf5Quiet()
        if H5Aexists(id, attribute) > 0 && H5Adelete(id, attribute) < 0 {
            throw error(.writeFailed, "cannot replace attribute '\(attribute)' of '\(name)' (\(hdf5LastError()))")
        }
        let sid: hid_t
        if scalar {
            sid = H5Screate(H5S_SCALAR)
        } else {
            var hdims = dims.map { hsize_t($0) }
            sid = H5Screate_simple(Int32(hdims.count), &hdims, nil)
        }
        defer { H5Sclose(sid) }
        let aid = H5Acreate2(id, attribute, type, sid, chdf5_p_default(), chdf5_p_default())
        if aid < 0 { throw error(.writeFailed, "cannot create attribute '\(attribute)' of '\(name)' (\(hdf5LastError()))") }
        defer { H5Aclose(aid) }
        if write(aid) < 0 {
            throw error(.writeFailed, "cannot write attribute '\(attribute)' of '\(name)' (\(hdf5LastError()))")
        }
    }

    /// Reads `count` strings of a string-typed attribute or dataset, vlen or fixed length, any cset.
    func readStrings(fileType: hid_t, count: Int, what: String, read: (hid_t, UnsafeMutableRawPointer) -> herr_t) throws -> [String] {
        if count == 0 { return [] }
        let cset = H5Tget_cset(fileType)
        if H5Tis_variable_str(fileType) > 0 {
            let mem = H5Tcopy(chdf5_c_s1())
            defer { H5Tclose(mem) }
            H5Tset_size(mem, chdf5_variable_size())
            H5Tset_cset(mem, cset)
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            let status = pointers.withUnsafeMutableBytes { read(mem, $0.baseAddress!) }
            if status < 0 { throw error(.hdf5Failure, "cannot read \(what) (\(hdf5LastError()))") }
            defer { for p in pointers where p != nil { H5free_memory(p) } }
            return pointers.map { $0.map { String(decoding: Data(bytes: $0, count: strlen($0)), as: UTF8.self) } ?? "" }
        }
        let size = H5Tget_size(fileType)
        guard size > 0 else { throw error(.unsupportedType, "\(what): zero-size string type") }
        let pad = H5Tget_strpad(fileType)
        let mem = H5Tcopy(fileType)
        defer { H5Tclose(mem) }
        let (total, overflow) = size.multipliedReportingOverflow(by: count)
        guard !overflow, total <= file.byteSize else {
            throw error(.malformed, "\(what): \(count) strings of \(size) bytes do not fit in the file (the file is damaged)")
        }
        var bytes = [UInt8](repeating: 0, count: total)
        let status = bytes.withUnsafeMutableBytes { read(mem, $0.baseAddress!) }
        if status < 0 { throw error(.hdf5Failure, "cannot read \(what) (\(hdf5LastError()))") }
        return (0..<count).map { i in
            var field = bytes[(i * size)..<((i + 1) * size)]
            if let nul = field.firstIndex(of: 0) { field = field[..<nul] }
            if pad == H5T_STR_SPACEPAD { while field.last == 0x20 { field = field.dropLast() } }
            return decodeText(Array(field))
        }
    }
}

/// UTF-8 when valid, otherwise Latin-1 (old files sometimes hold arbitrary bytes).
func decodeText(_ bytes: [UInt8]) -> String {
    if let s = String(validating: bytes, as: UTF8.self) { return s }
    return String(bytes.map { Character(Unicode.Scalar($0)) })
}

final class NameBox { var names: [String] = [] }

/// A group: children, sub-groups, datasets.
public final class HDF5Group: HDF5Object {
    /// Links in name order, with their kind and object address. Links whose target cannot be
    /// resolved (dangling soft or external links) are listed with kind `.other`.
    public func children() throws -> [HDF5Child] {
        hdf5Quiet()
        let box = NameBox()
        let status = chdf5_iterate_links(id, { name, ctx in
            Unmanaged<NameBox>.fromOpaque(ctx!).takeUnretainedValue().names.append(String(cString: name!))
            return 0
        }, Unmanaged.passUnretained(box).toOpaque())
        if status < 0 { throw error(.hdf5Failure, "cannot list group '\(name)' (\(hdf5LastError()))") }
        return box.names.map { child in
            var address: UInt64 = 0
            let kind = chdf5_object_info(id, child, &address)
            return HDF5Child(name: child, kind: kind == 1 ? .group : (kind == 2 ? .dataset : .other), address: address)
        }
    }

    /// Child names in name order (HDF5 lists alphabetically, so this is never a model order).
    public func childNames() throws -> [String] { try children().map(\.name) }

    /// Whether a relative path (`a/b/c`) resolves, checking each component in turn.
    public func contains(_ path: String) -> Bool { kind(of: path) != nil }

    /// Kind of the object at a relative path, or nil if the path does not resolve.
    public func kind(of path: String) -> HDF5ObjectKind? {
        hdf5Quiet()
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        if parts.isEmpty { return nil }
        var prefix = ""
        for part in parts {
            prefix += prefix.isEmpty ? String(part) : "/" + part
            if H5Lexists(id, prefix, chdf5_p_default()) <= 0 { return nil }
        }
        var address: UInt64 = 0
        switch chdf5_object_info(id, prefix, &address) {
        case 1: return .group
        case 2: return .dataset
        case 0: return .other
        default: return nil
        }
    }

    public func group(_ path: String) throws -> HDF5Group {
        guard kind(of: path) == .group else { throw error(.missingObject, "no group '\(childPath(path))'") }
        let gid = H5Gopen2(id, path, chdf5_p_default())
        if gid < 0 { throw error(.hdf5Failure, "cannot open group '\(childPath(path))' (\(hdf5LastError()))") }
        return HDF5Group(file: file, id: gid, name: childPath(path))
    }

    public func dataset(_ path: String) throws -> HDF5Dataset {
        guard kind(of: path) == .dataset else { throw error(.missingObject, "no dataset '\(childPath(path))'") }
        let did = H5Dopen2(id, path, chdf5_p_default())
        if did < 0 { throw error(.hdf5Failure, "cannot open dataset '\(childPath(path))' (\(hdf5LastError()))") }
        return HDF5Dataset(file: file, id: did, name: childPath(path))
    }

    /// Opens or creates the group at a relative path, creating intermediate groups.
    @discardableResult
    public func createGroup(_ path: String) throws -> HDF5Group {
        if kind(of: path) == .group { return try group(path) }
        let lcpl = H5Pcreate(chdf5_p_link_create())
        defer { H5Pclose(lcpl) }
        H5Pset_create_intermediate_group(lcpl, 1)
        let gid = H5Gcreate2(id, path, lcpl, chdf5_p_default(), chdf5_p_default())
        if gid < 0 { throw error(.writeFailed, "cannot create group '\(childPath(path))' (\(hdf5LastError()))") }
        return HDF5Group(file: file, id: gid, name: childPath(path))
    }

    /// Writes a float32 (little-endian, contiguous) dataset at a relative path, creating intermediate
    /// groups (`conv1/conv1/kernel:0` makes groups `conv1/conv1`). `shape` defaults to the tensor's.
    @discardableResult
    public func writeDataset(_ path: String, _ tensor: Tensor, shape: [Int]? = nil) throws -> HDF5Dataset {
        hdf5Quiet()
        let dims = shape ?? tensor.shape
        guard dims.reduce(1, *) == tensor.count, dims.allSatisfy({ $0 >= 0 }) else {
            throw error(.malformed, "dataset '\(childPath(path))': shape \(dims) does not hold \(tensor.count) values")
        }
        let sid: hid_t
        if dims.isEmpty {
            sid = H5Screate(H5S_SCALAR)
        } else {
            var hdims = dims.map { hsize_t($0) }
            sid = H5Screate_simple(Int32(hdims.count), &hdims, nil)
        }
        defer { H5Sclose(sid) }
        let lcpl = H5Pcreate(chdf5_p_link_create())
        defer { H5Pclose(lcpl) }
        H5Pset_create_intermediate_group(lcpl, 1)
        let did = H5Dcreate2(id, path, chdf5_ieee_f32le(), sid, lcpl, chdf5_p_default(), chdf5_p_default())
        if did < 0 { throw error(.writeFailed, "cannot create dataset '\(childPath(path))' (\(hdf5LastError()))") }
        let dataset = HDF5Dataset(file: file, id: did, name: childPath(path))
        if tensor.count > 0 && H5Dwrite(did, chdf5_native_float(), hid_t(H5S_ALL), hid_t(H5S_ALL), chdf5_p_default(), tensor.pointer) < 0 {
            throw error(.writeFailed, "cannot write dataset '\(childPath(path))' (\(hdf5LastError()))")
        }
        return dataset
    }
}

/// A dataset. Weights are read as Float32.
public final class HDF5Dataset: HDF5Object {
    /// Shape as stored (a scalar is []).
    public var shape: [Int] {
        let sid = H5Dget_space(id)
        defer { H5Sclose(sid) }
        return spaceShape(sid).shape
    }

    /// The most bytes this dataset's values may decode from: the file size, or for a filtered
    /// (compressed) dataset its stored bytes times `maxCompressionRatio`.
    var declaredBytesBound: Int {
        let dcpl = H5Dget_create_plist(id)
        defer { if dcpl >= 0 { H5Pclose(dcpl) } }
        let filters = dcpl >= 0 ? H5Pget_nfilters(dcpl) : 0
        if filters <= 0 { return file.byteSize }
        let stored = min(Int(clamping: H5Dget_storage_size(id)), file.byteSize)
        return stored.multipliedReportingOverflow(by: HDF5Dataset.maxCompressionRatio).overflow
            ? Int.max : stored * HDF5Dataset.maxCompressionRatio
    }

    /// Weights compress poorly (about 1.1x with deflate); a ratio beyond this means a damaged or
    /// hostile file (deflate's own limit is about 1032).
    static let maxCompressionRatio = 256

    /// Human-readable element type, e.g. `float32`, `float16`, `int64`, `vlen string`.
    public var typeDescription: String {
        let tid = H5Dget_type(id)
        defer { H5Tclose(tid) }
        let size = H5Tget_size(tid)
        switch H5Tget_class(tid) {
        case H5T_FLOAT: return "float\(size * 8)"
        case H5T_INTEGER: return (H5Tget_sign(tid) == H5T_SGN_NONE ? "uint" : "int") + "\(size * 8)"
        case H5T_STRING: return H5Tis_variable_str(tid) > 0 ? "vlen string" : "string(\(size))"
        case H5T_COMPOUND: return "compound"
        default: return "HDF5 class \(H5Tget_class(tid).rawValue)"
        }
    }

    /// Reads the values as Float32: float32 as is, float64 rounded to nearest, IEEE float16 widened
    /// exactly, Keras-3 bfloat16 (uint16 with attribute dtype='bfloat16') widened exactly. Integer
    /// and other datasets are refused with `.unsupportedType`.
    public func readTensor() throws -> Tensor {
        hdf5Quiet()
        let tid = H5Dget_type(id)
        defer { H5Tclose(tid) }
        let sid = H5Dget_space(id)
        defer { H5Sclose(sid) }
        let (shape, count, _) = try checkedCount(sid, elementSize: H5Tget_size(tid), bound: declaredBytesBound,
                                                 what: "dataset '\(name)'")
        var tensor = Tensor(uninitializedShape: shape)
        if count == 0 { return tensor }
        let out = tensor.mutablePointer()
        let size = H5Tget_size(tid)
        switch H5Tget_class(tid) {
        case H5T_FLOAT where size == 4:
            try check(H5Dread(id, chdf5_native_float(), hid_t(H5S_ALL), hid_t(H5S_ALL), chdf5_p_default(), out))
        case H5T_FLOAT where size == 8:
            var values = [Double](repeating: 0, count: count)
            try check(H5Dread(id, chdf5_native_double(), hid_t(H5S_ALL), hid_t(H5S_ALL), chdf5_p_default(), &values))
            for i in 0..<count { out[i] = Float(values[i]) }
        case H5T_FLOAT where size == 2 && isIEEEHalf(tid):
            let mem = H5Tcopy(tid)
            defer { H5Tclose(mem) }
            H5Tset_order(mem, H5T_ORDER_LE)   // both supported platforms are little-endian
            var bits = [UInt16](repeating: 0, count: count)
            try check(H5Dread(id, mem, hid_t(H5S_ALL), hid_t(H5S_ALL), chdf5_p_default(), &bits))
            for i in 0..<count { out[i] = halfToFloat(bits[i]) }
        case H5T_FLOAT:
            // Any other float layout: let HDF5's soft conversion produce native floats.
            try check(H5Dread(id, chdf5_native_float(), hid_t(H5S_ALL), hid_t(H5S_ALL), chdf5_p_default(), out))
        case H5T_INTEGER where size == 2 && (try? stringAttribute("dtype")) == "bfloat16":
            var bits = [UInt16](repeating: 0, count: count)
            try check(H5Dread(id, chdf5_native_uint16(), hid_t(H5S_ALL), hid_t(H5S_ALL), chdf5_p_default(), &bits))
            for i in 0..<count { out[i] = Float(bitPattern: UInt32(bits[i]) << 16) }
        default:
            throw error(.unsupportedType,
                        "dataset '\(name)' is \(typeDescription), not floating point; weights must be float16/32/64")
        }
        return tensor
    }

    /// Reads an integer or float dataset as Int64 values (for index/label datasets in reference files).
    public func readInt64() throws -> [Int64] {
        hdf5Quiet()
        let sid = H5Dget_space(id)
        defer { H5Sclose(sid) }
        let tid = H5Dget_type(id)
        defer { H5Tclose(tid) }
        let count = try checkedCount(sid, elementSize: H5Tget_size(tid), bound: declaredBytesBound, what: "dataset '\(name)'").count
        var values = [Int64](repeating: 0, count: max(count, 1))
        if count > 0 { try check(H5Dread(id, chdf5_native_int64(), hid_t(H5S_ALL), hid_t(H5S_ALL), chdf5_p_default(), &values)) }
        return Array(values.prefix(count))
    }

    private func check(_ status: herr_t) throws {
        if status < 0 { throw error(.hdf5Failure, "cannot read dataset '\(name)' (\(hdf5LastError()))") }
    }

    private func isIEEEHalf(_ tid: hid_t) -> Bool {
        var spos = 0, epos = 0, esize = 0, mpos = 0, msize = 0
        guard H5Tget_fields(tid, &spos, &epos, &esize, &mpos, &msize) >= 0 else { return false }
        return spos == 15 && epos == 10 && esize == 5 && mpos == 0 && msize == 10 && H5Tget_ebias(tid) == 15
    }
}

/// Exact IEEE 754 binary16 -> binary32 conversion (subnormals, infinities and NaN payloads kept).
public func halfToFloat(_ h: UInt16) -> Float {
    let sign: UInt32 = UInt32(h & 0x8000) << 16
    let exponent = UInt32((h >> 10) & 0x1f)
    let mantissa = UInt32(h & 0x3ff)
    if exponent == 0 {
        let magnitude = Float(mantissa) * 0x1p-24   // zero or subnormal: exact in Float32
        return sign != 0 ? -magnitude : magnitude
    }
    if exponent == 31 { return Float(bitPattern: sign | 0x7f80_0000 | (mantissa << 13)) }
    return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
}
