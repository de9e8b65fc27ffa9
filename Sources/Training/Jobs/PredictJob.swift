import Foundation
import ImageIO
import TensorCore

/// `finetune predict`: top-k classes per image, or one JSON array
/// `[{"file", "probabilities": [all classes], "top": [{"class", "probability"}]}]`.
public enum PredictJob {
    public struct Prediction: Codable, Sendable {
        public struct Top: Codable, Sendable { public var `class`: String; public var probability: Double }
        public var file: String
        public var probabilities: [Double]
        public var top: [Top]
    }

    /// Image files given directly or found (recursively, sorted; PNG and JPEG names) in given folders.
    /// A file given directly is decoded whatever its name: its bytes decide the format.
    public static func imageFiles(_ paths: [String]) throws -> [URL] {
        var files: [URL] = []
        for p in paths {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: p, isDirectory: &isDir) else { throw JobError("\(p): no such file or folder") }
            if !isDir.boolValue { files.append(URL(fileURLWithPath: p)); continue }
            let e = FileManager.default.enumerator(at: URL(fileURLWithPath: p), includingPropertiesForKeys: nil,
                                                   options: [.skipsHiddenFiles])
            var found: [URL] = []
            while let u = e?.nextObject() as? URL {
                if ImageFormat.fileExtensions.contains(u.pathExtension.lowercased()) { found.append(u) }
            }
            files += found.sorted { $0.path < $1.path }
        }
        if files.isEmpty { throw JobError("no PNG or JPEG images in \(paths.joined(separator: " "))") }
        return files
    }

    /// Predictions for the images that decode; each one that does not gives one `warn` line naming it
    /// (and is left out). Throws when none decodes (the one error, or a summary naming the first).
    /// `tta`: average each image's probabilities over the test-time views (`TestTimeAugmentation`).
    public static func run(_ loaded: LoadedModel, files: [URL], preprocess: Preprocessing?, top k: Int,
                           batchSize: Int = 32, tta: Bool = false, warn: WarningHandler = Warnings.standardError) throws -> [Prediction] {
        let p = loaded.preprocessing(override: preprocess)
        var results: [Prediction] = []
        var start = 0
        var failures: [Error] = []
        while start < files.count {
            var images: [(URL, Image)] = []
            for f in files[start..<min(start + batchSize, files.count)] {
                do {
                    images.append((f, try ImageDecoder.decode(file: f, as: p.pixelFormat)))   // full size, as Keras's load_img
                } catch {
                    failures.append(error)
                }
            }
            start += batchSize
            if images.isEmpty { continue }
            let chunk = images.map(\.0)
            let decoded = images.map(\.1)
            let probs = tta ? TestTimeAugmentation.probabilities(loaded, images: decoded, preprocessing: p)
                            : loaded.probabilities(p.batch(decoded))
            let c = probs.shape[1]
            for (i, f) in chunk.enumerated() {
                let row = (0..<c).map { Double(probs[flat: i * c + $0]) }
                let order = row.indices.sorted { row[$0] > row[$1] }.prefix(max(1, min(k, c)))
                results.append(Prediction(file: f.path, probabilities: row,
                                          top: order.map { .init(class: loaded.classNames[$0], probability: row[$0]) }))
            }
        }
        if results.isEmpty, let first = failures.first {
            if failures.count == 1 { throw first }
            throw JobError("none of the \(failures.count) images could be read; the first: \(first)")
        }
        for error in failures { warn(String(describing: error).split(separator: "\n").joined(separator: "; ") + " (skipped)") }
        return results
    }

    public static func json(_ predictions: [Prediction]) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted]
        // Weights loaded with --allow-nonfinite-weights can give NaN: written as strings, not an error.
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return String(decoding: try e.encode(predictions), as: UTF8.self)
    }

    public static func text(_ predictions: [Prediction]) -> String {
        predictions.map { p in
            "\(p.file): " + p.top.map { "\($0.class) \(String(format: "%.4f", $0.probability))" }.joined(separator: ", ")
        }.joined(separator: "\n")
    }
}
