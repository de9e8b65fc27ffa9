import Foundation
import TensorCore

/// Colour operations on planar float images in 0...255 (C planes of `plane` floats), clamped to
/// 0...255 after each step as torchvision does on its 0...1 tensors.
enum PhotometricOps {
    static func brightness(_ p: UnsafeMutablePointer<Float>, count: Int, factor: Float) {
        for i in 0..<count { p[i] = min(max(p[i] * factor, 0), 255) }
    }

    /// Blend with the mean gray level of the whole image (torchvision adjust_contrast).
    static func contrast(_ p: UnsafeMutablePointer<Float>, channels: Int, width: Int, plane: Int, factor: Float) {
        var gray = GraySum()
        let rowLength = max(width, 1)
        var i = 0
        while i < plane {   // row by row, as the fused path sums
            let n = min(rowLength, plane - i)
            if channels == 3 {
                gray.add(red: p + i, green: p + plane + i, blue: p + 2 * plane + i, count: n)
            } else {
                gray.add(p + i, count: n)
            }
            i += n
        }
        let mean = Float(gray.total / Double(max(plane, 1)))
        let offset = mean * (1 - factor)
        for i in 0..<(channels * plane) { p[i] = min(max(p[i] * factor + offset, 0), 255) }
    }

    /// The sum of gray values (0.299 R + 0.587 G + 0.114 B in Float, or the value of a gray image)
    /// that contrast blends with, in a fixed order that both the step-by-step and the fused path use.
    /// Pixel x of a row goes to lane x % 8 (eight independent sums instead of one long chain of
    /// dependent adds), the lanes are added in a fixed order at the end.
    struct GraySum {
        private var lanes = SIMD8<Double>(repeating: 0)

        mutating func add(red r: UnsafePointer<Float>, green g: UnsafePointer<Float>, blue b: UnsafePointer<Float>,
                          count: Int) {
            var x = 0
            while x + 8 <= count {
                let v = 0.299 * load(r + x) + 0.587 * load(g + x) + 0.114 * load(b + x)
                lanes += SIMD8<Double>(v)
                x += 8
            }
            while x < count {
                lanes[x & 7] += Double(0.299 * r[x] + 0.587 * g[x] + 0.114 * b[x])
                x += 1
            }
        }

        mutating func add(_ v: UnsafePointer<Float>, count: Int) {
            var x = 0
            while x + 8 <= count {
                lanes += SIMD8<Double>(load(v + x))
                x += 8
            }
            while x < count {
                lanes[x & 7] += Double(v[x])
                x += 1
            }
        }

        var total: Double {
            var sum: Double = 0
            for i in 0..<8 { sum += lanes[i] }
            return sum
        }

        @inline(__always) private func load(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
            UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
        }
    }

    /// Blend each pixel with its own gray value (torchvision adjust_saturation); no-op for gray.
    static func saturation(_ p: UnsafeMutablePointer<Float>, channels: Int, plane: Int, factor: Float) {
        guard channels == 3 else { return }
        let r = p, g = p + plane, b = p + 2 * plane
        for i in 0..<plane {
            let gray = 0.299 * r[i] + 0.587 * g[i] + 0.114 * b[i]
            let keep = gray * (1 - factor)
            r[i] = min(max(r[i] * factor + keep, 0), 255)
            g[i] = min(max(g[i] * factor + keep, 0), 255)
            b[i] = min(max(b[i] * factor + keep, 0), 255)
        }
    }

    /// Adds N(0, std) noise (std in 0...255 units), two samples per Box-Muller pair.
    static func gaussianNoise(_ p: UnsafeMutablePointer<Float>, count: Int, std: Float, rng: inout SeededRandom) {
        var i = 0
        while i < count {
            let u1 = max(rng.uniform(), 0x1.0p-60), u2 = rng.uniform()
            let radius = Float((-2 * Foundation.log(u1)).squareRoot()) * std
            let angle = Float(2 * Double.pi * u2)
            p[i] = min(max(p[i] + radius * Foundation.cos(angle), 0), 255)
            if i + 1 < count { p[i + 1] = min(max(p[i + 1] + radius * Foundation.sin(angle), 0), 255) }
            i += 2
        }
    }

    /// Random erasing (torchvision RandomErasing) on a normalised planar image: picks a rectangle of
    /// area fraction `scale` and aspect `ratio` (log-uniform), up to 10 tries; fills it with 0 or N(0, 1).
    static func erase(_ p: UnsafeMutablePointer<Float>, channels: Int, width: Int, height: Int,
                      scale: Interval, ratio: Interval, randomFill: Bool, rng: inout SeededRandom) {
        let area = Double(width * height)
        let logLo = Foundation.log(ratio.lower), logHi = Foundation.log(ratio.upper)
        for _ in 0..<10 {
            let target = area * rng.uniform(scale.lower, scale.upper)
            let aspect = Foundation.exp(rng.uniform(logLo, logHi))
            let h = Int((target * aspect).squareRoot().rounded())
            let w = Int((target / aspect).squareRoot().rounded())
            guard h > 0, w > 0, h < height, w < width else { continue }
            let top = rng.int(below: height - h + 1), left = rng.int(below: width - w + 1)
            for ch in 0..<channels {
                for y in top..<(top + h) {
                    let row = p + ch * width * height + y * width
                    for x in left..<(left + w) { row[x] = randomFill ? Float(rng.gaussian()) : 0 }
                }
            }
            return
        }
    }
}
