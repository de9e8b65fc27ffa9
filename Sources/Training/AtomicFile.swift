import Foundation

/// Whole-file writes that never leave a half-written file behind: the bytes go to a temporary file
/// in the destination's directory (same file system), are flushed, then renamed over the target.
/// A reader sees the old file or the new one, never a mix; a killed run keeps the last good copy.
public enum AtomicFile {
    public enum Error: Swift.Error, CustomStringConvertible {
        case write(path: String, reason: String)
        public var description: String {
            switch self { case let .write(path, reason): "cannot write \(path): \(reason)" }
        }
    }

    /// Writes `data` to `url` atomically, creating the parent directory if needed. On failure the
    /// temporary file is removed and the previous content of `url` (if any) is untouched.
    public static func write(_ data: Data, to url: URL) throws {
        let dir = url.deletingLastPathComponent()
        let fm = FileManager.default
        do {
            try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        } catch {
            throw Error.write(path: url.path, reason: "cannot create \(dir.path): \(error.localizedDescription)")
        }
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        guard fm.createFile(atPath: tmp.path, contents: nil) else {
            throw Error.write(path: url.path, reason: "cannot create temporary file in \(dir.path)")
        }
        do {
            let handle = try FileHandle(forWritingTo: tmp)
            do {
                try handle.write(contentsOf: data)
                try handle.synchronize()
                try handle.close()
            } catch {
                try? handle.close()
                throw error
            }
            guard rename(tmp.path, url.path) == 0 else {
                throw Error.write(path: url.path, reason: String(cString: strerror(errno)))
            }
        } catch {
            try? fm.removeItem(at: tmp)
            if let e = error as? Error { throw e }
            throw Error.write(path: url.path, reason: "\(error)")
        }
    }

    /// UTF-8 text convenience.
    public static func write(_ text: String, to url: URL) throws {
        try write(Data(text.utf8), to: url)
    }
}
