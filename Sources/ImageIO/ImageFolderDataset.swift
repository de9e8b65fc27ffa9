import Foundation
import TensorCore

/// One labelled image file.
public struct ImageSample: Sendable, Hashable {
    public let file: URL
    /// Class index. For multi-label datasets: the first positive class, or -1 when none is.
    public let label: Int
    /// Multi-hot (or any per-class) targets for multi-label datasets; empty for single-label ones.
    public let targets: [Float]

    public init(file: URL, label: Int, targets: [Float] = []) {
        self.file = file; self.label = label; self.targets = targets
    }
}

/// A file left out of a dataset, and why.
public struct SkippedFile: Sendable, Hashable, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "skipping '\(path)': \(reason)" }
}

/// How a dataset scan treats files.
public struct DatasetOptions: Sendable {
    /// Decode every file once while scanning (in parallel) and skip the unreadable ones. Off: only
    /// the listing is checked, and a bad file fails later, when it is loaded.
    public var verifyImages: Bool
    /// Pixel decoding options used for the check (limits).
    public var decodeOptions: ImageDecodeOptions
    /// Receives one line per skipped file and the summary line.
    public var warn: WarningHandler

    public init(verifyImages: Bool = true, decodeOptions: ImageDecodeOptions = ImageDecodeOptions(),
                warn: @escaping WarningHandler = Warnings.standardError) {
        self.verifyImages = verifyImages; self.decodeOptions = decodeOptions; self.warn = warn
    }

    /// Extensions counted as images. PNG and JPEG decode (told apart by their bytes); the others are
    /// skipped with a warning (rather than silently ignored) so a folder of GIFs does not look empty.
    static let imageExtensions: Set<String> = ImageFormat.fileExtensions.union(["gif", "bmp", "webp", "tif", "tiff", "heic"])
    static let decodableExtensions: Set<String> = ImageFormat.fileExtensions
}

/// A labelled image dataset: folder-per-class (`DIR/<class>/**/*.png`, classes sorted by name), an
/// explicit train/val pair of such folders, or a CSV label file (multi-label). Hidden files and
/// folders and non-image files are ignored; unreadable images are skipped with one warning line each
/// and counted in `skipped`; a class left without any readable image is an error.
///
/// ```swift
/// let data = try ImageFolderDataset(folder: URL(fileURLWithPath: "digits"))   // digits/7/*.png, digits/8/...
/// print(data.summary, data.classNames)                                      // label i is classNames[i]
/// let (train, validation) = try data.split(validationFraction: 0.2, seed: 0)
/// ```
public struct ImageFolderDataset: Sendable {
    /// The folder it was read from.
    public let root: URL
    /// Class names in label order (sorted folder names unless given).
    public let classNames: [String]
    /// Every readable image with its label (folder datasets: class by class, files sorted by path).
    public let samples: [ImageSample]
    /// Read from a label file with several labels per image (targets instead of one label).
    public let isMultiLabel: Bool
    /// Files that were left out, with the reason.
    public let skipped: [SkippedFile]

    /// Number of samples.
    public var count: Int { samples.count }
    /// Number of classes.
    public var classCount: Int { classNames.count }

    /// Images per class (for multi-label: samples where the class target is positive).
    public var classCounts: [Int] {
        var counts = [Int](repeating: 0, count: classNames.count)
        for s in samples {
            if isMultiLabel {
                for (k, t) in s.targets.enumerated() where t > 0 { counts[k] += 1 }
            } else if s.label >= 0 {
                counts[s.label] += 1
            }
        }
        return counts
    }

    /// One line: images, classes, skipped files.
    public var summary: String {
        "\(root.path): \(count) images in \(classCount) classes, \(skipped.count) unreadable file(s) skipped"
    }

    public init(root: URL, classNames: [String], samples: [ImageSample], isMultiLabel: Bool = false,
                skipped: [SkippedFile] = []) {
        self.root = root; self.classNames = classNames; self.samples = samples
        self.isMultiLabel = isMultiLabel; self.skipped = skipped
    }

    /// Folder per class: every non-hidden sub-folder of `folder` is a class, sorted by name.
    public init(folder: URL, options: DatasetOptions = DatasetOptions()) throws {
        let classes = try DatasetScan.classFolders(in: folder)
        try self.init(folder: folder, classNames: classes, options: options)
    }

    /// Folder per class with a given class list (e.g. a validation folder using the training classes,
    /// so label indices agree). Each named class folder must exist and hold a readable image. Other
    /// class folders are an error, unless `ignoringOthers` (a chosen subset of the folders, as Keras's
    /// `image_dataset_from_directory(class_names=)` takes).
    public init(folder: URL, classNames: [String], ignoringOthers: Bool = false,
                options: DatasetOptions = DatasetOptions()) throws {
        let present = try DatasetScan.classFolders(in: folder)
        if let missing = classNames.first(where: { !present.contains($0) }) {
            throw ImageIOError.invalidConfiguration(
                "\(folder.path): no class folder '\(missing)' (it has \(present.joined(separator: ", ")))")
        }
        if !ignoringOthers, let extra = present.first(where: { !classNames.contains($0) }) {
            throw ImageIOError.invalidConfiguration("class folder '\(folder.appendingPathComponent(extra).path)' is not one of the classes \(classNames)")
        }
        var candidates: [ImageSample] = []
        var skipped: [SkippedFile] = []
        for (index, name) in classNames.enumerated() {
            let classFolder = folder.appendingPathComponent(name)
            for file in DatasetScan.imageFiles(in: classFolder) {
                if DatasetScan.isDecodable(file) {
                    candidates.append(ImageSample(file: file, label: index))
                } else {
                    skipped.append(SkippedFile(path: file.path, reason: "unsupported image format (PNG and JPEG are decoded)"))
                }
            }
        }
        let (readable, unreadable) = DatasetScan.verify(candidates, options: options)
        skipped += unreadable
        let dataset = ImageFolderDataset(root: folder, classNames: classNames, samples: readable, skipped: skipped)
        DatasetScan.report(dataset, options: options)
        if let empty = dataset.classCounts.firstIndex(of: 0) {
            throw ImageIOError.emptyClass(name: classNames[empty], location: folder.appendingPathComponent(classNames[empty]).path)
        }
        self = dataset
    }

    /// An explicit split: `root/train` and `root/val` (or `valid`, `validation`), class folders in
    /// each; validation labels use the training class list.
    public static func trainValidation(root: URL, options: DatasetOptions = DatasetOptions()) throws
        -> (train: ImageFolderDataset, validation: ImageFolderDataset) {
        let train = try ImageFolderDataset(folder: root.appendingPathComponent("train"), options: options)
        let candidates = ["val", "valid", "validation"].map { root.appendingPathComponent($0) }
        guard let valFolder = candidates.first(where: { DatasetScan.isDirectory($0) }) else {
            throw ImageIOError.missingFolder(path: root.appendingPathComponent("val").path)
        }
        let validation = try ImageFolderDataset(folder: valFolder, classNames: train.classNames, options: options)
        return (train, validation)
    }

    /// A seeded, stratified split: in each class (by `label`) a shuffled `validationFraction` of the
    /// samples (rounded; at least one sample stays in training) goes to validation. Sample order
    /// inside each part follows the original order.
    public func split(validationFraction: Double, seed: UInt64) throws
        -> (train: ImageFolderDataset, validation: ImageFolderDataset) {
        guard (0...1).contains(validationFraction) else {
            throw ImageIOError.invalidConfiguration("validationFraction \(validationFraction) must be in 0...1")
        }
        var rng = SeededRandom(dataSeed: seed, stream: 0x5EED_5B17)
        var isValidation = [Bool](repeating: false, count: samples.count)
        let groups = Dictionary(grouping: samples.indices, by: { samples[$0].label })
        for label in groups.keys.sorted() {
            var members = groups[label] ?? []
            rng.shuffle(&members)
            let wanted = Int((Double(members.count) * validationFraction).rounded())
            let take = members.count > 1 ? min(wanted, members.count - 1) : 0
            for i in members.prefix(take) { isValidation[i] = true }
        }
        let train = samples.indices.filter { !isValidation[$0] }.map { samples[$0] }
        let validation = samples.indices.filter { isValidation[$0] }.map { samples[$0] }
        return (ImageFolderDataset(root: root, classNames: classNames, samples: train, isMultiLabel: isMultiLabel,
                                   skipped: skipped),
                ImageFolderDataset(root: root, classNames: classNames, samples: validation, isMultiLabel: isMultiLabel))
    }

    /// The samples at `indices`, same classes.
    public func subset(_ indices: [Int]) -> ImageFolderDataset {
        ImageFolderDataset(root: root, classNames: classNames, samples: indices.map { samples[$0] },
                           isMultiLabel: isMultiLabel)
    }
}

/// File-system helpers shared by the folder and label-file datasets.
enum DatasetScan {
    static func isDirectory(_ url: URL) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) && isDir.boolValue
    }

    static func isHidden(_ name: String) -> Bool { name.hasPrefix(".") }

    static func isDecodable(_ file: URL) -> Bool {
        DatasetOptions.decodableExtensions.contains(file.pathExtension.lowercased())
    }

    /// Sorted names of the non-hidden sub-folders of `folder`.
    static func classFolders(in folder: URL) throws -> [String] {
        guard isDirectory(folder) else { throw ImageIOError.missingFolder(path: folder.path) }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        let classes = names.filter { !isHidden($0) && isDirectory(folder.appendingPathComponent($0)) }.sorted()
        if classes.isEmpty { throw ImageIOError.noClasses(path: folder.path) }
        return classes
    }

    /// Image files under `folder` (recursively), hidden entries skipped, sorted by path.
    static func imageFiles(in folder: URL) -> [URL] {
        var found: [URL] = []
        var pending = [folder]
        while let dir = pending.popLast() {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
            for name in names where !isHidden(name) {
                let url = dir.appendingPathComponent(name)
                if isDirectory(url) {
                    pending.append(url)
                } else if DatasetOptions.imageExtensions.contains(url.pathExtension.lowercased()) {
                    found.append(url)
                }
            }
        }
        return found.sorted { $0.path < $1.path }
    }

    /// Decodes each candidate once (in parallel) when `verifyImages` is on; returns the readable
    /// samples in their original order and the unreadable files with the decoder's reason. JPEGs are
    /// checked at libjpeg's 1/8 DCT scale: every entropy-coded byte is still decoded, so damage shows.
    static func verify(_ candidates: [ImageSample], options: DatasetOptions) -> ([ImageSample], [SkippedFile]) {
        guard options.verifyImages, !candidates.isEmpty else { return (candidates, []) }
        var failures = [String?](repeating: nil, count: candidates.count)
        var icc = [Bool](repeating: false, count: candidates.count)
        var check = options.decodeOptions
        check.minimumShorterSide = 1
        failures.withUnsafeMutableBufferPointer { slots in
            icc.withUnsafeMutableBufferPointer { iccSlots in
                guard let base = slots.baseAddress, let iccBase = iccSlots.baseAddress else { return }
                parallelFor(candidates.count) { i in
                    do {
                        let (_, info) = try ImageDecoder.decodeWithInfo(file: candidates[i].file, options: check)
                        iccBase[i] = info.jpeg?.hasICCProfile ?? false
                    } catch let error as ImageIOError {
                        base[i] = reason(error)
                    } catch {
                        base[i] = "\(error)"
                    }
                }
            }
        }
        var readable: [ImageSample] = [], unreadable: [SkippedFile] = []
        for (sample, failure) in zip(candidates, failures) {
            if let failure { unreadable.append(SkippedFile(path: sample.file.path, reason: failure)) } else { readable.append(sample) }
        }
        let withICC = icc.filter { $0 }.count
        if withICC > 0 {
            options.warn("note: \(withICC) JPEG file\(withICC == 1 ? "" : "s") carry an ICC colour profile; Graft ignores it and reads the pixels as sRGB")
        }
        return (readable, unreadable)
    }

    /// The part of an error message after the file name (the warning line names the file itself).
    static func reason(_ error: ImageIOError) -> String {
        switch error {
        case let .invalidPNG(_, reason), let .invalidJPEG(_, reason), let .unsupportedImage(_, reason), let .unreadableFile(_, reason): return reason
        default: return error.description
        }
    }

    static func report(_ dataset: ImageFolderDataset, options: DatasetOptions) {
        guard !dataset.skipped.isEmpty else { return }
        for file in dataset.skipped { options.warn("\(file)") }
        options.warn(dataset.summary)
    }
}
