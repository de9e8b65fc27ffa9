import Foundation
import Testing
@testable import ImageIO

// The files are made by TestPNGFactory.swift; their expected samples are the ones it wrote.
private func valid(_ name: String) throws -> URL { try MadeSuite.valid(name) }
private func expected(_ name: String) throws -> [UInt8] { PNGSpec.named(name).expectedSamples() }
private func big16(_ raw: [UInt8], _ i: Int) -> Int { Int(raw[2 * i]) << 8 | Int(raw[2 * i + 1]) }

@Test func sixteenBitReducesWithExactRoundingNotLinearLight() throws {
    let raw = try expected("gray16")
    let gray = try PNGDecoder.decode(file: try valid("gray16"), as: .gray)
    #expect(gray.channels == 1 && gray.pixels.count == raw.count / 2)
    let want = (0..<gray.pixels.count).map { UInt8((big16(raw, $0) * 255 + 32767) / 65535) }
    let firstDifference = gray.pixels.indices.first { gray.pixels[$0] != want[$0] }
    #expect(firstDifference == nil, "first pixel off: \(firstDifference ?? -1)")
    // 0x8080 must become 128 (the simplified libpng API would give 186).
    let samples = PNGSamples(width: 1, height: 1, channels: 1, bitDepth: 16, bytes: [0x80, 0x80],
                             sourceColorType: 0, sourceBitDepth: 16, interlaced: false)
    #expect(samples.image(as: .gray).pixels == [128])
    #expect(samples.image(as: .rgb).pixels == [128, 128, 128])
}

@Test func rgb16ReducesEverySampleWithRounding() throws {
    let rgb16 = try PNGDecoder.decode(file: try valid("rgb16"), as: .rgb)
    let raw = try expected("rgb16")
    let want = (0..<rgb16.pixels.count).map { UInt8((big16(raw, $0) * 255 + 32767) / 65535) }
    #expect(rgb16.pixels == want)
}

@Test func alphaIsCompositedOntoTheConfiguredBackground() throws {
    let raw = try expected("rgba8")   // RGBA samples
    for background in [RGBColor.white, .black, RGBColor(red: 10, green: 200, blue: 90)] {
        let rgb = try PNGDecoder.decode(file: try valid("rgba8"), as: .rgb, options: ImageDecodeOptions(background: background))
        let bg = [Int(background.red), Int(background.green), Int(background.blue)]
        for p in stride(from: 0, to: rgb.width * rgb.height, by: 7) {
            let a = Int(raw[p * 4 + 3])
            for c in 0..<3 {
                let want = (Int(raw[p * 4 + c]) * a + bg[c] * (255 - a) + 127) / 255
                #expect(Int(rgb.pixels[p * 3 + c]) == want)
            }
        }
    }
    // The file really has partial transparency, so the test can tell backgrounds apart.
    #expect(Set(stride(from: 3, to: raw.count, by: 4).map { raw[$0] }).count > 2)
    let rgba = try PNGDecoder.decode(file: try valid("rgba8"), as: .rgba)
    #expect(rgba.pixels == raw)
}

@Test func grayAlphaAndPaletteTransparencyComposite() throws {
    let raw = try expected("gray_alpha8")
    let rgb = try PNGDecoder.decode(file: try valid("gray_alpha8"), as: .rgb, options: ImageDecodeOptions(background: .black))
    for p in 0..<(rgb.width * rgb.height) {
        let want = UInt8((Int(raw[2 * p]) * Int(raw[2 * p + 1]) + 127) / 255)
        #expect(rgb.pixels[3 * p] == want && rgb.pixels[3 * p + 2] == want)
    }
    let trns = try expected("palette8_trns")   // RGBA
    let white = try PNGDecoder.decode(file: try valid("palette8_trns"), as: .rgb)
    let p = stride(from: 0, to: trns.count / 4, by: 1).first { trns[$0 * 4 + 3] == 0 }
    let transparent = try #require(p, "palette8_trns has a fully transparent pixel")
    #expect(Array(white.pixels[(transparent * 3)..<(transparent * 3 + 3)]) == [255, 255, 255])
}

@Test func colorKeyBecomesTransparentOnlyWhenAsked() throws {
    let url = try valid("rgb8_trns_key")
    let key: [UInt8] = PNGSpec.rgbKey   // (148, 125, 111)
    let raw = try PNGDecoder.decodeSamples(file: url)
    #expect(raw.channels == 3)
    let keyed = try PNGDecoder.decodeSamples(file: url, colorKeyToAlpha: true)
    #expect(keyed.channels == 4)
    #expect(keyed.bytes == PNGSpec.named("rgb8_trns_key").expectedSamples(colorKeyToAlpha: true))
    let honoured = try PNGDecoder.decode(file: url, as: .rgb, options: ImageDecodeOptions(background: .black))
    let ignored = try PNGDecoder.decode(file: url, as: .rgb, options: ImageDecodeOptions(background: .black, honourColorKey: false))
    var keyPixels = 0
    for p in 0..<(raw.width * raw.height) where Array(raw.bytes[(3 * p)..<(3 * p + 3)]) == key {
        keyPixels += 1
        #expect(Array(honoured.pixels[(3 * p)..<(3 * p + 3)]) == [0, 0, 0])
        #expect(Array(ignored.pixels[(3 * p)..<(3 * p + 3)]) == key)
    }
    #expect(keyPixels > 0)
}

@Test func rgbToGrayUsesBT601Luma() throws {
    let rgb = try PNGDecoder.decode(file: try valid("rgb8"), as: .rgb)
    let gray = try PNGDecoder.decode(file: try valid("rgb8"), as: .gray)
    for p in stride(from: 0, to: gray.pixels.count, by: 11) {
        let r = Double(rgb.pixels[3 * p]), g = Double(rgb.pixels[3 * p + 1]), b = Double(rgb.pixels[3 * p + 2])
        #expect(abs(Double(gray.pixels[p]) - (0.299 * r + 0.587 * g + 0.114 * b)) <= 0.51)
    }
    // Gray to RGB copies the value.
    let g8 = try PNGDecoder.decode(file: try valid("gray8"), as: .rgb)
    #expect(g8.pixels[0] == g8.pixels[1] && g8.pixels[1] == g8.pixels[2])
    #expect(try PNGDecoder.decode(file: try valid("gray8"), as: .gray).pixels == (try expected("gray8")))
}
