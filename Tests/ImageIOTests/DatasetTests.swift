import Foundation
import Synchronization
import Testing
@testable import ImageIO

/// Collects warning lines (the handler is called from one thread at a time, but must be Sendable).
final class WarningLog: Sendable {
    private let storage = Mutex<[String]>([])
    var lines: [String] { storage.withLock { $0 } }
    var handler: WarningHandler { { line in self.storage.withLock { $0.append(line) } } }
}

@Test func folderPerClassSkipsUnreadableAndIgnoresHiddenAndNonImages() throws {
    let log = WarningLog()
    let dataset = try ImageFolderDataset(folder: try Fixtures.tinyFolder(), options: DatasetOptions(warn: log.handler))
    #expect(dataset.classNames == ["airplane", "frog"])
    #expect(dataset.classCounts == [4, 4])
    #expect(dataset.samples.allSatisfy { !$0.file.lastPathComponent.hasPrefix(".") && $0.file.pathExtension == "png" })
    #expect(dataset.samples.map(\.label) == [0, 0, 0, 0, 1, 1, 1, 1])
    // Sorted by path within each class.
    #expect(dataset.samples.prefix(4).map(\.file.lastPathComponent) == ["tr0005.png", "tr0019.png", "tr0025.png", "tr0037.png"])
    #expect(dataset.skipped.count == 1)
    #expect(dataset.skipped.first?.path.hasSuffix("frog/broken.png") == true)
    // One warning line per skipped file, plus the summary.
    #expect(log.lines.count == 2)
    #expect(log.lines.first?.contains("frog/broken.png") == true)
    #expect(log.lines.last?.contains("1 unreadable file(s) skipped") == true)
    #expect(log.lines.allSatisfy { !$0.contains("\n") })
}

@Test func tinyDatasetClassesLookDifferent() throws {
    // The made images (Fixtures.tinyFolder) are 32x32 RGB; airplanes are mostly blue, frogs mostly green.
    let dataset = try ImageFolderDataset(folder: try Fixtures.tinyFolder(), options: DatasetOptions(warn: Warnings.silent))
    var seen = Set<[UInt8]>()
    for sample in dataset.samples {
        let image = try PNGDecoder.decode(file: sample.file, as: .rgb)
        #expect(image.width == 32 && image.height == 32)
        let mean = (0..<3).map { c in stride(from: c, to: image.pixels.count, by: 3).reduce(0) { $0 + Int(image.pixels[$1]) } / (32 * 32) }
        if sample.label == 0 { #expect(mean[2] > mean[1] + 30 && mean[2] > mean[0] + 30, "\(sample.file.lastPathComponent): \(mean)") }
        else { #expect(mean[1] > mean[0] + 60 && mean[1] > mean[2] + 60, "\(sample.file.lastPathComponent): \(mean)") }
        seen.insert(image.pixels)
    }
    #expect(seen.count == dataset.count, "every image is different")
}

@Test func withoutVerificationTheBrokenFileIsListedButTheCacheSkipsIt() throws {
    let log = WarningLog()
    let options = DatasetOptions(verifyImages: false, warn: log.handler)
    let listed = try ImageFolderDataset(folder: try Fixtures.tinyFolder(), options: options)
    #expect(listed.count == 9 && log.lines.isEmpty)
    let cache = try DecodedImageCache(dataset: listed, options: options)
    #expect(cache.dataset.count == 8 && cache.images.count == 8)
    #expect(cache.dataset.skipped.count == 1)
    #expect(log.lines.contains { $0.contains("broken.png") })
}

@Test func aClassWithoutReadableImagesIsAnErrorNamingItsFolder() throws {
    let root = try Fixtures.temporaryFolder("emptyclass")
    defer { try? FileManager.default.removeItem(at: root) }
    let fm = FileManager.default
    for name in ["cats", "dogs", ".cache"] { try fm.createDirectory(at: root.appendingPathComponent(name), withIntermediateDirectories: true) }
    try fm.copyItem(at: try Fixtures.tinyFolder().appendingPathComponent("airplane/tr0005.png"), to: root.appendingPathComponent("cats/a.png"))
    try fm.copyItem(at: try Fixtures.tinyFolder().appendingPathComponent("frog/broken.png"), to: root.appendingPathComponent("dogs/b.png"))
    try Data("x".utf8).write(to: root.appendingPathComponent("dogs/notes.txt"))
    let dogs = root.appendingPathComponent("dogs").path
    #expect(throws: ImageIOError.emptyClass(name: "dogs", location: dogs)) {
        try ImageFolderDataset(folder: root, options: DatasetOptions(warn: Warnings.silent))
    }
    #expect(throws: ImageIOError.missingFolder(path: root.appendingPathComponent("nope").path)) {
        try ImageFolderDataset(folder: root.appendingPathComponent("nope"))
    }
    #expect(throws: ImageIOError.noClasses(path: root.appendingPathComponent("cats").path)) {
        try ImageFolderDataset(folder: root.appendingPathComponent("cats"))
    }
}

@Test func explicitTrainValidationSplitSharesTheClassList() throws {
    let (train, validation) = try ImageFolderDataset.trainValidation(root: try Fixtures.tinySplit())
    #expect(train.classNames == ["airplane", "frog"] && validation.classNames == train.classNames)
    #expect(train.classCounts == [3, 3] && validation.classCounts == [1, 1])
    #expect(validation.samples.allSatisfy { $0.file.path.contains("/val/") })
}

private func syntheticDataset(perClass: [Int]) -> ImageFolderDataset {
    var samples: [ImageSample] = []
    for (label, n) in perClass.enumerated() {
        for i in 0..<n { samples.append(ImageSample(file: URL(fileURLWithPath: "/synthetic/\(label)/\(i).png"), label: label)) }
    }
    return ImageFolderDataset(root: URL(fileURLWithPath: "/synthetic"), classNames: perClass.indices.map { "c\($0)" },
                              samples: samples)
}

@Test func seededSplitIsStratifiedReproducibleAndDisjoint() throws {
    let dataset = syntheticDataset(perClass: [50, 30, 1])
    let (train, validation) = try dataset.split(validationFraction: 0.2, seed: 7)
    #expect(validation.classCounts == [10, 6, 0])       // a single-sample class stays in training
    #expect(train.classCounts == [40, 24, 1])
    #expect(Set(train.samples).isDisjoint(with: Set(validation.samples)))
    #expect(Set(train.samples).union(Set(validation.samples)) == Set(dataset.samples))
    let again = try dataset.split(validationFraction: 0.2, seed: 7)
    #expect(again.validation.samples == validation.samples)
    let other = try dataset.split(validationFraction: 0.2, seed: 8)
    #expect(other.validation.samples != validation.samples)
    #expect(throws: ImageIOError.self) { try dataset.split(validationFraction: 1.5, seed: 0) }
}

@Test func labelFileGivesMultiLabelTargets() throws {
    let folder = try Fixtures.temporaryFolder("csv")
    defer { try? FileManager.default.removeItem(at: folder) }
    let images = try Fixtures.tinyFolder()
    let names = "file,labels\n# comment\nairplane/tr0005.png,sky vehicle\n\"frog/tr0093.png\",animal\nfrog/tr0101.png,animal;vehicle\nfrog/broken.png,animal\nmissing.png,sky\n"
    let namesFile = folder.appendingPathComponent("labels.csv")
    try Data(names.utf8).write(to: namesFile)
    let log = WarningLog()
    let byName = try ImageFolderDataset(labelFile: namesFile, imagesFolder: images, options: DatasetOptions(warn: log.handler))
    #expect(byName.isMultiLabel && byName.classNames == ["animal", "sky", "vehicle"])
    #expect(byName.samples.map(\.targets) == [[0, 1, 1], [1, 0, 0], [1, 0, 1]])
    #expect(byName.skipped.count == 2 && log.lines.count == 3)

    let columns = "file,cat,dog\nairplane/tr0005.png,1,0\nfrog/tr0093.png,0.5,1\n"
    let columnsFile = folder.appendingPathComponent("columns.csv")
    try Data(columns.utf8).write(to: columnsFile)
    let byColumn = try ImageFolderDataset(labelFile: columnsFile, imagesFolder: images)
    #expect(byColumn.classNames == ["cat", "dog"] && byColumn.samples.map(\.targets) == [[1, 0], [0.5, 1]])

    try Data("file,cat,dog\nairplane/tr0005.png,1\n".utf8).write(to: columnsFile)
    #expect(throws: ImageIOError.invalidLabelFile(path: columnsFile.path, line: 2, reason: "2 fields, header has 3")) {
        try ImageFolderDataset(labelFile: columnsFile, imagesFolder: images)
    }
    try Data("file,cat,dog\nairplane/tr0005.png,1,0\n".utf8).write(to: columnsFile)
    #expect(throws: ImageIOError.emptyClass(name: "dog", location: columnsFile.path)) {
        try ImageFolderDataset(labelFile: columnsFile, imagesFolder: images)
    }
}
