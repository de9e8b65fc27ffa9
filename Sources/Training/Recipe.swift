import Foundation
import TensorCore

/// Everything a `finetune` run needs, as one Codable value: written by hand as YAML
/// (`recipes/NAME.yaml`, snake_case keys, every key optional), overridden by command-line flags
/// (`--batch-size` ↔ `batch_size`), and written back resolved into the output folder.
/// Defaults follow the PyTorch transfer-learning tutorial (SGD 1e-3, momentum 0.9) unless noted.
public struct Recipe: Codable, Sendable, Equatable {
    /// Zoo model name (`lenet5`, `vgg16`, `resnet18`, ...).
    public var model = "resnet18"
    /// Pretrained weights file (.h5); nil means the zoo entry's default, "none" random initialisation.
    public var weights: String?
    /// Number of classes; nil means one per sub-folder of the training data.
    public var classes: Int?
    /// Image folder root (`<data>/train/<class>/...`, optional `<data>/val/<class>/...`).
    public var data = "data"
    /// Which class folders to use, in this order (Keras `image_dataset_from_directory(class_names=)`);
    /// nil means every class folder, sorted by name. Other folders are ignored.
    public var classNames: [String]?
    /// Square input side in pixels; nil means the model's default.
    public var inputSize: Int?
    public var batchSize = 32
    public var epochs = 10
    /// Base learning rate (the head's); the trunk gets `lr * trunkLRScale` once unfrozen.
    public var lr = 0.001
    public var optimizer = OptimizerKind.sgd
    /// SGD momentum (ignored by Adam/AdamW).
    public var momentum = 0.9
    public var nesterov = false
    /// L2 weight decay, PyTorch semantics (coupled for SGD/Adam, decoupled for AdamW); see `OptimizerOptions`.
    public var weightDecay = 0.0
    /// L1 penalty coefficient (gradient `l1 * sign(w)`).
    public var l1 = 0.0
    public var schedule = ScheduleKind.constant
    /// `step` schedule: multiply the rate by `stepFactor` every `stepEvery` epochs (PyTorch tutorial 7 / 0.1).
    public var stepEvery = 7
    public var stepFactor = 0.1
    /// `cosine` schedule: the floor reached at the last step.
    public var minLR = 0.0
    /// Linear warm-up length in epochs, in front of any schedule.
    public var warmup = 0
    /// Which parameters start frozen: `trunk` (all but the new head), `none`, or `upto:LAYER`.
    public var freeze = FreezeSpec.trunk
    /// Gradual unfreezing: `EPOCH:LAYER` entries; before 1-based epoch EPOCH, LAYER and every
    /// layer after it become trainable at `lr * trunkLRScale`.
    public var unfreezeAt: [UnfreezeStep] = []
    /// Learning-rate multiplier for trunk (non-head) parameters once they train.
    public var trunkLRScale = 0.1
    /// Dropout rate before the classifier; nil keeps the model's own.
    public var dropout: Double?
    public var labelSmoothing = 0.0
    public var loss = LossKind.softmax
    public var seed: UInt64 = 0
    /// Worker threads; nil means all cores.
    public var threads: Int?
    /// Output folder (model.h5, model-keras.h5, recipe.yaml, metrics.json, report.html, checkpoints).
    public var out = "runs/finetune"
    public var augmentation = Augmentation()
    /// Input preprocessing; nil means the zoo entry's (Keras "caffe", torchvision "torch", ...).
    public var preprocess: Preprocessing?
    /// With a frozen trunk, compute trunk features once and train the head on the cache.
    public var cacheFeatures = CacheCopies(0)
    /// A trained Graft model (.h5) whose classifier rows are kept for classes with the same name,
    /// so new classes are added without forgetting the old ones; nil means a fresh head.
    public var extend: String?
    public var head = Head()
    /// Fraction of the training images held out for validation when there is no `val` folder.
    public var validationSplit = 0.2
    /// Zoo width multiplier (0.25, 0.5, 1.0): small CPU-trainable versions of an architecture.
    public var width: Double?
    /// CIFAR-style stem for 32x32 inputs (3x3 stride-1 first convolution, no stem pooling).
    public var cifarStem: Bool?
    /// Input channels of a zoo model built from scratch (1 = grayscale, 3 = RGB); nil means the model's.
    public var inputChannels: Int?
    /// Stop once the validation metric stops improving; nil trains every epoch.
    public var earlyStopping: EarlyStopping?
    /// model.h5 gets the weights of the best epoch by `monitor` (not the last one's).
    public var keepBest = false
    /// Data-parallel runs (`finetune-mpi`): `linear` multiplies `lr` by the number of processes (Goyal
    /// et al.'s rule for a global batch N times larger); `none` keeps it. Never applied silently: the
    /// run's header says which.
    public var lrScaling = LRScaling.none

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case model, weights, classes, data, classNames = "class_names"
        case inputSize = "input_size", batchSize = "batch_size", epochs, lr, optimizer, momentum, nesterov
        case weightDecay = "weight_decay", l1, schedule
        case stepEvery = "step_every", stepFactor = "step_factor", minLR = "min_lr", warmup
        case freeze, unfreezeAt = "unfreeze_at", trunkLRScale = "trunk_lr_scale"
        case dropout, labelSmoothing = "label_smoothing", loss, seed, threads, out, augmentation, preprocess
        case cacheFeatures = "cache_features", extend, head, validationSplit = "validation_split"
        case width, cifarStem = "cifar_stem", inputChannels = "input_channels"
        case earlyStopping = "early_stopping", keepBest = "keep_best", lrScaling = "lr_scaling"
    }

    /// Decodes a possibly partial recipe: missing keys keep their defaults.
    public init(from decoder: Decoder) throws {
        self.init()
        apply(try RecipeOverrides(from: decoder))
    }

    /// All top-level YAML keys, in the order they are written.
    public static var keys: [String] { CodingKeys.allCases.map(\.stringValue) }
}

extension Recipe {
    public enum OptimizerKind: String, Codable, Sendable, CaseIterable {
        case sgd, adam, adamw
        public init(from decoder: Decoder) throws { self = try decodeChoice(decoder) }
    }

    public enum LRScaling: String, Codable, Sendable, CaseIterable {
        case none, linear
        public init(from decoder: Decoder) throws { self = try decodeChoice(decoder) }
    }

    public enum ScheduleKind: String, Codable, Sendable, CaseIterable {
        case constant, step, cosine, onecycle
        public init(from decoder: Decoder) throws { self = try decodeChoice(decoder) }
    }

    /// `softmax` (softmax cross-entropy, single label), `sigmoid` (per-class sigmoid cross-entropy,
    /// multi-label), `euclidean` (squared error on one-hot targets, Caffe's EuclideanLoss).
    public enum LossKind: String, Codable, Sendable, CaseIterable {
        case softmax, sigmoid, euclidean
        public init(from decoder: Decoder) throws { self = try decodeChoice(decoder) }
    }

    public enum Pooling: String, Codable, Sendable, CaseIterable {
        case avg, max, flatten
        public init(from decoder: Decoder) throws { self = try decodeChoice(decoder) }
    }

    /// `trunk`, `none`, or `upto:LAYER` (LAYER and everything before it frozen).
    public enum FreezeSpec: Codable, Sendable, Equatable, CustomStringConvertible {
        case trunk, none
        case upTo(String)

        public init(parsing s: String) throws {
            switch s {
            case "trunk": self = .trunk
            case "none": self = .none
            case _ where s.hasPrefix("upto:") && s.count > 5: self = .upTo(String(s.dropFirst(5)))
            default: throw RecipeValueError("expected trunk, none or upto:LAYER, got '\(s)'")
            }
        }
        public var description: String {
            switch self { case .trunk: "trunk"; case .none: "none"; case .upTo(let l): "upto:\(l)" }
        }
        public init(from decoder: Decoder) throws { self = try decodeParsed(decoder, FreezeSpec.init(parsing:)) }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer(); try c.encode(description)
        }
    }

    /// `EPOCH:LAYER`, e.g. `5:layer4`.
    public struct UnfreezeStep: Codable, Sendable, Equatable, CustomStringConvertible {
        public var epoch: Int
        public var layer: String
        public init(epoch: Int, layer: String) { self.epoch = epoch; self.layer = layer }
        public init(parsing s: String) throws {
            let parts = s.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2, let e = Int(parts[0]), e >= 1, !parts[1].isEmpty else {
                throw RecipeValueError("expected EPOCH:LAYER with EPOCH >= 1, got '\(s)'")
            }
            self.init(epoch: e, layer: parts[1])
        }
        public var description: String { "\(epoch):\(layer)" }
        public init(from decoder: Decoder) throws { self = try decodeParsed(decoder, UnfreezeStep.init(parsing:)) }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer(); try c.encode(description)
        }
    }

    /// Training-time augmentation (mapped onto ImageIO's `AugmentationConfig` by the CLI).
    /// Zero / false disables an operation. Every key is optional in YAML.
    public struct Augmentation: Codable, Sendable, Equatable {
        /// Random horizontal flip (p = 0.5).
        public var flip = false
        /// Maximum rotation, degrees (±).
        public var rotation = 0.0
        /// Maximum translation as a fraction of width/height (±).
        public var translation = 0.0
        /// Maximum zoom as a fraction (0.1 = scale in 0.9...1.1).
        public var zoom = 0.0
        /// Random-resized-crop minimum area fraction (torchvision's 0.08); 0 = resize only.
        public var crop = 0.0
        /// Brightness/contrast/saturation jitter strength (±fraction).
        public var colorJitter = 0.0
        /// Gaussian pixel noise standard deviation (on 0...1 pixels).
        public var noise = 0.0
        /// Random-erasing probability.
        public var erasing = 0.0

        public init() {}

        /// Whether training moved the picture's content (crop, zoom or translation): a model trained
        /// so is expected to take shifted crops (test-time corner crops).
        public var shiftsContent: Bool { crop > 0 || zoom > 0 || translation > 0 }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case flip, rotation, translation, zoom, crop, colorJitter = "color_jitter", noise, erasing
        }
        public static var keys: [String] { CodingKeys.allCases.map(\.stringValue) }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            flip = try c.decodeIfPresent(Bool.self, forKey: .flip) ?? flip
            rotation = try c.decodeIfPresent(Double.self, forKey: .rotation) ?? rotation
            translation = try c.decodeIfPresent(Double.self, forKey: .translation) ?? translation
            zoom = try c.decodeIfPresent(Double.self, forKey: .zoom) ?? zoom
            crop = try c.decodeIfPresent(Double.self, forKey: .crop) ?? crop
            colorJitter = try c.decodeIfPresent(Double.self, forKey: .colorJitter) ?? colorJitter
            noise = try c.decodeIfPresent(Double.self, forKey: .noise) ?? noise
            erasing = try c.decodeIfPresent(Double.self, forKey: .erasing) ?? erasing
        }
    }

    /// The new classifier head.
    public struct Head: Codable, Sendable, Equatable {
        /// Keep the pretrained hidden fully connected layers (VGG fc6/fc7) and replace only the
        /// last one; false replaces the whole classifier by global pooling + one Dense.
        public var keepHidden = false
        /// Pooling before a new classifier (`avg` = global average, `max`, `flatten` = none).
        public var pooling = Pooling.avg

        public init() {}

        enum CodingKeys: String, CodingKey, CaseIterable { case keepHidden = "keep_hidden", pooling }
        public static var keys: [String] { CodingKeys.allCases.map(\.stringValue) }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            keepHidden = try c.decodeIfPresent(Bool.self, forKey: .keepHidden) ?? keepHidden
            pooling = try c.decodeIfPresent(Pooling.self, forKey: .pooling) ?? pooling
        }
    }
}

/// A value that parsed as YAML but is not allowed (bad enum word, malformed `upto:`...).
public struct RecipeValueError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Decodes one of a closed set of words, listing the allowed ones on failure.
func decodeChoice<T: RawRepresentable & CaseIterable>(_ decoder: Decoder) throws -> T where T.RawValue == String {
    let c = try decoder.singleValueContainer()
    let s = try c.decode(String.self)
    guard let v = T(rawValue: s) else {
        let allowed = T.allCases.map(\.rawValue).joined(separator: ", ")
        throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected one of \(allowed), got '\(s)'")
    }
    return v
}

func decodeParsed<T>(_ decoder: Decoder, _ parse: (String) throws -> T) throws -> T {
    let c = try decoder.singleValueContainer()
    let s = try c.decode(String.self)
    do { return try parse(s) } catch let e as RecipeValueError {
        throw DecodingError.dataCorruptedError(in: c, debugDescription: e.description)
    }
}

/// `cache_features`: how many passes of trunk features the frozen-trunk phase caches up front.
/// 0 = off; without augmentation one pass is exact and is always used; with augmentation N copies
/// are cached and epoch e trains on copy (e - 1) % N. YAML accepts a count or `true` (= 4) / `false`.
public struct CacheCopies: Codable, Sendable, Equatable, CustomStringConvertible {
    public var count: Int
    public init(_ count: Int) { self.count = max(0, count) }
    public static let defaultWhenOn = 4

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let on = try? c.decode(Bool.self) { count = on ? Self.defaultWhenOn : 0; return }
        let n = try c.decode(Int.self)
        guard n >= 0 else { throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected a count >= 0, got \(n)") }
        count = n
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(count)
    }

    public var description: String { "\(count)" }
}
