import Foundation

/// What an import may leave out. The default is strict: every model parameter must be in the file
/// with the right shape, and every weight in the file must land somewhere.
public struct ImportOptions: Sendable {
    /// Graft parameter paths to leave as they are (not read, not required); their file tensors, if any,
    /// are ignored rather than "unexpected".
    public var skip: @Sendable (String) -> Bool
    /// Skip the output layer (`predictions`, or the legacy `fc1000`): a `notop` file, or a new class count.
    public var skipHead: Bool
    /// Weights in the file that match no model parameter are ignored (and listed in the report)
    /// instead of failing the import.
    public var allowUnexpected: Bool
    /// For full-model files: refuse the file when its `model_config` disagrees with the model
    /// (layer classes, kernel sizes, strides, padding, activations, BatchNorm epsilon).
    public var checkArchitecture: Bool

    public init(skipHead: Bool = false, allowUnexpected: Bool = false, checkArchitecture: Bool = true,
                skip: @escaping @Sendable (String) -> Bool = { _ in false }) {
        self.skip = skip
        self.skipHead = skipHead
        self.allowUnexpected = allowUnexpected
        self.checkArchitecture = checkArchitecture
    }

    /// Every tensor must match, both ways.
    public static var strict: ImportOptions { ImportOptions() }
    /// Transfer learning: the head is skipped, extra tensors in the file (an old head) are ignored.
    public static var transfer: ImportOptions { ImportOptions(skipHead: true, allowUnexpected: true) }
}

/// What an import did (or, for a dry run, would do).
public struct ImportReport: Sendable, CustomStringConvertible {
    public var file: String
    public var format: WeightFileFormat
    public var kerasVersion: String?
    public var backend: String?
    /// Graft parameter paths assigned, in model order.
    public var loaded: [String] = []
    /// Graft parameter paths left untouched on purpose (`skip`, `skipHead`).
    public var skipped: [String] = []
    /// File tensors (`layer/weight`) not used: those of skipped parameters and, with `allowUnexpected`,
    /// those matching nothing.
    public var ignored: [String] = []
    /// File layer name -> model layer name, for layers matched through legacy aliases (`res2a_branch2a`).
    public var legacyNames: [String: String] = [:]
    /// The BatchNorm epsilon the file implies: its `model_config`, 1e-3 for legacy Keras-1 ResNet names,
    /// 1e-5 for Caffe BatchNorm; nil when the file says nothing. Build the model with it
    /// (`ZooOptions.bnEpsilon`) - NN's BatchNorm epsilon is fixed at construction.
    public var impliedBNEpsilon: Float?
    /// The epsilon of the model's BatchNorm layers (nil: none).
    public var modelBNEpsilon: Float?
    /// Conv kernels flipped spatially because the file came from the Theano backend.
    public var flippedTheanoKernels: [String] = []
    /// The architecture of a full-model file.
    public var architecture: KerasModelConfig?
    /// The file holds weights only (no `model_config`): loaded by name, its activations, pooling,
    /// padding and strides could not be compared with the model.
    public var architectureNotChecked = false
    public var warnings: [String] = []

    public var description: String {
        var lines = ["\(file): \(format.rawValue), loaded \(loaded.count) tensors"
                     + (skipped.isEmpty ? "" : ", skipped \(skipped.count) (\(skipped.joined(separator: ", ")))")
                     + (ignored.isEmpty ? "" : ", ignored \(ignored.count) file tensors (\(ignored.joined(separator: ", ")))")]
        if !legacyNames.isEmpty { lines.append("  legacy layer names: \(legacyNames.count) (e.g. \(legacyNames.sorted { $0.key < $1.key }.prefix(3).map { "\($0.key) -> \($0.value)" }.joined(separator: ", ")))") }
        if let e = impliedBNEpsilon { lines.append("  BatchNorm epsilon implied by the file: \(e) (model: \(modelBNEpsilon.map { "\($0)" } ?? "none"))") }
        if !flippedTheanoKernels.isEmpty { lines.append("  Theano kernels flipped: \(flippedTheanoKernels.count)") }
        if architectureNotChecked {
            lines.append("  architecture not checked: the file holds weights only (activations, pooling, padding and strides are the model's)")
        }
        lines += warnings.map { "  warning: \($0)" }
        return lines.joined(separator: "\n")
    }
}

/// Why weights could not be imported. Nothing was assigned when this is thrown.
public struct WeightImportError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
    public enum Kind: Equatable, Sendable {
        /// Missing, unexpected or wrongly shaped tensors (see the lists).
        case incompatibleWeights
        /// A full-model file whose `model_config` describes a different network.
        case architectureMismatch
        /// The file's content cannot be mapped (duplicate names after aliasing, unknown tensor kinds...).
        case unsupported
    }

    public struct Missing: Equatable, Sendable {
        /// Graft parameter path.
        public var path: String
        /// Where the file should have it (`fc1/kernel`, or the path for native files).
        public var fileName: String
        /// Shape the file's tensor must have, in the file's layout.
        public var expectedShape: [Int]
    }

    public struct Unexpected: Equatable, Sendable {
        /// `layer/weight` as in the file.
        public var fileName: String
        public var shape: [Int]
    }

    public struct ShapeMismatch: Equatable, Sendable {
        public var path: String
        public var fileName: String
        /// In the file's layout (Keras HWIO/(in, out); Graft layout for Caffe and native files).
        public var expected: [Int]
        public var found: [Int]
    }

    public let kind: Kind
    public let file: String
    /// The model's architecture name.
    public let model: String
    public var missing: [Missing]
    public var unexpected: [Unexpected]
    public var shapeMismatches: [ShapeMismatch]
    /// For architecture mismatches: the first disagreeing layer and how; otherwise extra context.
    public var detail: String

    public init(_ kind: Kind, file: String, model: String, missing: [Missing] = [], unexpected: [Unexpected] = [],
                shapeMismatches: [ShapeMismatch] = [], detail: String = "") {
        self.kind = kind; self.file = file; self.model = model
        self.missing = missing; self.unexpected = unexpected; self.shapeMismatches = shapeMismatches
        self.detail = detail
    }

    public var missingPaths: [String] { missing.map(\.path) }
    public var unexpectedNames: [String] { unexpected.map(\.fileName) }

    public var description: String {
        var parts: [String] = []
        if !detail.isEmpty { parts.append(detail) }
        for m in shapeMismatches {
            parts.append("shape mismatch at \(m.path) (file \(m.fileName)): expected \(m.expected), found \(m.found)")
        }
        if !missing.isEmpty {
            parts.append("\(missing.count) missing: " + missing.map { "\($0.path) (\($0.fileName) \($0.expectedShape))" }.joined(separator: ", "))
        }
        if !unexpected.isEmpty {
            parts.append("\(unexpected.count) unexpected: " + unexpected.map { "\($0.fileName) \($0.shape)" }.joined(separator: ", "))
        }
        var hint = ""
        if kind == .incompatibleWeights {
            let headOnly = (missing.map(\.path) + shapeMismatches.map(\.path)).allSatisfy { $0.hasPrefix("predictions.") }
            if headOnly && !(missing.isEmpty && shapeMismatches.isEmpty) {
                hint = " (a different class count or a notop file: import with skipHead)"
            } else if !unexpected.isEmpty && missing.isEmpty && shapeMismatches.isEmpty {
                hint = " (to ignore extra weights: allowUnexpected)"
            }
        }
        return "\(file): cannot import into \(model): " + parts.joined(separator: "; ") + hint + "; nothing was loaded"
    }

    public var errorDescription: String? { description }
}
