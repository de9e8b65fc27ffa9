import Foundation
import Testing
import Training

/// The shipped trunks and the README's main job (`finetune --base vgg --classes 3`): digit trunks
/// pretrained on 0-6, fine-tuned by default to 7, 8 and 9 picked from the shipped data/mnist5k.
@Suite struct ShippedDefaultTests {
    static let root = CLI.packageRoot

    @Test(arguments: ShippedModel.all.map(\.alias))
    func everyShippedTrunkLoadsAndHasItsRecipes(alias: String) throws {
        let shipped = try #require(ShippedModel.named(alias))
        #expect(FileManager.default.fileExists(atPath: shipped.path), "missing \(shipped.path)")
        for recipe in [shipped.recipe, shipped.defaultRecipe] {
            let r = try Recipe.load(contentsOf: Self.root.appendingPathComponent("recipes").appendingPathComponent(recipe))
            #expect(!r.model.isEmpty)
        }
        let loaded = try LoadedModel.load(.init(model: nil, base: alias, weights: nil, classes: nil, inputSize: nil))
        #expect(loaded.model.parameterCount > 0)
        let bytes = try FileManager.default.attributesOfItem(atPath: shipped.path)[.size] as? Int ?? 0
        #expect(bytes > 0 && bytes <= 10_000_000, "\(shipped.file) is \(bytes) bytes (trunks stay <= 10 MB)")
    }

    @Test func defaultJobPicksDigitsSevenToNineOfTheShippedData() throws {
        var o = RecipeOverrides()
        o.model = "vgg"; o.classes = 3
        let job = try TrainJob.resolve(recipeFile: nil, overrides: o, resumeFolder: nil, explicitData: false, explicitOut: false)
        #expect(job.recipe.classNames == ["7", "8", "9"])
        #expect(URL(fileURLWithPath: job.recipe.data).standardized == Self.root.appendingPathComponent("data/mnist5k").standardized)

        // The default recipe's folder choice belongs to its default data: another --data uses all its folders.
        var own = o
        own.classes = nil; own.data = "/some/where"
        let mine = try TrainJob.resolve(recipeFile: nil, overrides: own, resumeFolder: nil, explicitData: true, explicitOut: false)
        #expect(mine.recipe.classNames == nil && mine.recipe.data == "/some/where")

        // --classes must agree with the chosen folders.
        var wrong = o
        wrong.classes = 4
        #expect(throws: (any Error).self) {
            try TrainJob.resolve(recipeFile: nil, overrides: wrong, resumeFolder: nil, explicitData: false, explicitOut: false)
        }
    }

    /// The shipped VGG digit trunk, frozen, already separates digits it never saw: a new head
    /// trained for two epochs on its cached features classifies 7 / 8 / 9 well.
    @Test func frozenDigitTrunkTransfersToUnseenDigits() throws {
        let tmp = try TempDir()
        let out = tmp.path("run")
        let r = try CLI.succeed(["--base", "vgg", "--classes", "3", "--epochs", "2", "--set", "unfreeze_at=[]",
                                 "--cache-features", "1", "--plain", "--out", out.path])
        #expect(r.stdout.contains("3 classes (7, 8, 9)"), "\(r)")
        let line = try #require(r.stdout.split(separator: "\n").first { $0.contains("validation accuracy") }, "\(r)")
        let accuracy = try #require(Double(line.split(separator: " ").last ?? ""), "\(line)")
        #expect(accuracy >= 0.85, "\(line)")
    }
}
