import Foundation
import ZIPFoundation
import Zoo
import NN

// `finetune export --format keras`: a Keras 3 `.keras` archive (zip of config.json, metadata.json and
// model.weights.h5) that `keras.models.load_model()` loads. The config is the tf_keras one with Keras 3's
// `module`/`registered_name` keys (Keras 3 reads its inbound nodes); the weights are in Keras 3's
// layout, one `layers/<snake_case class>[_k]/vars/<i>` group per layer of `model.layers`, numbered per
// class in that order, as Keras 3's saver names them.

/// Keras 3's `naming.to_snake_case`: `Conv2D` -> `conv2d`, `BatchNormalization` -> `batch_normalization`,
/// `PReLU` -> `p_re_lu`.
func kerasSnakeCase(_ name: String) -> String {
    var s = name.filter { $0.isLetter || $0.isNumber || $0 == "_" }
    s = s.replacingOccurrences(of: "(.)([A-Z][a-z]+)", with: "$1_$2", options: .regularExpression)
    s = s.replacingOccurrences(of: "([a-z])([A-Z])", with: "$1_$2", options: .regularExpression)
    return s.lowercased()
}

extension ZooModel {
    /// Writes the model as a Keras 3 `.keras` archive (atomically).
    public func exportKerasArchive(to path: String, outputActivation: Activation? = nil) throws {
        let (json, layers) = try kerasModelConfig(outputActivation: outputActivation)
        guard var root = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
              var config = root["config"] as? [String: Any], let list = config["layers"] as? [[String: Any]] else {
            throw WeightIOError(.writeFailed, file: path, "the model config did not serialise")
        }
        config["layers"] = list.map { l -> [String: Any] in var l = l; l["module"] = "keras.layers"; l["registered_name"] = NSNull(); return l }
        config["trainable"] = true
        root["config"] = config
        root["module"] = "keras.src.models.functional"
        root["registered_name"] = "Functional"
        root["keras_version"] = nil
        root["backend"] = nil
        let configData = try JSONSerialization.data(withJSONObject: root, options: [.sortedKeys])
        let metadata = try JSONSerialization.data(withJSONObject: ["keras_version": "3.15.1", "date_saved": "graft"], options: [.sortedKeys])

        let weightsPath = FileManager.default.temporaryDirectory.appendingPathComponent("graft-export-\(UUID().uuidString).weights.h5")
        defer { try? FileManager.default.removeItem(at: weightsPath) }
        let file = try HDF5File.create(weightsPath.path)
        do {
            let h5 = try file.root()
            let group = try h5.createGroup("layers")
            var used: [String: Int] = [:]
            for layer in layers {
                let base = kerasSnakeCase(layer.className ?? "layer")
                let k = used[base].map { $0 + 1 } ?? 0
                used[base] = k
                let vars = try group.createGroup((k == 0 ? base : "\(base)_\(k)") + "/vars")
                try vars.setAttribute("name", string: layer.name)
                for (i, t) in layer.tensors.enumerated() { try vars.writeDataset("\(i)", t.value, shape: t.shape) }
            }
            let top = try h5.createGroup("vars")
            try top.setAttribute("name", string: (config["name"] as? String) ?? "model")
        }
        try file.close()
        let weights = try Data(contentsOf: weightsPath)

        try writeAtomically(to: path) { temporary in
            let archive: Archive
            do { archive = try Archive(url: URL(fileURLWithPath: temporary), accessMode: .create) } catch {
                throw WeightIOError(.writeFailed, file: path, "cannot create the zip archive (\(error))")
            }
            for (name, data) in [("metadata.json", metadata), ("config.json", configData), ("model.weights.h5", weights)] {
                do {
                    try archive.addEntry(with: name, type: .file, uncompressedSize: Int64(data.count), compressionMethod: .deflate) { position, size in
                        data.subdata(in: Int(position)..<(Int(position) + size))
                    }
                } catch {
                    throw WeightIOError(.writeFailed, file: path, "cannot add \(name) to the archive (\(error))")
                }
            }
        }
    }
}
