import Foundation
import TensorCore

/// Reusable work memory for `Augmenter` (one per worker / per batch, never shared between threads),
/// so that a sample costs no large allocation.
final class AugmentScratch {
    private(set) var floats: UnsafeMutablePointer<Float>
    private var capacity: Int

    init() {
        capacity = 0
        floats = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    }

    deinit { floats.deallocate() }

    /// At least `count` floats (contents undefined).
    func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count > capacity {
            floats.deallocate()
            capacity = max(count, capacity * 2)
            floats = UnsafeMutablePointer<Float>.allocate(capacity: capacity)
        }
        return floats
    }
}

/// The fused training transform for the usual recipe - crop + resize, flips, brightness, contrast,
/// normalisation - computed row by row and written straight into the batch, each value once.
///
/// It does the same float operations in the same order as the step-by-step path (`augmentPixels`
/// then `Preprocessing.apply`), so the result is bit-identical: the flips become the order the
/// vertical resampling pass writes in, the gray sum contrast needs is accumulated in the same pixel
/// order (`PhotometricOps.GraySum`), and contrast is fused with the normalisation
/// (`Resampler.resample`). The random draws happen in the same order too.
/// `Augmenter.fused` false turns it off (for comparisons).
extension Augmenter {
    /// True when `applyFused` covers this configuration.
    var canFuse: Bool {
        let c = config, p = preprocessing
        return fused && !c.hasAffine && c.saturation == 0 && c.gaussianNoise == 0
            && (p.channels == 1 || p.channels == 3)
    }

    /// Everything `apply` does before random erasing, for configurations where `canFuse` holds.
    func applyFused(_ image: Image, rng: inout SeededRandom, into out: UnsafeMutablePointer<Float>, scratch: AugmentScratch) {
        let p = preprocessing, c = config
        let source = p.conformed(image)
        let box = c.randomResizedCrop ? randomResizedCropBox(width: source.width, height: source.height, rng: &rng)
                                      : p.cropBox(sourceWidth: source.width, sourceHeight: source.height)
        // Same draw order as augmentPixels: (affine: none), hflip, vflip, brightness, contrast.
        let hflip = rng.chance(c.horizontalFlip)
        let vflip = rng.chance(c.verticalFlip)
        let brightness: Float? = c.brightness > 0
            ? Float(rng.uniform(max(0, 1 - c.brightness), 1 + c.brightness)) : nil
        let contrast: Float? = c.contrast > 0
            ? Float(rng.uniform(max(0, 1 - c.contrast), 1 + c.contrast)) : nil

        let channels = p.channels
        let norm = p.normalization
        // Source channel ch is written to output plane planeOf[ch] (BGR for caffe), normalised with
        // that output channel's constants.
        var planeOf = [Int](repeating: 0, count: channels)
        var scale = [Float](repeating: 1, count: channels), offset = [Float](repeating: 0, count: channels)
        for o in 0..<channels {
            let ch = norm.sourceChannel(o, channels: channels)
            planeOf[ch] = o
            (scale[ch], offset[ch]) = norm.affine(outputChannel: o, channels: channels)
        }
        Resampler.resample(source, box: box, width: p.width, height: p.height, antialias: p.antialias,
                           hflip: hflip, vflip: vflip,
                           finish: .init(brightness: brightness, contrast: contrast, scale: scale, offset: offset),
                           planeOf: planeOf, scratch: scratch, into: out)
    }
}
