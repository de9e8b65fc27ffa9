import Foundation
import Testing
@testable import ImageIO

// JPEGs made at test time with libjpeg (JPEGEncoder); EXIF blocks made by libexif.

/// A 64x48 RGB image: four flat quadrants (red, green, blue, white) so orientation is visible and
/// JPEG's loss on flat 8x8 blocks stays small.
func quadrantImage(width: Int = 64, height: Int = 48) -> Image {
    var image = Image(width: width, height: height, channels: 3)
    let colors: [[UInt8]] = [[220, 20, 20], [20, 200, 30], [30, 40, 210], [240, 240, 240]]
    for y in 0..<height { for x in 0..<width {
        let q = (y < height / 2 ? 0 : 2) + (x < width / 2 ? 0 : 1)
        for c in 0..<3 { image[x, y, c] = colors[q][c] }
    } }
    return image
}

func meanAbsDifference(_ a: Image, _ b: Image) -> Double {
    guard a.pixels.count == b.pixels.count else { return .infinity }
    return zip(a.pixels, b.pixels).reduce(0.0) { $0 + abs(Double($1.0) - Double($1.1)) } / Double(a.pixels.count)
}

@Suite struct JPEGDecoderTests {
    @Test(arguments: [false, true])
    func baselineAndProgressiveRGBRoundTrip(progressive: Bool) throws {
        let original = quadrantImage()
        let bytes = try JPEGEncoder.encode(original, options: .init(quality: 95, progressive: progressive))
        let (image, info) = try JPEGDecoder.decode(data: bytes, name: "q.jpg")
        #expect(image.width == 64 && image.height == 48 && image.channels == 3)
        #expect(info.progressive == progressive && info.colorSpace == "ycbcr" && info.scaleDenominator == 1)
        #expect(meanAbsDifference(image, original) < 3, "mean |Δ| \(meanAbsDifference(image, original))")
        // Gray from RGB uses the BT.601 weights of Pillow's convert("L").
        let gray = try JPEGDecoder.decode(data: bytes, name: "q.jpg", as: .gray).image
        #expect(gray.channels == 1)
        let expected = UInt8(Luma.bt601(UInt32(image[3, 3, 0]), UInt32(image[3, 3, 1]), UInt32(image[3, 3, 2])))
        #expect(gray[3, 3, 0] == expected)
    }

    @Test func grayFilesStayGrayAndWidenToRGB() throws {
        var gray = Image(width: 40, height: 24, channels: 1)
        for y in 0..<24 { for x in 0..<40 { gray[x, y, 0] = UInt8(x < 20 ? 30 : 200) } }
        let bytes = try JPEGEncoder.encode(gray, options: .init(quality: 95))
        let (asGray, info) = try JPEGDecoder.decode(data: bytes, name: "g.jpg", as: .gray)
        #expect(info.colorSpace == "gray" && asGray.channels == 1)
        #expect(meanAbsDifference(asGray, gray) < 2)
        let rgb = try JPEGDecoder.decode(data: bytes, name: "g.jpg", as: .rgb).image
        #expect(rgb.channels == 3 && rgb[5, 5, 0] == rgb[5, 5, 2])
    }

    @Test func adobeCMYKBecomesRGB() throws {
        // libjpeg writes CMYK input as YCCK with an Adobe marker, and Adobe files store inks inverted
        // (255 = no ink): (255, 0, 255, 255) is no cyan, full magenta, no yellow, no black -> (255, 0, 255).
        let (w, h) = (32, 16)
        let samples = (0..<(w * h)).flatMap { i -> [UInt8] in i % w < 16 ? [255, 0, 255, 255] : [255, 255, 0, 128] }
        let bytes = try JPEGEncoder.encodeCMYK(samples, width: w, height: h, options: .init(quality: 98))
        let (image, info) = try JPEGDecoder.decode(data: bytes, name: "cmyk.jpg")
        #expect(info.colorSpace == "ycck" || info.colorSpace == "cmyk")
        #expect(image.channels == 3)
        let left = (0..<3).map { Int(image[4, 8, $0]) }
        let right = (0..<3).map { Int(image[28, 8, $0]) }
        #expect(zip(left, [255, 0, 255]).allSatisfy { abs($0 - $1) <= 4 }, "\(left)")
        // (255, 255, 0) inks at k = 128: r = g = 255·128/255 = 128, b = 0.
        #expect(zip(right, [128, 128, 0]).allSatisfy { abs($0 - $1) <= 4 }, "\(right)")
    }

    @Test func orientationTurnsPixelsByHand() {
        // 3x2 image, one channel: stored rows [1 2 3] [4 5 6].
        let stored = Image(width: 3, height: 2, channels: 1, pixels: [1, 2, 3, 4, 5, 6])
        let expected: [Int: (Int, Int, [UInt8])] = [
            1: (3, 2, [1, 2, 3, 4, 5, 6]), 2: (3, 2, [3, 2, 1, 6, 5, 4]), 3: (3, 2, [6, 5, 4, 3, 2, 1]),
            4: (3, 2, [4, 5, 6, 1, 2, 3]), 5: (2, 3, [1, 4, 2, 5, 3, 6]), 6: (2, 3, [4, 1, 5, 2, 6, 3]),
            7: (2, 3, [6, 3, 5, 2, 4, 1]), 8: (2, 3, [3, 6, 2, 5, 1, 4]),
        ]
        for (o, (w, h, pixels)) in expected {
            let out = ImageOrientation.apply(o, to: stored)
            #expect(out.width == w && out.height == h && out.pixels == pixels, "orientation \(o): \(out.pixels)")
        }
    }

    @Test func exifOrientationIsReadAndApplied() throws {
        let original = quadrantImage()
        let upright = try JPEGDecoder.decode(data: try JPEGEncoder.encode(original, options: .init(quality: 95)), name: "o.jpg").image
        for o in 1...8 {
            let bytes = try JPEGEncoder.encode(original, options: .init(quality: 95, orientation: o))
            let (image, info) = try JPEGDecoder.decode(data: bytes, name: "o\(o).jpg")
            #expect(info.orientation == o)
            #expect(image == ImageOrientation.apply(o, to: upright), "orientation \(o)")
            let stored = try JPEGDecoder.decode(data: bytes, name: "o\(o).jpg", options: ImageDecodeOptions(applyOrientation: false)).image
            #expect(stored.width == 64 && stored.height == 48)
        }
    }

    @Test func dctScalingKeepsBothSidesAtLeastTheRequestedOnes() throws {
        let big = quadrantImage(width: 256, height: 192)
        let bytes = try JPEGEncoder.encode(big, options: .init(quality: 90))
        for (side, denom) in [(40, 4), (24, 8), (100, 1), (96, 2), (1, 8)] {
            let (image, info) = try JPEGDecoder.decode(data: bytes, name: "big.jpg", options: ImageDecodeOptions(minimumShorterSide: side))
            #expect(info.scaleDenominator == denom, "side \(side)")
            #expect(image.width == 256 / denom && image.height == 192 / denom)
            #expect(min(image.width, image.height) >= min(side, 192))
        }
    }

    @Test func iccProfilesAreNotedNotApplied() throws {
        let bytes = try JPEGEncoder.encode(quadrantImage(), options: .init(quality: 95, iccProfile: Array(repeating: 7, count: 300)))
        let (image, info) = try JPEGDecoder.decode(data: bytes, name: "icc.jpg")
        #expect(info.hasICCProfile)
        let plain = try JPEGDecoder.decode(data: try JPEGEncoder.encode(quadrantImage(), options: .init(quality: 95)), name: "p.jpg")
        #expect(!plain.info.hasICCProfile && plain.image == image)
    }
}
