import Foundation
import ImageIO
import TensorCore

/// `finetune evaluate --data DIR`: accuracy, top-k, per-class precision/recall/F1 and the confusion
/// matrix over DIR's class folders (DIR/val, DIR/valid or DIR/test when DIR has them).
public enum EvaluateJob {
    /// `classNames`: evaluate only these class folders of DIR (others ignored); they must be the model's classes.
    /// `tta`: average each image's probabilities over the test-time views (`TestTimeAugmentation`).
    public static func run(_ loaded: LoadedModel, data: String, classNames: [String]? = nil, preprocess: Preprocessing?,
                           topK: Int, tta: Bool = false) throws -> EvaluationSummary {
        var folder = URL(fileURLWithPath: data)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: data, isDirectory: &isDir), isDir.boolValue else {
            throw JobError("\(data): data folder not found")
        }
        for name in ["val", "valid", "validation", "test"] where FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path) {
            folder = folder.appendingPathComponent(name)
            break
        }
        if let chosen = classNames {
            guard Set(chosen) == Set(loaded.classNames), chosen.count == loaded.classNames.count else {
                throw JobError("--class-names \(chosen.joined(separator: ",")) must name the model's classes (\(loaded.classNames.joined(separator: ", ")))")
            }
        } else {
            let names = try ImageFolderDataset(folder: folder, options: DatasetOptions(verifyImages: false)).classNames
            if let unknown = names.first(where: { !loaded.classNames.contains($0) }) {
                throw JobError("\(folder.path): class folder '\(unknown)' is not one of the model's classes (\(loaded.classNames.joined(separator: ", "))); "
                               + "--class-names \(loaded.classNames.joined(separator: ",")) evaluates only those folders")
            }
        }
        let dataset = try ImageFolderDataset(folder: folder, classNames: loaded.classNames, ignoringOthers: classNames != nil)
        var acc = EvaluationAccumulator(classCount: loaded.classNames.count, k: min(topK, loaded.classNames.count))
        if tta {
            try TestTimeAugmentation.evaluate(loaded, dataset: dataset, preprocessing: loaded.preprocessing(override: preprocess),
                                              accumulator: &acc)
            return acc.summary(classNames: loaded.classNames)
        }
        let loader = try BatchLoader(dataset: dataset, preprocessing: loaded.preprocessing(override: preprocess),
                                     batchSize: 64, shuffle: false)
        let batches = loader.batches(epoch: 0)
        while let b = try batches.next() {
            acc.add(scores: loaded.probabilities(b.images), labels: b.labels)
        }
        return acc.summary(classNames: loaded.classNames)
    }

    public static func text(_ s: EvaluationSummary) -> String {
        var lines = [String(format: "accuracy %.4f  top-%d %.4f  (%d images)", s.accuracy, s.topK, s.topKAccuracy, s.count)]
        let w = max(8, s.classNames.map(\.count).max() ?? 8)
        lines.append("class".padding(toLength: w, withPad: " ", startingAt: 0) + "  precision  recall     f1  support")
        for c in s.perClass {
            lines.append(c.name.padding(toLength: w, withPad: " ", startingAt: 0)
                         + String(format: "  %9.4f  %6.4f  %5.4f  %7d", c.precision, c.recall, c.f1, c.support))
        }
        lines.append("confusion matrix (rows: true class, columns: predicted)")
        for (name, row) in zip(s.classNames, s.confusionMatrix) {
            lines.append(name.padding(toLength: w, withPad: " ", startingAt: 0) + "  " + row.map { String(format: "%5d", $0) }.joined(separator: " "))
        }
        return lines.joined(separator: "\n")
    }
}
