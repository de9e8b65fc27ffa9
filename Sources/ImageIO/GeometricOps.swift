import Foundation

/// A 2-D affine map x' = a x + b y + c, y' = d x + e y + f, in continuous pixel coordinates
/// (pixel (i, j) has its centre at (i + 0.5, j + 0.5)).
public struct AffineTransform: Sendable, Equatable {
    public var a, b, c, d, e, f: Double

    public init(a: Double, b: Double, c: Double, d: Double, e: Double, f: Double) {
        self.a = a; self.b = b; self.c = c; self.d = d; self.e = e; self.f = f
    }

    public static let identity = AffineTransform(a: 1, b: 0, c: 0, d: 0, e: 1, f: 0)

    /// self after other (apply `other` first).
    public func concatenating(_ other: AffineTransform) -> AffineTransform {
        AffineTransform(a: a * other.a + b * other.d, b: a * other.b + b * other.e, c: a * other.c + b * other.f + c,
                        d: d * other.a + e * other.d, e: d * other.b + e * other.e, f: d * other.c + e * other.f + f)
    }

    public var inverted: AffineTransform? {
        let det = a * e - b * d
        guard abs(det) > 1e-12 else { return nil }
        return AffineTransform(a: e / det, b: -b / det, c: (b * f - c * e) / det,
                               d: -d / det, e: a / det, f: (c * d - a * f) / det)
    }

    /// Rotation (degrees, counter-clockwise as seen on screen, y pointing down), zoom, horizontal shear
    /// (degrees) and translation (pixels), all about the image centre (cx, cy); torchvision's
    /// RandomAffine composition: T(centre + t) R S Shear T(-centre).
    public static func about(centerX cx: Double, centerY cy: Double, rotation: Double = 0, zoom: Double = 1,
                             shear: Double = 0, translateX: Double = 0, translateY: Double = 0) -> AffineTransform {
        let r = rotation * .pi / 180, sh = tan(shear * .pi / 180)
        let cosR = cos(r), sinR = sin(r)
        // Exact values at multiples of 90 degrees, so a quarter turn moves pixels exactly.
        let cs = abs(cosR) < 1e-12 ? 0 : cosR, sn = abs(sinR) < 1e-12 ? 0 : sinR
        let toOrigin = AffineTransform(a: 1, b: 0, c: -cx, d: 0, e: 1, f: -cy)
        let shearing = AffineTransform(a: 1, b: sh, c: 0, d: 0, e: 1, f: 0)
        let scaling = AffineTransform(a: zoom, b: 0, c: 0, d: 0, e: zoom, f: 0)
        let rotating = AffineTransform(a: cs, b: sn, c: 0, d: -sn, e: cs, f: 0)
        let back = AffineTransform(a: 1, b: 0, c: cx + translateX, d: 0, e: 1, f: cy + translateY)
        return back.concatenating(rotating).concatenating(scaling).concatenating(shearing).concatenating(toOrigin)
    }
}

/// Geometric operations on planar float images (C planes of H x W).
enum GeometricOps {
    /// out = image warped by `transform` (maps source positions to output positions), bilinear,
    /// with `fill` deciding what lies outside the source.
    static func warp(_ src: UnsafePointer<Float>, channels: Int, width: Int, height: Int, transform: AffineTransform,
                     fillMode: FillMode, fillValue: Float, into out: UnsafeMutablePointer<Float>) {
        guard let inv = transform.inverted else {
            out.initialize(repeating: fillValue, count: channels * width * height); return
        }
        let plane = width * height
        for y in 0..<height {
            let oy = Double(y) + 0.5
            for x in 0..<width {
                let ox = Double(x) + 0.5
                // Source position in pixel-index space (centre of pixel i is at i).
                var sx = inv.a * ox + inv.b * oy + inv.c - 0.5
                var sy = inv.d * ox + inv.e * oy + inv.f - 0.5
                // Snap float noise so exact transforms (flips, quarter turns, integer shifts) copy pixels.
                let rx = sx.rounded(), ry = sy.rounded()
                if abs(sx - rx) < 1e-6 { sx = rx }
                if abs(sy - ry) < 1e-6 { sy = ry }
                let o = y * width + x
                if fillMode == .constant && (sx <= -1 || sy <= -1 || sx >= Double(width) || sy >= Double(height)) {
                    for ch in 0..<channels { out[ch * plane + o] = fillValue }
                    continue
                }
                let x0 = Int(sx.rounded(.down)), y0 = Int(sy.rounded(.down))
                let fx = Float(sx - Double(x0)), fy = Float(sy - Double(y0))
                if x0 >= 0 && y0 >= 0 && x0 + 1 < width && y0 + 1 < height {
                    // Interior: all four neighbours exist, no fill logic (the common case).
                    let i = y0 * width + x0
                    for ch in 0..<channels {
                        let p = src + ch * plane + i
                        let top = p[0] + (p[1] - p[0]) * fx
                        let bottom = p[width] + (p[width + 1] - p[width]) * fx
                        out[ch * plane + o] = top + (bottom - top) * fy
                    }
                    continue
                }
                for ch in 0..<channels {
                    let p = src + ch * plane
                    @inline(__always) func at(_ xi: Int, _ yi: Int) -> Float {
                        if xi >= 0 && yi >= 0 && xi < width && yi < height { return p[yi * width + xi] }
                        switch fillMode {
                        case .constant: return fillValue
                        case .nearest: return p[min(max(yi, 0), height - 1) * width + min(max(xi, 0), width - 1)]
                        case .reflect: return p[reflect(yi, height) * width + reflect(xi, width)]
                        }
                    }
                    let top = at(x0, y0) + (at(x0 + 1, y0) - at(x0, y0)) * fx
                    let bottom = at(x0, y0 + 1) + (at(x0 + 1, y0 + 1) - at(x0, y0 + 1)) * fx
                    out[ch * plane + o] = top + (bottom - top) * fy
                }
            }
        }
    }

    /// Mirror index into 0..<n ("symmetric": ... 1 0 | 0 1 2 ... n-1 | n-1 n-2 ...).
    @inline(__always) static func reflect(_ i: Int, _ n: Int) -> Int {
        if n == 1 { return 0 }
        let period = 2 * n
        var m = i % period
        if m < 0 { m += period }
        return m < n ? m : period - 1 - m
    }

    static func flipHorizontally(_ p: UnsafeMutablePointer<Float>, channels: Int, width: Int, height: Int) {
        for row in 0..<(channels * height) {
            let line = p + row * width
            var l = 0, r = width - 1
            while l < r { line.swapAt(l, r); l += 1; r -= 1 }
        }
    }

    static func flipVertically(_ p: UnsafeMutablePointer<Float>, channels: Int, width: Int, height: Int) {
        for ch in 0..<channels {
            let plane = p + ch * width * height
            var t = 0, b = height - 1
            while t < b {
                let top = plane + t * width, bottom = plane + b * width
                for x in 0..<width { let v = top[x]; top[x] = bottom[x]; bottom[x] = v }
                t += 1; b -= 1
            }
        }
    }
}

private extension UnsafeMutablePointer where Pointee == Float {
    @inline(__always) func swapAt(_ i: Int, _ j: Int) { let v = self[i]; self[i] = self[j]; self[j] = v }
}
