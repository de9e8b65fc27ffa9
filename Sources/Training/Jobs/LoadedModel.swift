import Foundation
import ImageIO
import NN
import TensorCore
import WeightIO
import Zoo

/// A model for prediction, evaluation or export: from a Graft model file (`--model`), a shipped
/// trunk (`--base vgg`), or a zoo name plus a weights file (`--base vgg16 --weights w.h5`).
///
/// ```swift
/// let loaded = try LoadedModel.load(.init(model: "runs/digits/model.h5"))
/// let probabilities = loaded.probabilities(images)   // [N, classes]
/// ```
public struct LoadedModel {
    /// The network, with its weights.
    public let model: ZooModel
    /// The options it was built with.
    public let options: ZooOptions
    /// Class names in output order (`class0`, `class1`... when the file has none).
    public let classNames: [String]
    /// Applied to the outputs to get probabilities (nil: the output layer already has it fused).
    public let outputActivation: Activation?
    /// Where the model came from, for messages.
    public let source: String
    /// The model's inference plan (built on first use; the loaded weights do not change afterwards).
    let plan: PlanCache
    /// Whether a mirror image is as good a view as the image (`--tta`): a Graft model trained with
    /// horizontal flips, or else any RGB model (digits and other gray data are not mirror-symmetric).
    public var mirrorInvariant: Bool { trainedWithFlip ?? ((model.inputShape.first ?? 3) != 1) }
    /// Whether shifted crops are views the model knows (`--tta`): a Graft model trained with crop, zoom
    /// or translation; else any RGB model (ImageNet models train on random crops; digit models such as
    /// the shipped LeNet, trained without shifts, lose 3 points on mnist5k with them).
    public var shiftInvariant: Bool { trainedWithShift ?? ((model.inputShape.first ?? 3) != 1) }
    /// What the model file says about its training augmentation (nil: it does not say).
    var trainedWithFlip: Bool? = nil, trainedWithShift: Bool? = nil
    /// The file names no classes (a Keras model file): `classNames` are `class0`, `class1`, ... by output index.
    public private(set) var classesByIndex = false

    /// The same model with these class names for its outputs, in order.
    public func naming(_ names: [String]) -> LoadedModel {
        var copy = LoadedModel(model: model, options: options, classNames: names, outputActivation: outputActivation, source: source, plan: plan,
                               trainedWithFlip: trainedWithFlip, trainedWithShift: trainedWithShift)
        copy.classesByIndex = classesByIndex
        return copy
    }

    /// What to load: the command line's `--model`, `--base`, `--weights`, `--classes`, `--input-size`.
    public struct Request {
        public var model: String?
        public var base: String?
        public var weights: String?
        public var classes: Int?
        public var inputSize: Int?
        /// Width multiplier of `base` (Keras `alpha` for MobileNet); nil: 1.
        public var width: Double?
        /// A Keras architecture file (`to_json()` / `to_yaml()`) for a weights-only `model`.
        public var architecture: String?
        public init(model: String? = nil, base: String? = nil, weights: String? = nil, classes: Int? = nil, inputSize: Int? = nil,
                    width: Double? = nil, architecture: String? = nil) {
            self.model = model; self.base = base; self.weights = weights; self.classes = classes; self.inputSize = inputSize
            self.width = width; self.architecture = architecture
        }
    }

    /// Loads a Graft model file (`model`), a shipped trunk (`base` alone), or a zoo architecture with a
    /// weights file (`base` and `weights`). Throws ``JobError`` naming what is missing or does not fit.
    /// `inference`: how predictions run (`RuntimeOptions.inference`).
    public static func load(_ q: Request, inference: InferenceOptions = InferenceOptions()) throws -> LoadedModel {
        if let path = q.model ?? q.base.flatMap({ ShippedModel.named($0) }).map(\.path), q.weights == nil {
            guard FileManager.default.fileExists(atPath: path) else { throw JobError("\(path): model file not found") }
            if let a = q.architecture, !FileManager.default.fileExists(atPath: a) { throw JobError("\(a): architecture file not found") }
            if q.architecture != nil, q.model == nil { throw JobError("--architecture goes with --model FILE (the weights file)") }
            // A Keras file, or Keras weights that need an architecture (loadKerasModel says so).
            let kerasWeights = try q.model != nil && modelFileContainer(path: path) == .hdf5
                && [.keras2Weights, .keras3Weights].contains(detectWeightFileFormat(path: path))
            if try q.architecture != nil || kerasWeights || isKerasModelFile(path: path) {
                // A Keras model file: its own graph computes what Keras did, probabilities included.
                let (model, _) = try namingFile(path, or: q.architecture) {
                    try loadKerasModel(path: path, architecture: q.architecture.map(KerasArchitectureFile.read), inputSize: q.inputSize)
                }
                var loaded = LoadedModel(model: model, options: model.effectiveOptions(), classNames: (0..<model.classCount).map { "class\($0)" },
                                         outputActivation: nil, source: path, plan: PlanCache(inference))
                loaded.classesByIndex = true
                return loaded
            }
            let (model, meta) = try namingFile(path) { try loadNativeModel(path: path) }
            if let c = q.classes, c != model.classCount {
                throw JobError("\(path): the model has \(model.classCount) classes, --classes is \(c)")
            }
            let names = meta.classNames ?? (0..<model.classCount).map { "class\($0)" }
            let act = meta.extra["loss"] == "sigmoid" ? Activation.sigmoid : .softmax
            var loaded = LoadedModel(model: model, options: meta.options, classNames: names,
                                     outputActivation: model.outputIsLogits ? act : nil, source: path, plan: PlanCache(inference))
            loaded.trainedWithFlip = meta.extra["augmentation_flip"].map { $0 == "true" }
            loaded.trainedWithShift = meta.extra["augmentation_shift"].map { $0 == "true" }
            return loaded
        }
        guard let base = q.base else { throw JobError("give --model FILE, or --base NAME (with --weights FILE)") }
        guard let weights = q.weights else { throw JobError("--base \(base) needs --weights FILE (or use --model FILE)") }
        guard FileManager.default.fileExists(atPath: weights) else { throw JobError("\(weights): weights file not found") }
        if try detectWeightFileFormat(path: weights) == .graftNative {
            return try load(Request(model: weights, classes: q.classes), inference: inference)
        }
        var o = ZooOptions(inputSize: q.inputSize, classCount: q.classes, widthMultiplier: q.width ?? 1)
        o.classifierActivation = .softmax
        let (model, _) = try loadPretrained(base, options: o, weights: weights, importOptions: .strict)
        return LoadedModel(model: model, options: o, classNames: (0..<model.classCount).map { "class\($0)" },
                           outputActivation: model.outputIsLogits ? .softmax : nil, source: weights, plan: PlanCache(inference))
    }

    /// Probabilities [N, classes] for a batch of preprocessed images.
    public func probabilities(_ images: Tensor) -> Tensor {
        model.setTraining(false)
        return withoutGradients {
            let out = Var(plan.output(model, images))
            switch outputActivation {
            case .softmax?: return softmax(out).value
            case .sigmoid?: return sigmoid(out).value
            default: return out.value
            }
        }
    }

    /// The image pipeline's preprocessing for this model (size, channels, normalisation), or with
    /// another normalisation.
    public func preprocessing(override: Preprocessing?) -> ImagePreprocessing {
        ModelSetup.imagePreprocessing(model, override: override)
    }
}

extension ZooModel {
    /// Output classes (0 without a top).
    public var classCount: Int {
        guard let name = headPath else { return 0 }
        if let d = head[name] as? Dense { return d.outputSize }
        if let d = head[name] as? ExtendedDense { return d.outputSize }
        if let c = head[name] as? Conv2D { return c.outChannels }   // MobileNet's conv_preds
        return 0
    }

    /// True when the output layer has no activation fused (Graft-trained models keep logits).
    public var outputIsLogits: Bool {
        guard let name = headPath else { return false }
        if let out = spec.headRecipe.convolutionalOutput {   // MobileNet: the activation is a layer of its own
            let a = (head.graph.node(named: out.activationName)?.layer as? ActivationKind)?.activation
            return a == nil || a == .linear
        }
        let a = (head[name] as? Dense)?.fusedActivation ?? (head[name] as? ExtendedDense)?.fusedActivation
        return a == nil || a == .linear
    }
}

/// The latest `InferencePlan`, rebuilt when the input shape changes, built lazily (LoadedModel is a
/// value; the plan is shared). Only for a model whose weights no longer change (the plan snapshots them).
final class PlanCache: @unchecked Sendable {
    private let lock = NSLock()
    private var plan: InferencePlan?
    private let options: InferenceOptions

    init(_ options: InferenceOptions) { self.options = options }

    /// model(x) in the model's current mode: through the plan when `options.plan`, else the module forward.
    func output(_ model: any Layer, _ x: Tensor) -> Tensor {
        guard options.plan, x.shape.count == 4 else { return withoutGradients { model(Var(x)).value } }
        let shape = Array(x.shape.dropFirst())
        lock.lock()
        let p = plan.flatMap { $0.inputShape == shape ? $0 : nil } ?? InferencePlan(model, inputShape: shape, options: options)
        plan = p
        lock.unlock()
        return p(x)
    }
}

/// Runs `body`; an error whose message does not name `path` (a layer graph the file's config cannot
/// build, say) comes back as a ``JobError`` that does, so every refusal of a file names it (an error
/// naming `other`, the architecture sidecar, is already named).
func namingFile<T>(_ path: String, or other: String? = nil, _ body: () throws -> T) throws -> T {
    do { return try body() } catch {
        let message = String(describing: error)
        if message.contains(path) || other.map(message.contains) == true { throw error }
        throw JobError("\(path): \(error)")
    }
}
