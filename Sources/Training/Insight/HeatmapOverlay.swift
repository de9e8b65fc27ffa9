import Foundation
import ImageIO

/// Draws a Grad-CAM map over the picture the model saw: the map upsampled bilinearly to the picture
/// (cell centres aligned, as OpenCV's resize), coloured with the jet map (blue low, red high) and
/// blended in where the map is high, so unexplained areas keep the picture.
public enum HeatmapOverlay {
    /// The model's view of a decoded image: its crop and size, in RGB, without normalisation.
    public static func modelView(_ image: Image, preprocessing p: ImagePreprocessing) -> Image {
        let rgb = image.converted(to: .rgb, background: p.background)
        return rgb.resized(width: p.width, height: p.height, box: p.cropBox(sourceWidth: rgb.width, sourceHeight: rgb.height),
                           antialias: p.antialias)
    }

    /// `picture` (RGB) with `map` drawn over it; `strength` is the heat's opacity at the map's maximum.
    public static func draw(_ map: GradCAM.Map, over picture: Image, strength: Float = 0.6) -> Image {
        let (w, h) = (picture.width, picture.height)
        let heat = upsample(map, width: w, height: h)
        var pixels = picture.pixels
        for j in 0..<(w * h) {
            let v = heat[j]
            let (r, g, b) = jet(v)
            let a = strength * (0.25 + 0.75 * v)
            for (ch, c) in [r, g, b].enumerated() {
                let old = Float(pixels[j * 3 + ch])
                pixels[j * 3 + ch] = UInt8(max(0, min(255, (old * (1 - a) + c * a).rounded())))
            }
        }
        return Image(width: w, height: h, channels: 3, pixels: pixels)
    }

    /// Bilinear upsampling with cell centres aligned (source x = (x + 0.5) * w / W - 0.5, clamped).
    static func upsample(_ map: GradCAM.Map, width: Int, height: Int) -> [Float] {
        let (mw, mh) = (map.width, map.height)
        var out = [Float](repeating: 0, count: width * height)
        func coordinate(_ x: Int, _ outSize: Int, _ inSize: Int) -> (Int, Int, Float) {
            let s = max(0, min(Float(inSize - 1), (Float(x) + 0.5) * Float(inSize) / Float(outSize) - 0.5))
            let i0 = Int(s.rounded(.down))
            return (i0, min(i0 + 1, inSize - 1), s - Float(i0))
        }
        for y in 0..<height {
            let (y0, y1, fy) = coordinate(y, height, mh)
            for x in 0..<width {
                let (x0, x1, fx) = coordinate(x, width, mw)
                let top = map.values[y0 * mw + x0] * (1 - fx) + map.values[y0 * mw + x1] * fx
                let bottom = map.values[y1 * mw + x0] * (1 - fx) + map.values[y1 * mw + x1] * fx
                out[y * width + x] = top * (1 - fy) + bottom * fy
            }
        }
        return out
    }

    /// The jet colour map at v in [0, 1], as 0-255 floats.
    static func jet(_ v: Float) -> (Float, Float, Float) {
        func ramp(_ x: Float) -> Float { max(0, min(1, x)) * 255 }
        let x = max(0, min(1, v)) * 4
        return (ramp(min(x - 1.5, 4.5 - x)), ramp(min(x - 0.5, 3.5 - x)), ramp(min(x + 0.5, 2.5 - x)))
    }

    /// A PNG data URI of `image`, for a self-contained HTML page.
    public static func dataURI(_ image: Image) throws -> String {
        "data:image/png;base64," + Data(try PNGEncoder.encode(image)).base64EncodedString()
    }
}
