import TensorCore

/// Applying a `Preprocessing` mode to planar pixel values.
extension Preprocessing {
    /// Output channel `o` reads input channel `sourceChannel[o]` (BGR for caffe).
    func sourceChannel(_ output: Int, channels: Int) -> Int {
        self == .caffe && channels == 3 ? 2 - output : output
    }

    /// y = x * scale + offset for output channel `o` (x in 0...255). Gray images (one channel) use the
    /// average of the three channel constants, so a gray model sees the same value range.
    func affine(outputChannel o: Int, channels: Int) -> (scale: Float, offset: Float) {
        switch self {
        case .none: return (1, 0)
        case .scale: return (1 / 255, 0)
        case .tf: return (1 / 127.5, -1)
        case .caffe:
            let bgrMean: [Float] = [103.939, 116.779, 123.68]
            let mean = channels == 3 ? bgrMean[o] : bgrMean.reduce(0, +) / 3
            return (1, -mean)
        case .torch:
            let means: [Float] = [0.485, 0.456, 0.406], stds: [Float] = [0.229, 0.224, 0.225]
            let mean = channels == 3 ? means[o] : means.reduce(0, +) / 3
            let std = channels == 3 ? stds[o] : stds.reduce(0, +) / 3
            return (1 / (255 * std), -mean / std)
        }
    }

    /// Writes planar 0...255 values (`channels` planes of `plane` floats) normalised into `out`.
    func apply(_ planar: UnsafePointer<Float>, channels: Int, plane: Int, into out: UnsafeMutablePointer<Float>) {
        for o in 0..<channels {
            let (scale, offset) = affine(outputChannel: o, channels: channels)
            let src = planar + sourceChannel(o, channels: channels) * plane
            let dst = out + o * plane
            for i in 0..<plane { dst[i] = src[i] * scale + offset }
        }
    }

    /// The inverse of `apply` for one value of output channel `o` (used to render previews).
    func denormalize(_ value: Float, outputChannel o: Int, channels: Int) -> Float {
        let (scale, offset) = affine(outputChannel: o, channels: channels)
        return (value - offset) / scale
    }
}
