import Foundation
import ImageIO
import TensorCore

/// The image sets of a run: `DIR/train` + `DIR/val|valid|validation|test` when present, otherwise the
/// class folders of `DIR` split by a seeded stratified fraction.
struct RunData {
    var train: ImageFolderDataset
    var validation: ImageFolderDataset?
    var splitDescription: String

    /// `classNames`: the classes in label order, every folder of them required and no other allowed
    /// (an extended head's order); `selecting`: a subset of the class folders in this order, others ignored.
    static func load(_ dir: String, validationFraction: Double, seed: UInt64, classNames: [String]? = nil,
                     selecting: [String]? = nil, warn: @escaping @Sendable (String) -> Void) throws -> RunData {
        let root = URL(fileURLWithPath: dir)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw JobError("\(dir): data folder not found")
        }
        let options = DatasetOptions(warn: warn)
        func folder(_ url: URL) throws -> ImageFolderDataset {
            if let names = classNames {
                return try ImageFolderDataset(folder: url, classNames: names, ignoringOthers: selecting != nil, options: options)
            }
            if let names = selecting {
                return try ImageFolderDataset(folder: url, classNames: names, ignoringOthers: true, options: options)
            }
            return try ImageFolderDataset(folder: url, options: options)
        }
        let trainDir = root.appendingPathComponent("train")
        if exists(trainDir) {
            let train = try folder(trainDir)
            for name in ["val", "valid", "validation", "test"] where exists(root.appendingPathComponent(name)) {
                let val = try ImageFolderDataset(folder: root.appendingPathComponent(name), classNames: train.classNames,
                                                 ignoringOthers: selecting != nil, options: options)
                return RunData(train: train, validation: val, splitDescription: "train/ \(train.count), \(name)/ \(val.count)")
            }
            return try split(train, validationFraction, seed)
        }
        return try split(try folder(root), validationFraction, seed)
    }

    private static func split(_ all: ImageFolderDataset, _ fraction: Double, _ seed: UInt64) throws -> RunData {
        guard fraction > 0 else { return RunData(train: all, validation: nil, splitDescription: "\(all.count) images, no validation") }
        let (t, v) = try all.split(validationFraction: fraction, seed: seed)
        return RunData(train: t, validation: v.count > 0 ? v : nil,
                       splitDescription: "\(t.count) train / \(v.count) validation (seeded \(Int(fraction * 100))% split)")
    }

    private static func exists(_ url: URL) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) && isDir.boolValue
    }
}

extension Recipe.Augmentation {
    /// The ImageIO configuration for these recipe settings.
    var imageConfig: AugmentationConfig {
        var c = AugmentationConfig()
        c.horizontalFlip = flip ? 0.5 : 0
        c.rotation = rotation
        c.translate = translation
        if zoom > 0 { c.zoom = Interval(1 - zoom, 1 + zoom) }
        if crop > 0 { c.randomResizedCrop = true; c.cropScale = Interval(crop, 1) }
        c.brightness = colorJitter
        c.contrast = colorJitter
        c.saturation = colorJitter
        c.gaussianNoise = noise
        c.erasing = erasing
        return c
    }
}
