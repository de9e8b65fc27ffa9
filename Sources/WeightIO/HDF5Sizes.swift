import CHDF5
import Foundation

// Every size a file declares is checked before it is used: overflow-checked products, and declared
// bytes bounded by what the file can hold, before anything is allocated or read.

/// Shape, element count and scalar-ness of a dataspace (a null dataspace has 0 elements). The count
/// is nil when the declared dimensions do not fit an `Int` product (a damaged or hostile file).
func spaceShape(_ sid: hid_t) -> (shape: [Int], count: Int?, isScalar: Bool) {
    switch H5Sget_simple_extent_type(sid) {
    case H5S_SCALAR: return ([], 1, true)
    case H5S_SIMPLE:
        let rank = Int(H5Sget_simple_extent_ndims(sid))
        guard rank >= 0 && rank <= 32 else { return ([], nil, false) }   // H5S_MAX_RANK
        var dims = [hsize_t](repeating: 0, count: max(rank, 1))
        guard H5Sget_simple_extent_dims(sid, &dims, nil) >= 0 else { return ([], nil, false) }
        let shape = dims.prefix(rank).map { Int(clamping: $0) }
        return (shape, checkedProduct(shape), false)
    default: return ([0], 0, false)
    }
}

/// The product of `factors`, or nil when it overflows or a factor is negative.
func checkedProduct(_ factors: [Int]) -> Int? {
    var result = 1
    for f in factors {
        guard f >= 0 else { return nil }
        let (p, overflow) = result.multipliedReportingOverflow(by: f)
        if overflow { return nil }
        result = p
    }
    return result
}

extension HDF5Object {
    /// The element count of a dataspace once its declared bytes (`count * elementSize`) are known to
    /// fit in `bound` bytes: checked before anything is allocated or read, so a small file cannot
    /// declare gigabytes.
    func checkedCount(_ sid: hid_t, elementSize: Int, bound: Int, what: String) throws -> (shape: [Int], count: Int, isScalar: Bool) {
        let (shape, count, isScalar) = spaceShape(sid)
        guard let count else {
            throw error(.malformed, "\(what) declares dimensions \(shape) whose element count overflows (the file is damaged)")
        }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: max(elementSize, 1))
        guard !overflow, bytes <= bound else {
            throw error(.malformed, "\(what) declares \(shape) x \(elementSize) bytes, more than the file's \(file.byteSize) bytes can hold (the file is damaged)")
        }
        return (shape, count, isScalar)
    }
}
