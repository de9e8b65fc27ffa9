import Foundation
import TensorCore

/// Applies an `AugmentationConfig` on top of a `ImagePreprocessing`: the training-time transform of one
/// sample. All randomness comes from the `SeededRandom` passed in, so a sample's result depends only on
/// its generator's seed (the loader derives it from (seed, epoch, sample index)).
///
/// Order: crop + resize (random resized crop, or the preprocessing's deterministic resize) ->
/// affine (rotation, zoom, shear, translation) -> flips -> brightness, contrast, saturation ->
/// Gaussian noise -> normalisation -> random erasing.
public struct Augmenter: Sendable {
    public let config: AugmentationConfig
    public let preprocessing: ImagePreprocessing
    /// Use the fused path where it covers the configuration (`RuntimeOptions.fusedAugment`; the
    /// result is bit-identical either way, false is for comparisons).
    public let fused: Bool

    public init(config: AugmentationConfig, preprocessing: ImagePreprocessing, fused: Bool = true) throws {
        try config.validate()
        try preprocessing.validate()
        self.config = config
        self.preprocessing = preprocessing
        self.fused = fused
    }

    /// The augmented, normalised sample (C * H * W floats) written to `out`.
    public func apply(_ image: Image, rng: inout SeededRandom, into out: UnsafeMutablePointer<Float>) {
        apply(image, rng: &rng, into: out, scratch: AugmentScratch())
    }

    /// `apply` with caller-owned work memory (the loader keeps one per batch).
    func apply(_ image: Image, rng: inout SeededRandom, into out: UnsafeMutablePointer<Float>, scratch: AugmentScratch) {
        let p = preprocessing
        let plane = p.width * p.height
        if canFuse {
            applyFused(image, rng: &rng, into: out, scratch: scratch)
        } else {
            let pixels = UnsafeMutablePointer<Float>.allocate(capacity: p.sampleSize)
            defer { pixels.deallocate() }
            augmentPixels(image, rng: &rng, into: pixels)
            p.normalization.apply(pixels, channels: p.channels, plane: plane, into: out)
        }
        if rng.chance(config.erasing) {
            PhotometricOps.erase(out, channels: p.channels, width: p.width, height: p.height,
                                 scale: config.erasingScale, ratio: config.erasingRatio,
                                 randomFill: config.erasingRandomFill, rng: &rng)
        }
    }

    /// The augmented sample as a [1, C, H, W] tensor, from a generator seeded with `seed`.
    public func apply(_ image: Image, seed: UInt64) -> Tensor {
        var rng = SeededRandom(dataSeed: seed)
        var t = Tensor(uninitializedShape: [1, preprocessing.channels, preprocessing.height, preprocessing.width])
        apply(image, rng: &rng, into: t.mutablePointer())
        return t
    }

    /// The augmented sample as an 8-bit image (normalisation undone), for previews. Erased patches
    /// hold normalised 0, so they show as the mode's mean colour (black for none/scale, gray for tf).
    public func augmentedImage(_ image: Image, rng: inout SeededRandom) -> Image {
        let p = preprocessing
        var normalised = [Float](repeating: 0, count: p.sampleSize)
        normalised.withUnsafeMutableBufferPointer { buffer in
            if let base = buffer.baseAddress { apply(image, rng: &rng, into: base) }
        }
        // Undo the normalisation (and the caffe channel swap) to get 0...255 RGB planes back.
        var planar = [Float](repeating: 0, count: p.sampleSize)
        let plane = p.width * p.height
        for o in 0..<p.channels {
            let source = p.normalization.sourceChannel(o, channels: p.channels)
            for i in 0..<plane {
                planar[source * plane + i] = p.normalization.denormalize(normalised[o * plane + i], outputChannel: o,
                                                                         channels: p.channels)
            }
        }
        return planar.withUnsafeBufferPointer {
            Image.fromPlanar($0.baseAddress!, width: p.width, height: p.height, channels: p.channels)
        }
    }

    /// Everything up to (not including) normalisation: planar 0...255 values into `out`.
    func augmentPixels(_ image: Image, rng: inout SeededRandom, into out: UnsafeMutablePointer<Float>) {
        let p = preprocessing, c = config
        let source = p.conformed(image)
        let box = c.randomResizedCrop ? randomResizedCropBox(width: source.width, height: source.height, rng: &rng)
                                      : p.cropBox(sourceWidth: source.width, sourceHeight: source.height)
        Resampler.resamplePlanar(source, box: box, width: p.width, height: p.height, antialias: p.antialias, into: out)
        let channels = p.channels, plane = p.width * p.height
        if c.hasAffine {
            // Fixed draw order (angle, zoom, shear, tx, ty) so a seed always means the same transform.
            let angle = rng.uniform(-c.rotation, c.rotation)
            let zoom = rng.uniform(c.zoom.lower, c.zoom.upper)
            let shear = rng.uniform(-c.shear, c.shear)
            let tx = rng.uniform(-c.translate, c.translate) * Double(p.width)
            let ty = rng.uniform(-c.translate, c.translate) * Double(p.height)
            let transform = AffineTransform.about(centerX: Double(p.width) / 2, centerY: Double(p.height) / 2,
                                                  rotation: angle, zoom: zoom, shear: shear,
                                                  translateX: tx, translateY: ty)
            let warped = UnsafeMutablePointer<Float>.allocate(capacity: p.sampleSize)
            defer { warped.deallocate() }
            GeometricOps.warp(out, channels: channels, width: p.width, height: p.height, transform: transform,
                              fillMode: c.fillMode, fillValue: Float(c.fillValue), into: warped)
            out.update(from: warped, count: p.sampleSize)
        }
        if rng.chance(c.horizontalFlip) {
            GeometricOps.flipHorizontally(out, channels: channels, width: p.width, height: p.height)
        }
        if rng.chance(c.verticalFlip) {
            GeometricOps.flipVertically(out, channels: channels, width: p.width, height: p.height)
        }
        if c.brightness > 0 {
            let f = Float(rng.uniform(max(0, 1 - c.brightness), 1 + c.brightness))
            PhotometricOps.brightness(out, count: p.sampleSize, factor: f)
        }
        if c.contrast > 0 {
            let f = Float(rng.uniform(max(0, 1 - c.contrast), 1 + c.contrast))
            PhotometricOps.contrast(out, channels: channels, width: p.width, plane: plane, factor: f)
        }
        if c.saturation > 0 {
            let f = Float(rng.uniform(max(0, 1 - c.saturation), 1 + c.saturation))
            PhotometricOps.saturation(out, channels: channels, plane: plane, factor: f)
        }
        if c.gaussianNoise > 0 {
            PhotometricOps.gaussianNoise(out, count: p.sampleSize, std: Float(c.gaussianNoise * 255), rng: &rng)
        }
    }

    /// torchvision RandomResizedCrop.get_params: up to 10 tries at a random area and log-uniform aspect
    /// ratio, then a centre crop clamped to the ratio range.
    func randomResizedCropBox(width: Int, height: Int, rng: inout SeededRandom) -> CropBox {
        let c = config
        let area = Double(width * height)
        let logLo = Foundation.log(c.cropRatio.lower), logHi = Foundation.log(c.cropRatio.upper)
        for _ in 0..<10 {
            let target = area * rng.uniform(c.cropScale.lower, c.cropScale.upper)
            let aspect = Foundation.exp(rng.uniform(logLo, logHi))
            let w = Int((target * aspect).squareRoot().rounded())
            let h = Int((target / aspect).squareRoot().rounded())
            if w > 0, h > 0, w <= width, h <= height {
                let top = rng.int(below: height - h + 1), left = rng.int(below: width - w + 1)
                return CropBox(x: Double(left), y: Double(top), width: Double(w), height: Double(h))
            }
        }
        let inRatio = Double(width) / Double(height)
        var w = width, h = height
        if inRatio < c.cropRatio.lower {
            h = Int((Double(w) / c.cropRatio.lower).rounded())
        } else if inRatio > c.cropRatio.upper {
            w = Int((Double(h) * c.cropRatio.upper).rounded())
        }
        return CropBox(x: Double(width - w) / 2, y: Double(height - h) / 2, width: Double(w), height: Double(h))
    }
}
