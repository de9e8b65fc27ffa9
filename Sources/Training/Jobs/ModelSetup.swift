import Foundation
import ImageIO
import NN
import TensorCore
import WeightIO
import Zoo

/// Why a job refused to start. One line each, naming the file, layer or value at fault.
public struct JobError: Error, CustomStringConvertible, LocalizedError {
    public let description: String
    public init(_ description: String) { self.description = description }
    public var errorDescription: String? { description }
}

/// A model ready to train: built, weights imported, head set up for the data's classes.
public struct PreparedModel {
    public let model: ZooModel
    /// Options the model was built with (saved in the native file).
    public let options: ZooOptions
    /// Class names in output order.
    public let classNames: [String]
    /// Where the weights came from, for the run summary.
    public let source: String
    /// Old class count when the head was extended (their rows are kept exactly).
    public let extendedFrom: Int?
}

enum ModelSetup {
    static func headPooling(_ p: Recipe.Pooling) -> HeadPooling {
        switch p { case .avg: .globalAverage; case .max: .globalMax; case .flatten: .flatten }
    }

    /// Output layer without its fused activation: training works on logits (the losses apply
    /// softmax/sigmoid themselves, numerically stable); prediction applies it explicitly.
    static func setLogitOutput(_ model: ZooModel) {
        guard let name = model.headPath else { return }
        if let d = model.head[name] as? Dense { d.fusedActivation = nil }
        if let d = model.head[name] as? ExtendedDense { d.fusedActivation = nil }
        if let out = model.spec.headRecipe.convolutionalOutput, model.head[out.activationName] != nil {
            model.head.replace(out.activationName, with: ActivationLayer(.linear), kind: ActivationKind(.linear))
        }
    }

    static func zooOptions(_ r: Recipe, classCount: Int) -> ZooOptions {
        var o = ZooOptions(inputSize: r.inputSize, inputChannels: r.inputChannels, classCount: classCount, cifarStem: r.cifarStem ?? false,
                           widthMultiplier: r.width ?? 1, dropout: r.dropout.map(Float.init), seed: r.seed)
        o.classifierActivation = .linear
        return o
    }

    /// Builds the model for `recipe` and the dataset's classes (`dataClasses`, sorted folder names).
    /// Returns the class order the model uses (for an extended head: old classes first).
    static func prepare(_ r: Recipe, dataClasses: [String]) throws -> PreparedModel {
        if let classes = r.classes, classes != dataClasses.count {
            throw JobError("--classes \(classes) but the data folder '\(r.data)' has \(dataClasses.count) classes (\(dataClasses.joined(separator: ", ")))")
        }
        if let extendPath = r.extend { return try extend(extendPath, r, dataClasses: dataClasses) }
        let n = dataClasses.count
        if FileManager.default.fileExists(atPath: r.model), try isKerasModelFile(path: r.model) {
            return try kerasFile(r, dataClasses: dataClasses)
        }
        if let shipped = ShippedModel.named(r.model), r.weights == nil {
            return try transfer(nativePath: shipped.path, r, dataClasses: dataClasses, label: "shipped \(shipped.alias) trunk")
        }
        guard let weights = r.weights, weights != "none" else {
            let entry = try Zoo.entry(named: r.model)
            let o = zooOptions(r, classCount: n)
            let model = try entry.build(o)
            if !r.head.keepHidden {   // a fresh head: pooling -> dropout -> predictions, no hidden dense layers
                try model.rebuildHead(classCount: n, keepHidden: false, pooling: headPooling(r.head.pooling),
                                      dropout: r.dropout.map(Float.init), classifierActivation: .linear)
            }
            setLogitOutput(model)
            return PreparedModel(model: model, options: o, classNames: dataClasses,
                                 source: "\(entry.name), random initialisation (seed \(r.seed))", extendedFrom: nil)
        }
        guard FileManager.default.fileExists(atPath: weights) else { throw JobError("\(weights): weights file not found") }
        if try detectWeightFileFormat(path: weights) == .graftNative {
            return try transfer(nativePath: weights, r, dataClasses: dataClasses, label: weights)
        }
        // A foreign file (Keras 2/3, Caffe): the trunk must match exactly; the head is new unless the
        // file's head already has this class count.
        let o = zooOptions(r, classCount: n)
        let strict = try? loadPretrained(r.model, options: o, weights: weights, importOptions: .strict)
        let loaded = try strict ?? loadPretrained(r.model, options: o, weights: weights, importOptions: .transfer)
        setLogitOutput(loaded.model)
        let how = strict == nil ? "trunk imported, new \(n)-class head" : "all layers imported"
        return PreparedModel(model: loaded.model, options: o, classNames: dataClasses,
                             source: "\(weights) (\(loaded.report.format), \(how))", extendedFrom: nil)
    }

    /// `--base FILE`, a Keras model file (full-model `.h5` or `.keras`): its own architecture and weights,
    /// the last Dense trained on logits with the data's class count (a new one when the count differs).
    static func kerasFile(_ r: Recipe, dataClasses: [String]) throws -> PreparedModel {
        if let w = r.weights { throw JobError("--base \(r.model) is a Keras model file with its own weights; --weights \(w) is not used with it") }
        let (model, report, newHead) = try loadKerasModelForTraining(path: r.model, classCount: dataClasses.count, inputSize: r.inputSize)
        if let s = r.inputSize, s != model.inputShape[1] {
            throw JobError("\(r.model): the model takes \(model.inputShape[1])x\(model.inputShape[2]) input, --input-size is \(s)")
        }
        setLogitOutput(model)
        var options = model.effectiveOptions()
        options.classifierActivation = .linear
        let how = newHead ? "new \(dataClasses.count)-class head" : "all layers imported"
        return PreparedModel(model: model, options: options, classNames: dataClasses,
                             source: "\(r.model) (Keras model, \(report.loaded.count) tensors, \(how))", extendedFrom: nil)
    }

    /// A Graft model file as the starting point: same architecture, head rebuilt for the new classes
    /// unless it already has exactly these classes.
    static func transfer(nativePath: String, _ r: Recipe, dataClasses: [String], label: String) throws -> PreparedModel {
        guard FileManager.default.fileExists(atPath: nativePath) else { throw JobError("\(nativePath): model file not found") }
        let (model, meta) = try namingFile(nativePath) { try loadNativeModel(path: nativePath) }
        if ShippedModel.named(r.model) == nil, r.model != meta.architecture {
            throw JobError("\(nativePath): holds a \(meta.architecture), but --base is \(r.model)")
        }
        if let s = r.inputSize, s != meta.inputShape[1] {
            throw JobError("\(nativePath): the model takes \(meta.inputShape[1])x\(meta.inputShape[2]) input, --input-size is \(s)")
        }
        var options = meta.options
        options.classifierActivation = .linear
        if meta.classNames != dataClasses || r.dropout != nil || r.head.keepHidden {
            try model.rebuildHead(classCount: dataClasses.count, keepHidden: r.head.keepHidden,
                                  pooling: r.head.keepHidden ? nil : headPooling(r.head.pooling),
                                  dropout: r.dropout.map(Float.init), classifierActivation: .linear)
            options.classCount = dataClasses.count
            setLogitOutput(model)
            return PreparedModel(model: model, options: options, classNames: dataClasses,
                                 source: "\(label) (\(meta.architecture), new \(dataClasses.count)-class head)", extendedFrom: nil)
        }
        setLogitOutput(model)
        return PreparedModel(model: model, options: options, classNames: dataClasses,
                             source: "\(label) (\(meta.architecture), trained head kept)", extendedFrom: nil)
    }

    /// `--extend MODEL`: the trained model's classes keep their rows; classes of the data folder that
    /// the model does not know are appended (sorted), so old logits are unchanged.
    static func extend(_ path: String, _ r: Recipe, dataClasses: [String]) throws -> PreparedModel {
        guard FileManager.default.fileExists(atPath: path) else { throw JobError("\(path): model to extend not found") }
        let (model, meta) = try namingFile(path) { try loadNativeModel(path: path) }
        guard let old = meta.classNames else { throw JobError("\(path): the model has no class names to extend") }
        let missing = old.filter { !dataClasses.contains($0) }
        if !missing.isEmpty {
            throw JobError("--extend \(path): the data folder '\(r.data)' lacks the model's classes \(missing.joined(separator: ", "))")
        }
        let added = dataClasses.filter { !old.contains($0) }
        if added.isEmpty { throw JobError("--extend \(path): the data folder '\(r.data)' has no class the model does not already know") }
        try model.extendHead(by: added.count)
        setLogitOutput(model)
        var options = meta.options
        options.classCount = old.count + added.count
        options.classifierActivation = .linear
        return PreparedModel(model: model, options: options, classNames: old + added,
                             source: "\(path) (\(meta.architecture), head extended \(old.count) -> \(old.count + added.count) classes)",
                             extendedFrom: old.count)
    }

    /// The image pipeline's preprocessing for a model.
    static func imagePreprocessing(_ model: ZooModel, override: Preprocessing?) -> ImagePreprocessing {
        let mode = override ?? model.preprocessing
        let c = model.inputShape[0], h = model.inputShape[1], w = model.inputShape[2]
        return ImagePreprocessing(width: w, height: h, resize: .centerCrop, pixelFormat: c == 1 ? .gray : .rgb,
                                     normalization: mode)
    }
}
