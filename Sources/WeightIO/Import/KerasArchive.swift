import Foundation
import ZIPFoundation

// Keras 3 native `.keras` files: a zip archive of `config.json` (the model's architecture, the same
// JSON `to_json()` writes), `metadata.json` and `model.weights.h5` (the Keras 3 weights layout).

/// What a model or architecture file is, from its first bytes (never from its extension).
public enum ModelFileContainer: Sendable, Equatable {
    /// A zip archive (`PK\u{3}\u{4}`): a Keras 3 `.keras` file.
    case zip
    /// An HDF5 file (`\u{89}HDF\r\n\u{1a}\n`): Keras 2/3 `.h5`, Caffe, Graft.
    case hdf5
    /// Text starting with `{`: a Keras `to_json()` architecture.
    case json
    /// Other text: a Keras `to_yaml()` architecture (or something else that the YAML reader refuses).
    case text
}

/// The container kind of the file at `path`. Throws `WeightIOError` when it is missing or empty.
public func modelFileContainer(path: String) throws -> ModelFileContainer {
    guard let handle = FileHandle(forReadingAtPath: path) else {
        throw WeightIOError(.fileNotFound, file: path, "no such file")
    }
    defer { try? handle.close() }
    let head = [UInt8]((try? handle.read(upToCount: 64)) ?? Data())
    guard !head.isEmpty else { throw WeightIOError(.notHDF5, file: path, "the file is empty") }
    if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) || head.starts(with: [0x50, 0x4B, 0x05, 0x06]) { return .zip }
    if head.starts(with: [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]) { return .hdf5 }
    let text = head.drop { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D || $0 == 0xEF || $0 == 0xBB || $0 == 0xBF }
    return text.first == UInt8(ascii: "{") ? .json : .text
}

/// A `.keras` archive read: its `config.json` text and its weights.
public struct KerasArchive: Sendable {
    public var configJSON: String
    public var weights: WeightFile
}

/// Reads a Keras 3 `.keras` archive. The weights member is copied to a temporary file for HDF5 and
/// removed after reading; messages name the archive (`m.keras: model.weights.h5: ...`).
public func readKerasArchive(path: String) throws -> KerasArchive {
    let archive: Archive
    do { archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read) } catch {
        throw WeightIOError(.malformed, file: path, "not a readable zip archive (\(error))")
    }
    guard let configEntry = archive["config.json"] else {
        throw WeightIOError(.missingObject, file: path, "the archive has no config.json (not a Keras 3 .keras file?)")
    }
    var config = Data()
    do { _ = try archive.extract(configEntry) { config.append($0) } } catch {
        throw WeightIOError(.malformed, file: path, "config.json cannot be extracted (\(error))")
    }
    guard let configText = String(data: config, encoding: .utf8) else {
        throw WeightIOError(.malformed, file: path, "config.json is not UTF-8 text")
    }
    guard let weightsEntry = archive["model.weights.h5"] else {
        throw WeightIOError(.missingObject, file: path, "the archive has no model.weights.h5")
    }
    let temporary = FileManager.default.temporaryDirectory
        .appendingPathComponent("graft-keras-\(UUID().uuidString).weights.h5")
    defer { try? FileManager.default.removeItem(at: temporary) }
    do { _ = try archive.extract(weightsEntry, to: temporary) } catch {
        throw WeightIOError(.malformed, file: path, "model.weights.h5 cannot be extracted (\(error))")
    }
    var weights: WeightFile
    do { weights = try readWeightFile(path: temporary.path) } catch let e as WeightIOError {
        throw WeightIOError(e.kind, file: path, layer: e.layer, tensor: e.tensor, "model.weights.h5: " + e.detail)
    }
    weights.path = path
    return KerasArchive(configJSON: configText, weights: weights)
}

/// Any weight file, a `.keras` archive included (its weights, with its config as `modelConfigJSON`).
public func readWeightOrArchiveFile(path: String) throws -> WeightFile {
    guard try modelFileContainer(path: path) == .zip else { return try readWeightFile(path: path) }
    let archive = try readKerasArchive(path: path)
    var file = archive.weights
    file.modelConfigJSON = archive.configJSON
    return file
}
