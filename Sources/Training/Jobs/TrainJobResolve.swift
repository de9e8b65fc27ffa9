import Foundation
import WeightIO

extension TrainJob {
    /// Builds a job from the command line: defaults < recipe file (or the shipped default recipe of
    /// `--base vgg|resnet|lenet`, or the transfer recipe of `--base mobilenet|mobilenetv2 --weights FILE`)
    /// < flags. With `resumeFolder`, the run's own recipe.yaml is used.
    public static func resolve(recipeFile: String?, overrides: RecipeOverrides, resumeFolder: String?,
                               explicitData: Bool, explicitClassNames: Bool = false, explicitOut: Bool) throws -> TrainJob {
        if let folder = resumeFolder {
            let saved = URL(fileURLWithPath: folder).appendingPathComponent("recipe.yaml")
            guard FileManager.default.fileExists(atPath: saved.path) else {
                throw JobError("--resume \(folder): no recipe.yaml there (not a finetune output folder)")
            }
            var r = try Recipe.load(contentsOf: saved)
            r.threads = overrides.threads ?? r.threads
            r.out = folder
            return TrainJob(recipe: r, resume: true)
        }
        var file = recipeFile.map { URL(fileURLWithPath: $0) }
        if file == nil, let base = overrides.model {
            file = ShippedModel.defaultRecipe(base: base, weights: overrides.weights)
        }
        if let f = file, !FileManager.default.fileExists(atPath: f.path) { throw JobError("\(f.path): recipe file not found") }
        var overrides = overrides
        // A default recipe's unfreeze epochs past a shorter --epochs are dropped (a quick frozen-only run),
        // where the same in a recipe the user wrote is an error.
        if recipeFile == nil, let f = file, let epochs = overrides.epochs, overrides.unfreezeAt == nil {
            let steps = try Recipe.resolve(file: f).unfreezeAt
            if steps.contains(where: { $0.epoch > epochs }) { overrides.unfreezeAt = steps.filter { $0.epoch <= epochs } }
        }
        var r = try Recipe.resolve(file: file, overrides: overrides)
        let dataUnset = r.data == Recipe().data
        if !explicitData, recipeFile == nil || dataUnset, let shipped = ShippedModel.named(r.model) {
            guard FileManager.default.fileExists(atPath: shipped.dataPath) else {
                throw JobError("--base \(shipped.alias): its default data \(shipped.defaultData) is not here (\(shipped.dataPath)); give --data DIR")
            }
            r.data = shipped.dataPath
        } else if !explicitData, dataUnset {
            let names = ShippedModel.all.map(\.alias).joined(separator: ", ")
            throw JobError("no data folder: give --data DIR (or `data:` in the recipe); only the shipped trunks (\(names)) have a default")
        }
        // A shipped default recipe's class_names choose folders of its own default data only.
        if recipeFile == nil, explicitData, !explicitClassNames, ShippedModel.named(r.model) != nil { r.classNames = nil }
        if let names = r.classNames, let c = r.classes, c != names.count {
            throw JobError("--classes \(c) but class_names lists \(names.count) classes (\(names.joined(separator: ", ")))")
        }
        // `--extend FILE` continues FILE's architecture whatever `model` says: record that one (it also
        // names the default output folder). A missing or unreadable FILE is reported when the run starts.
        if let path = r.extend, FileManager.default.fileExists(atPath: path),
           let meta = try? readNativeModelMetadata(readWeightFile(path: path)) {
            r.model = meta.architecture
        }
        if !explicitOut, r.out == Recipe().out {
            let f = DateFormatter()
            f.dateFormat = "yyyyMMdd-HHmmss"
            // `--base FILE` (a Keras model file): the run is named after the file.
            let name = r.model.contains("/") || r.model.contains(".")
                ? URL(fileURLWithPath: r.model).deletingPathExtension().lastPathComponent : r.model
            r.out = "runs/\(name)-\(f.string(from: Date()))"
        }
        return TrainJob(recipe: r)
    }
}
