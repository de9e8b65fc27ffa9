import Foundation

/// The small trunks Graft ships in `pretrained/` and the demo data in `data/`, so the README's first
/// command runs on a fresh machine with no download. `--base vgg|resnet|lenet` picks one.
public struct ShippedModel: Sendable {
    public let alias: String
    /// File under `pretrained/`.
    public let file: String
    /// Folder under `data/` used when `--data` is not given.
    public let defaultData: String
    /// The recipe (under `recipes/`) that trained the shipped file.
    public let recipe: String
    /// The recipe `finetune --base ALIAS` starts from when no --recipe is given.
    public let defaultRecipe: String

    public static let all: [ShippedModel] = [
        ShippedModel(alias: "vgg", file: "vgg11-w050-cifar7.h5", defaultData: "cifar10-3class", recipe: "pretrain-vgg-cifar7.yaml", defaultRecipe: "vgg-cifar3.yaml"),
        ShippedModel(alias: "resnet", file: "resnet18-w025-cifar7.h5", defaultData: "cifar10-3class", recipe: "pretrain-resnet-cifar7.yaml", defaultRecipe: "resnet-cifar3.yaml"),
        ShippedModel(alias: "lenet", file: "lenet5-mnist5k.h5", defaultData: "mnist5k", recipe: "pretrain-lenet-mnist.yaml", defaultRecipe: "lenet-digits.yaml"),
    ]

    public static func named(_ alias: String) -> ShippedModel? { all.first { $0.alias == alias } }

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
    public var dataPath: String { Self.repositoryRoot().appendingPathComponent("data").appendingPathComponent(defaultData).path }
}
