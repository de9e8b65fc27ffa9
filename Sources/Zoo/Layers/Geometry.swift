import NN

/// Padding of a spec'd convolution or pooling (mirrors NN's `Padding`; kept here so specs are Sendable
/// values that can be counted and listed without allocating a single weight).
public enum SpecPadding: Sendable, Equatable, Hashable {
    case valid
    /// Keras 'same': output ceil(in / stride), extra pixel at the bottom/right when the total is odd.
    case same
    case explicit(top: Int, bottom: Int, left: Int, right: Int)

    public static func symmetric(_ p: Int) -> SpecPadding { .explicit(top: p, bottom: p, left: p, right: p) }
}

public enum PoolKind: String, Sendable, Equatable { case max, average }

/// Output size of a window op along one axis, or nil if the window does not fit.
func windowOutput(_ size: Int, kernel: Int, stride: Int, before: Int, after: Int) -> Int? {
    let padded = size + before + after
    return padded >= kernel ? (padded - kernel) / stride + 1 : nil
}

/// Keras 'same' padding along one axis: (before, after), the extra pixel after.
public func kerasSamePadding(_ size: Int, kernel: Int, stride: Int) -> (Int, Int) {
    let outSize = (size + stride - 1) / stride
    let total = max((outSize - 1) * stride + kernel - size, 0)
    return (total / 2, total - total / 2)
}

/// A window op's output (height, width) for [C, H, W], or a shape failure naming `what`. `kernelWidth`
/// (nil: `kernel`) makes the window non-square (InceptionV3's 1x7 and 7x1 convolutions).
func windowed(_ inputs: [[Int]], what: String, kernel: Int, kernelWidth: Int? = nil, stride: Int,
              padding: SpecPadding) throws -> (Int, Int) {
    let (_, h, w) = try spatial(inputs, what: what)
    let kw = kernelWidth ?? kernel
    let (t, b, l, r): (Int, Int, Int, Int)
    switch padding {
    case .valid: (t, b, l, r) = (0, 0, 0, 0)
    case .same:
        let (pt, pb) = kerasSamePadding(h, kernel: kernel, stride: stride)
        let (pl, pr) = kerasSamePadding(w, kernel: kw, stride: stride)
        (t, b, l, r) = (pt, pb, pl, pr)
    case let .explicit(top, bottom, left, right): (t, b, l, r) = (top, bottom, left, right)
    }
    guard let oh = windowOutput(h, kernel: kernel, stride: stride, before: t, after: b),
          let ow = windowOutput(w, kernel: kw, stride: stride, before: l, after: r) else {
        throw shapeFailure(inputs, "is too small for a \(kernel)x\(kw) \(what) (stride \(stride)): output would be empty")
    }
    return (oh, ow)
}

/// The single [C, H, W] input of a spatial layer.
func spatial(_ inputs: [[Int]], what: String) throws -> (Int, Int, Int) {
    guard inputs.count == 1 else { throw shapeFailure(inputs, "\(what) takes 1 input, got \(inputs.count)") }
    let s = inputs[0]
    guard s.count == 3 else { throw shapeFailure(inputs, "\(what) needs a [C, H, W] feature map") }
    return (s[0], s[1], s[2])
}

/// The single input of a layer.
func single(_ inputs: [[Int]], what: String) throws -> [Int] {
    guard inputs.count == 1 else { throw shapeFailure(inputs, "\(what) takes 1 input, got \(inputs.count)") }
    return inputs[0]
}

extension SpecPadding {
    var nn: Padding {
        switch self {
        case .valid: .valid
        case .same: .same
        case let .explicit(t, b, l, r): .explicit(top: t, bottom: b, left: l, right: r)
        }
    }

    init(_ p: Padding) {
        switch p {
        case .valid: self = .valid
        case .same: self = .same
        case let .explicit(t, b, l, r): self = .explicit(top: t, bottom: b, left: l, right: r)
        }
    }
}
