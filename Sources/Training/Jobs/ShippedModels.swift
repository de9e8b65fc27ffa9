import Foundation

/// The small trunks Graft ships in `pretrained/`, each with the recipe that trained it and the recipe
/// `finetune --base ALIAS` starts from. The digit trunks (`vgg`, `resnet`, `lenet`) run on the shipped
/// `data/mnist5k`, so the README's first command needs no download; the CIFAR trunks are for colour
/// images and default to `../shared/data/cifar10-3class` when it is there.
public struct ShippedModel: Sendable {
    public let alias: String
    /// File under `pretrained/`.
    public let file: String
    /// Folder used when `--data` is not given, relative to the repository root.
    public let defaultData: String
    /// The recipe (under `recipes/`) that trained the shipped file.
    public let recipe: String
    /// The recipe `finetune --base ALIAS` starts from when no --recipe is given.
    public let defaultRecipe: String

    public static let all: [ShippedModel] = [
        ShippedModel(alias: "vgg", file: "vgg11bn-w025-digits06.h5", defaultData: "data/mnist5k",
                     recipe: "pretrain-vgg-digits.yaml", defaultRecipe: "vgg-digits.yaml"),
        ShippedModel(alias: "resnet", file: "resnet18-w025-digits06.h5", defaultData: "data/mnist5k",
                     recipe: "pretrain-resnet-digits.yaml", defaultRecipe: "resnet-digits.yaml"),
        ShippedModel(alias: "lenet", file: "lenet5-mnist5k.h5", defaultData: "data/mnist5k",
                     recipe: "pretrain-lenet-mnist.yaml", defaultRecipe: "lenet-digits.yaml"),
        ShippedModel(alias: "vgg-cifar", file: "vgg11bn-w050-cifar7full.h5", defaultData: "../shared/data/cifar10-3class",
                     recipe: "pretrain-vgg-cifar.yaml", defaultRecipe: "vgg-cifar3.yaml"),
        ShippedModel(alias: "resnet-cifar", file: "resnet18-w025-cifar7full.h5", defaultData: "../shared/data/cifar10-3class",
                     recipe: "pretrain-resnet-cifar.yaml", defaultRecipe: "resnet-cifar3.yaml"),
    ]

    public static func named(_ alias: String) -> ShippedModel? { all.first { $0.alias == alias } }

    /// Zoo architectures whose keras.applications files (ImageNet weights, downloaded by the user) get a
    /// default recipe: `finetune --base NAME --weights FILE` without `--recipe` starts from it. Only the
    /// recipe is chosen; the data folder must be given.
    public static let transferRecipes: [String: String] = [
        "mobilenet": "mobilenet-transfer.yaml", "mobilenetv2": "mobilenetv2-transfer.yaml",
    ]

    /// The default recipe file of `--base base` (with `weights`, when the base is a zoo architecture with a
    /// transfer recipe), or nil.
    public static func defaultRecipe(base: String, weights: String?) -> URL? {
        let name = named(base)?.defaultRecipe ?? weights.flatMap { $0 == "none" ? nil : transferRecipes[base] }
        return name.map { repositoryRoot().appendingPathComponent("recipes").appendingPathComponent($0) }
    }

    /// The repository root: the current directory when it has `pretrained/`, else walking up from the
    /// executable (so `swift run` and `.build/release/finetune` both work from anywhere in the repo).
    public static func repositoryRoot() -> URL {
        let fm = FileManager.default
        var candidates = [URL(fileURLWithPath: fm.currentDirectoryPath)]
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 { candidates.append(dir); dir = dir.deletingLastPathComponent() }
        for c in candidates where fm.fileExists(atPath: c.appendingPathComponent("pretrained").path) { return c }
        return candidates[0]
    }

    public var path: String { Self.repositoryRoot().appendingPathComponent("pretrained").appendingPathComponent(file).path }
    public var dataPath: String { Self.repositoryRoot().appendingPathComponent(defaultData).standardized.path }
}
