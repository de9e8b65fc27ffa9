import Foundation
import TensorCore
#if canImport(Glibc)
import Glibc
#endif

/// The rows of one cached feature copy: in memory, or in a file of float32 rows.
public enum FeatureRows: Sendable {
    case memory(Tensor)
    case file(FeatureFile)

    public var rowCount: Int {
        switch self {
        case .memory(let t): t.shape.first ?? 0
        case .file(let f): f.rowCount
        }
    }

    public var rowShape: [Int] {
        switch self {
        case .memory(let t): Array(t.shape.dropFirst())
        case .file(let f): f.rowShape
        }
    }

    /// Rows `rows` as one [rows.count, rowShape...] tensor.
    public func gather(_ rows: [Int]) -> Tensor {
        switch self {
        case .memory(let t): gatherRows(t, rows)
        case .file(let f): f.read(rows)
        }
    }

    /// Every row (tests and small caches).
    public var tensor: Tensor { gather(Array(0..<rowCount)) }
}

/// Feature rows appended to a file as the trunk computes them and read back with `pread`: the page
/// cache holds what memory allows, the process only one batch. The file is removed when the last
/// reference goes (it is a cache of the run, not an output).
public final class FeatureFile: @unchecked Sendable {
    public let url: URL
    public let rowShape: [Int]
    public private(set) var rowCount = 0
    private let fd: Int32
    private let rowBytes: Int

    init(creating url: URL, rowShape: [Int]) throws {
        self.url = url
        self.rowShape = rowShape
        rowBytes = rowShape.reduce(1, *) * MemoryLayout<Float>.size
        fd = open(url.path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw JobError("\(url.path): cannot create the feature cache file (\(String(cString: strerror(errno))))") }
    }

    deinit {
        close(fd)
        unlink(url.path)
    }

    /// Appends the rows of `batch` ([n, rowShape...]).
    func append(_ batch: Tensor) throws {
        check(Array(batch.shape.dropFirst()) == rowShape, "FeatureFile: rows \(batch.shape) for \(rowShape)")
        let bytes = batch.count * MemoryLayout<Float>.size
        var written = 0
        let base = UnsafeRawPointer(batch.pointer)
        while written < bytes {
            let n = pwrite(fd, base + written, bytes - written, off_t(rowCount * rowBytes + written))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw JobError("\(url.path): cannot write the feature cache (\(String(cString: strerror(errno)))); free disk space or raise --cache-memory")
            }
            written += n
        }
        rowCount += batch.shape[0]
    }

    func read(_ rows: [Int]) -> Tensor {
        var out = Tensor(uninitializedShape: [rows.count] + rowShape)
        let dst = UnsafeMutableRawPointer(out.mutablePointer())
        for (i, r) in rows.enumerated() {
            var done = 0
            while done < rowBytes {
                let n = pread(fd, dst + i * rowBytes + done, rowBytes - done, off_t(r * rowBytes + done))
                if n < 0 && errno == EINTR { continue }
                // The file was written by this process a moment ago; a short read means it was damaged under us.
                check(n > 0, "FeatureFile \(url.path): row \(r) could not be read back (\(String(cString: strerror(errno))))")
                done += n
            }
        }
        return out
    }
}
