import Foundation

/// Every failure of the file-format layer. `description` is one line that names the file and,
/// where known, the layer and the tensor: `w.h5: layer 'conv1', tensor 'conv1/kernel:0': int64 dataset ...`.
public struct WeightIOError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError, Codable {
    public enum Kind: String, Equatable, Sendable, Codable {
        case fileNotFound          // no file at the path
        case notHDF5               // zero bytes, or no HDF5 signature
        case corruptFile           // HDF5 signature present but the file cannot be opened (truncated, damaged)
        case unrecognizedFormat    // a valid HDF5 file that is none of the known weight layouts
        case missingObject         // a group, dataset or attribute that the layout requires is absent
        case unsupportedType       // integer weights, compound types, strings where numbers were expected ...
        case malformed             // inconsistent content (sizes, names, shapes)
        case hdf5Failure           // an HDF5 call failed for another reason
        case writeFailed           // a writer could not produce its file
    }

    public let kind: Kind
    public let file: String
    public let layer: String?
    public let tensor: String?
    public let detail: String

    public init(_ kind: Kind, file: String, layer: String? = nil, tensor: String? = nil, _ detail: String) {
        self.kind = kind
        self.file = file
        self.layer = layer
        self.tensor = tensor
        self.detail = detail
    }

    public var description: String {
        var location: [String] = []
        if let layer { location.append("layer '\(layer)'") }
        if let tensor { location.append("tensor '\(tensor)'") }
        let place = location.isEmpty ? "" : ": " + location.joined(separator: ", ")
        return "\(file)\(place): \(detail)"
    }

    public var errorDescription: String? { description }

    /// The same error, with the layer/tensor filled in where they were not known at the throw site.
    func located(layer: String?, tensor: String?) -> WeightIOError {
        WeightIOError(kind, file: file, layer: self.layer ?? layer, tensor: self.tensor ?? tensor, detail)
    }
}
