/// How 0...255 pixel values become network inputs: the keras.applications `preprocess_input` modes
/// a model's weights expect, plus `none` and `scale`. One type for the zoo (each entry's mode), the
/// model file, the recipe (`preprocess:`), the command line (`--preprocess`) and the image pipeline,
/// which applies it (`ImageIO`'s `Normalization.swift`). The channel order is part of the mode:
/// `caffe` writes BGR, every other mode RGB.
public enum Preprocessing: String, Sendable, Codable, CaseIterable {
    /// Raw 0...255 values.
    case none
    /// v / 255, so 0...1 (the LeNet recipes).
    case scale
    /// RGB -> BGR, then subtract the ImageNet BGR means [103.939, 116.779, 123.68]; no scaling (Keras
    /// VGG16/19, ResNet50/101/152).
    case caffe
    /// v / 255, then (x - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225] (torchvision weights).
    case torch
    /// v / 127.5 - 1, so -1...1 (Keras "tf" mode, Inception/MobileNet).
    case tf

    /// An unknown name is an error that lists the known ones (never a silent default).
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard let v = Preprocessing(rawValue: s) else {
            let allowed = Preprocessing.allCases.map(\.rawValue).joined(separator: ", ")
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected one of \(allowed), got '\(s)'")
        }
        self = v
    }
}
