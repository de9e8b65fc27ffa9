import Foundation

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
/// normalisation - in two passes over the output instead of six, written straight into the batch.
///
/// It does the same float operations in the same order as the step-by-step path (`augmentPixels`
/// then `NormalizationMode.apply`), so the result is bit-identical: the flips become the order the
/// vertical resampling pass writes in, brightness (and the gray sum contrast needs, accumulated in
/// the same pixel order) is applied as each output row is de-interleaved, and contrast is fused
/// with the normalisation. The random draws happen in the same order too.
/// `GRAFT_AUGMENT_FUSED=0` turns it off (for comparisons).
extension Augmenter {
    static let fusedEnabled = ProcessInfo.processInfo.environment["GRAFT_AUGMENT_FUSED"] != "0"

    /// True when `applyFused` covers this configuration.
    var canFuse: Bool {
        let c = config, p = preprocessing
        return Augmenter.fusedEnabled && !c.hasAffine && c.saturation == 0 && c.gaussianNoise == 0
            && (p.channels == 1 || p.channels == 3)
    }

    /// Everything `apply` does before random erasing, for configurations where `canFuse` holds.
    func applyFused(_ image: Image, rng: inout DataRNG, into out: UnsafeMutablePointer<Float>, scratch: AugmentScratch) {
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

        let channels = p.channels, plane = p.width * p.height
        let norm = p.normalization
        // Source channel ch is written to output plane planeOf[ch] (BGR for caffe).
        var planeOf = [Int](repeating: 0, count: channels)
        for o in 0..<channels { planeOf[norm.sourceChannel(o, channels: channels)] = o }
        let graySum = Resampler.resampleFused(source, box: box, width: p.width, height: p.height,
                                              antialias: p.antialias, hflip: hflip, vflip: vflip,
                                              brightness: brightness, sumGray: contrast != nil,
                                              planeOf: planeOf, scratch: scratch, into: out)
        // Contrast (blend with the mean gray of the whole image) fused with the normalisation.
        for o in 0..<channels {
            let (scale, offset) = norm.affine(outputChannel: o, channels: channels)
            let q = out + o * plane
            if let f = contrast {
                let mean = Float(graySum / Double(max(plane, 1)))
                let shift = mean * (1 - f)
                for i in 0..<plane { q[i] = min(max(q[i] * f + shift, 0), 255) * scale + offset }
            } else {
                for i in 0..<plane { q[i] = q[i] * scale + offset }
            }
        }
    }
}

extension Resampler {
    /// `resamplePlanar` of `box`, flipped as asked, with the brightness clamp applied, written into
    /// the planes `planeOf[channel]` of `out`. Returns the sum, in output pixel order, of the gray
    /// values contrast uses (0.299 R + 0.587 G + 0.114 B, or the value for one channel) when
    /// `sumGray`, else 0.
    static func resampleFused(_ image: Image, box: CropBox, width: Int, height: Int, antialias: Bool,
                              hflip: Bool, vflip: Bool, brightness: Float?, sumGray: Bool, planeOf: [Int],
                              scratch: AugmentScratch, into out: UnsafeMutablePointer<Float>) -> Double {
        let c = image.channels
        guard width > 0, height > 0 else { return 0 }
        let plane = width * height, rowLength = width * c
        guard image.width > 0, image.height > 0 else {   // nothing to sample: black (as resamplePlanar)
            out.initialize(repeating: 0, count: c * plane)
            return 0
        }
        let xs = Axis(inSize: image.width, outSize: width, start: box.x, length: box.width, antialias: antialias)
        let ys = Axis(inSize: image.height, outSize: height, start: box.y, length: box.height, antialias: antialias)
        let rowLo = ys.starts.min() ?? 0
        let rowHi = zip(ys.starts, ys.counts).map { $0 + $1 }.max() ?? 0
        let rows = max(0, rowHi - rowLo)
        let work = scratch.floats(max(1, rows * rowLength) + rowLength)
        let tmp = work, rowAcc = work + max(1, rows * rowLength)
        image.pixels.withUnsafeBufferPointer { pixelBuffer in
            guard let src = pixelBuffer.baseAddress else { return }
            xs.weights.withUnsafeBufferPointer { wx in
                for r in 0..<rows {
                    horizontalPass(src + (rowLo + r) * image.width * c, channels: c, axis: xs,
                                   weights: wx.baseAddress!, outWidth: width, into: tmp + r * rowLength)
                }
            }
        }
        var sum: Double = 0
        let planes = (0..<3).map { out + (planeOf.count > $0 ? planeOf[$0] : 0) * plane }
        let p0 = planes[0], p1 = planes[1], p2 = planes[2]
        ys.weights.withUnsafeBufferPointer { wy in
            ys.starts.withUnsafeBufferPointer { starts in
                ys.counts.withUnsafeBufferPointer { counts in
                    // Output rows in the order the flipped image is laid out, so the gray sum runs in
                    // the same pixel order as PhotometricOps.contrast does on the flipped planes.
                    for row in 0..<height {
                        let y = vflip ? height - 1 - row : row
                        let s = starts[y] - rowLo, n = counts[y]
                        let w = wy.baseAddress! + y * ys.taps
                        let l0 = tmp + s * rowLength
                        // rowAcc = sum_k w[k] * line_k, left to right from 0 (as resamplePlanar).
                        switch n {
                        case 1:
                            let w0 = w[0]
                            for i in 0..<rowLength { rowAcc[i] = w0 * l0[i] }
                        case 2:
                            let w0 = w[0], w1 = w[1], l1 = l0 + rowLength
                            for i in 0..<rowLength { rowAcc[i] = w0 * l0[i] + w1 * l1[i] }
                        case 3:
                            let w0 = w[0], w1 = w[1], w2 = w[2], l1 = l0 + rowLength, l2 = l1 + rowLength
                            for i in 0..<rowLength { rowAcc[i] = w0 * l0[i] + w1 * l1[i] + w2 * l2[i] }
                        default:
                            let w0 = w[0]
                            for i in 0..<rowLength { rowAcc[i] = w0 * l0[i] }
                            for k in 1..<max(n, 1) {
                                let line = l0 + k * rowLength, wk = w[k]
                                for i in 0..<rowLength { rowAcc[i] += wk * line[i] }
                            }
                        }
                        if let f = brightness {
                            for i in 0..<rowLength { rowAcc[i] = min(max(rowAcc[i] * f, 0), 255) }
                        }
                        let base = row * width
                        if c == 3 {
                            let d0 = p0 + base, d1 = p1 + base, d2 = p2 + base
                            if hflip {
                                for x in 0..<width {
                                    let j = (width - 1 - x) * 3
                                    d0[x] = rowAcc[j]; d1[x] = rowAcc[j + 1]; d2[x] = rowAcc[j + 2]
                                }
                            } else {
                                for x in 0..<width {
                                    let j = x * 3
                                    d0[x] = rowAcc[j]; d1[x] = rowAcc[j + 1]; d2[x] = rowAcc[j + 2]
                                }
                            }
                            if sumGray {
                                // Planes are in source order here unless planeOf swaps them.
                                let r = p0 + base, g = p1 + base, b = p2 + base
                                for x in 0..<width { sum += Double(0.299 * r[x] + 0.587 * g[x] + 0.114 * b[x]) }
                            }
                        } else {
                            let d = p0 + base
                            if hflip {
                                for x in 0..<width { d[x] = rowAcc[width - 1 - x] }
                            } else {
                                d.update(from: rowAcc, count: width)
                            }
                            if sumGray { for x in 0..<width { sum += Double(d[x]) } }
                        }
                    }
                }
            }
        }
        return sum
    }
}
