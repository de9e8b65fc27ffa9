import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Reusable memory for PNG and JPEG decoding (one per worker thread, never shared between threads): the
/// file's bytes and, for images that need a pixel conversion, the library's raw samples. Reusing them
/// spares two allocations (and their page faults) per image.
final class ImageDecodeScratch {
    private var file = Buffer()
    private var raw = Buffer()

    /// Growable raw memory; contents are undefined after a resize.
    private struct Buffer {
        var base: UnsafeMutableRawPointer?
        var capacity = 0

        mutating func reserve(_ count: Int) -> UnsafeMutableRawPointer {
            if let base, count <= capacity { return base }
            base?.deallocate()
            capacity = max(count, 2 * capacity, 4096)
            let fresh = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
            base = fresh
            return fresh
        }

        func free() { base?.deallocate() }
    }

    /// The largest image file read: PNG and JPEG compress, so no decodable image within the decoded
    /// size limit comes near it.
    static let maxFileBytes = 512 << 20

    init() {}

    deinit { file.free(); raw.free() }

    /// At least `count` bytes for libpng's samples (valid until the next call).
    func samples(_ count: Int) -> UnsafeMutablePointer<UInt8> {
        raw.reserve(max(count, 1)).bindMemory(to: UInt8.self, capacity: max(count, 1))
    }

    /// The whole file, read with plain POSIX calls into the reused buffer (valid until the next
    /// call). Errors are one-line `ImageIOError`s naming the file.
    func read(_ url: URL) throws -> UnsafeRawBufferPointer {
        let path = url.path
        // O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw failure(path, errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw failure(path, errno) }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw ImageIOError.unreadableFile(path: path, reason: "is a directory")
        default: throw ImageIOError.unreadableFile(path: path, reason: "not a regular file (a pipe, socket or device)")
        }
        if Int(info.st_size) > ImageDecodeScratch.maxFileBytes {
            throw ImageIOError.unreadableFile(path: path, reason: "\(info.st_size) bytes, more than the \(ImageDecodeScratch.maxFileBytes >> 20) MiB an image file may have")
        }
        // st_size is only a hint (the file may change while it is read): read until EOF.
        var capacity = max(Int(info.st_size) + 1, 4096)
        var base = file.reserve(capacity)
        capacity = file.capacity
        var count = 0
        while true {
            if count > ImageDecodeScratch.maxFileBytes {   // the file grew while being read
                throw ImageIOError.unreadableFile(path: path, reason: "more than the \(ImageDecodeScratch.maxFileBytes >> 20) MiB an image file may have")
            }
            if count == capacity {
                let grown = UnsafeMutableRawPointer.allocate(byteCount: 2 * capacity, alignment: 64)
                grown.copyMemory(from: base, byteCount: count)
                file.free()
                file = Buffer(base: grown, capacity: 2 * capacity)
                base = grown
                capacity = file.capacity
            }
            let n = Glibc.read(fd, base + count, capacity - count)
            if n == 0 { break }
            if n < 0 {
                if errno == EINTR { continue }
                throw failure(path, errno)
            }
            count += n
        }
        return UnsafeRawBufferPointer(start: base, count: count)
    }

    private func failure(_ path: String, _ code: Int32) -> ImageIOError {
        switch code {
        case ENOENT, ENOTDIR: return .unreadableFile(path: path, reason: "no such file")
        case EISDIR: return .unreadableFile(path: path, reason: "is a directory")
        default: return .unreadableFile(path: path, reason: String(cString: strerror(code)))
        }
    }
}
