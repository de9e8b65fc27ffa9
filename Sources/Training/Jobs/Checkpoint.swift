import Foundation
import NN
import TensorCore
import WeightIO

/// The per-epoch checkpoint of a run (`checkpoint.h5` in the output folder): every model tensor
/// (`model/<path>`, the whole network, not only what the current phase trains), the optimizer
/// state (`optimizer/<key>`), the trainer's metadata as JSON and the phase. Written atomically, so a
/// run killed at any moment leaves the previous complete checkpoint.
struct RunCheckpoint {
    static let fileName = "checkpoint.h5"

    var phase: Int
    var state: TrainingState
    /// Tensors of the whole model (the trainer's state may hold only the head).
    var fullModel: [String: Tensor]

    func write(to path: String) throws {
        var tensors: [(path: String, value: Tensor)] = []
        for (k, v) in fullModel.sorted(by: { $0.key < $1.key }) { tensors.append(("model:" + k, v)) }
        for (k, v) in state.optimizer.sorted(by: { $0.key < $1.key }) { tensors.append(("optimizer:" + k, v)) }
        let meta = String(decoding: try state.metadataJSON(), as: UTF8.self)
        try writeNativeCheckpoint(path: path, parameters: tensors,
                                  attributes: ["checkpoint_metadata": meta, "checkpoint_phase": "\(phase)"])
    }

    static func read(_ path: String) throws -> RunCheckpoint {
        let file = try readNativeCheckpoint(path: path)
        guard let meta = file.attributes["checkpoint_metadata"], let phaseText = file.attributes["checkpoint_phase"],
              let phase = Int(phaseText) else {
            throw JobError("\(path): not a Graft training checkpoint (no checkpoint metadata)")
        }
        var model: [String: Tensor] = [:], optimizer: [String: Tensor] = [:]
        for t in file.parameters {
            if t.name.hasPrefix("model:") { model[String(t.name.dropFirst(6))] = t.value }
            else if t.name.hasPrefix("optimizer:") { optimizer[String(t.name.dropFirst(10))] = t.value }
        }
        let state = try TrainingState(tensors: [:], metadataJSON: Data(meta.utf8))
        return RunCheckpoint(phase: phase, state: TrainingState(metadata: state.metadata, model: model, optimizer: optimizer),
                             fullModel: model)
    }

    /// Loads the saved tensors into `module`, all-or-nothing.
    static func load(_ tensors: [String: Tensor], into module: Module, file: String) throws {
        let params = module.namedParameters()
        for (path, p) in params {
            guard let t = tensors[path] else { throw JobError("\(file): checkpoint lacks '\(path)'") }
            guard t.shape == p.value.shape else {
                throw JobError("\(file): '\(path)' is \(t.shape) in the checkpoint, the model has \(p.value.shape)")
            }
        }
        for (path, p) in params { p.value = tensors[path]! }
    }
}
