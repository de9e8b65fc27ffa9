import Foundation
import ImageIO
import TensorCore

/// `finetune predict --explain DIR`: one Grad-CAM overlay PNG per image, for its top class or for a
/// named class, written atomically as DIR/<image name>.gradcam.png.
public enum ExplainJob {
    public struct Written: Sendable {
        public var files: [URL]
        /// The layer that was explained.
        public var layer: String
    }

    public static func run(_ loaded: LoadedModel, files: [URL], preprocess: Preprocessing?, into folder: URL,
                           className: String? = nil, layer: String? = nil, batchSize: Int = 8) throws -> Written {
        let target = try className.map { name -> Int in
            guard let i = loaded.classNames.firstIndex(of: name) else {
                throw JobError("--explain-class \(name) is not one of the model's classes (\(loaded.classNames.joined(separator: ", ")))")
            }
            return i
        }
        let cam = try GradCAM(model: loaded.model, layer: layer)
        let p = loaded.preprocessing(override: preprocess)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var written: [URL] = []
        var used = Set<String>()
        for start in stride(from: 0, to: files.count, by: batchSize) {
            let chunk = Array(files[start..<min(start + batchSize, files.count)])
            let decoded = try chunk.map { try ImageDecoder.decode(file: $0, as: p.pixelFormat) }
            let (maps, _) = try cam.maps(p.batch(decoded), classes: target.map { Array(repeating: $0, count: chunk.count) })
            for (i, file) in chunk.enumerated() {
                let out = folder.appendingPathComponent(uniqueName(for: file, used: &used))
                try PNGEncoder.write(HeatmapOverlay.draw(maps[i], over: HeatmapOverlay.modelView(decoded[i], preprocessing: p)), to: out)
                written.append(out)
            }
        }
        return Written(files: written, layer: cam.layer)
    }

    /// `photo.jpg` -> `photo.gradcam.png`; `photo-2.gradcam.png` for a second `photo.*` from another folder.
    static func uniqueName(for file: URL, used: inout Set<String>) -> String {
        let stem = file.deletingPathExtension().lastPathComponent
        var name = "\(stem).gradcam.png", n = 1
        while used.contains(name) { n += 1; name = "\(stem)-\(n).gradcam.png" }
        used.insert(name)
        return name
    }
}
