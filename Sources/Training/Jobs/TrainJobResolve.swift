import Foundation
import WeightIO

extension TrainJob {
    /// Builds a job from the command line: defaults < recipe file (or the shipped default recipe of
    /// `--base vgg|resnet|lenet`) < flags. With `resumeFolder`, the run's own recipe.yaml is used.
    public static func resolve(recipeFile: String?, overrides: RecipeOverrides, resumeFolder: String?,
                               explicitData: Bool, explicitOut: Bool) throws -> TrainJob {
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
        if file == nil, let base = overrides.model, let shipped = ShippedModel.named(base) {
            file = ShippedModel.repositoryRoot().appendingPathComponent("recipes").appendingPathComponent(shipped.defaultRecipe)
        }
        if let f = file, !FileManager.default.fileExists(atPath: f.path) { throw JobError("\(f.path): recipe file not found") }
        var r = try Recipe.resolve(file: file, overrides: overrides)
        let dataUnset = r.data == Recipe().data
        if !explicitData, recipeFile == nil || dataUnset, let shipped = ShippedModel.named(r.model) { r.data = shipped.dataPath }
        else if !explicitData, dataUnset {
            throw JobError("no data folder: give --data DIR (or `data:` in the recipe); only --base vgg, resnet and lenet have a shipped default")
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
            r.out = "runs/\(r.model)-\(f.string(from: Date()))"
        }
        return TrainJob(recipe: r)
    }
}
