import Foundation

/// Every data error ImageIO throws. Each message is one line and names the file (or folder) involved,
/// so a CLI can print it as is. Shape/programming errors use `check` (fatalError) instead.
public enum ImageIOError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file could not be opened or read at all (missing, permissions, a directory).
    case unreadableFile(path: String, reason: String)
    /// libpng rejected the bytes (bad signature, CRC error, truncated data, limits exceeded, ...).
    case invalidPNG(path: String, reason: String)
    /// libjpeg rejected the bytes, or decoded them only around damage (truncated, corrupt data).
    case invalidJPEG(path: String, reason: String)
    /// The bytes are neither PNG nor JPEG (whatever the file is named).
    case unsupportedImage(path: String, reason: String)
    /// Writing an image failed (encoder error, disk full, folder missing).
    case writeFailed(path: String, reason: String)
    /// A dataset root or split folder that should exist does not.
    case missingFolder(path: String)
    /// A dataset root without any class folder.
    case noClasses(path: String)
    /// A class ended up with no readable image (after skipping unreadable files).
    case emptyClass(name: String, location: String)
    /// A label file (CSV) line that cannot be used.
    case invalidLabelFile(path: String, line: Int, reason: String)
    /// A configuration value that cannot work (e.g. a zero output size, a fraction outside 0...1).
    case invalidConfiguration(String)

    public var description: String {
        switch self {
        case let .unreadableFile(path, reason): return "cannot read '\(path)': \(reason)"
        case let .invalidPNG(path, reason): return "cannot decode PNG '\(path)': \(reason)"
        case let .invalidJPEG(path, reason): return "cannot decode JPEG '\(path)': \(reason)"
        case let .unsupportedImage(path, reason): return "cannot decode '\(path)': \(reason)"
        case let .writeFailed(path, reason): return "cannot write '\(path)': \(reason)"
        case let .missingFolder(path): return "dataset folder '\(path)' does not exist"
        case let .noClasses(path): return "dataset folder '\(path)' has no class sub-folders"
        case let .emptyClass(name, location): return "class '\(name)' has no readable image in '\(location)'"
        case let .invalidLabelFile(path, line, reason): return "label file '\(path)' line \(line): \(reason)"
        case let .invalidConfiguration(reason): return "invalid image configuration: \(reason)"
        }
    }
}

/// Where ImageIO's warnings go (one line each, given without the `warning: ` prefix: the handler adds
/// its own). The default writes `warning: LINE` to standard error.
public typealias WarningHandler = @Sendable (String) -> Void

public enum Warnings {
    public static let standardError: WarningHandler = { line in
        FileHandle.standardError.write(Data(("warning: " + line + "\n").utf8))
    }
    public static let silent: WarningHandler = { _ in }
}
