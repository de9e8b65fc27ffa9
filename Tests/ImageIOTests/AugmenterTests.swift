import Foundation
import Testing
@testable import ImageIO
import TensorCore

/// An augmenter whose output is the raw 0...255 values at the source size (no resampling effect).
private func rawAugmenter(_ config: AugmentationConfig, width: Int, height: Int, format: PixelFormat = .gray) throws -> Augmenter {
    try Augmenter(config: config, preprocessing: ImagePreprocessing(width: width, height: height, resize: .stretch,
                                                               pixelFormat: format, normalization: .none))
}

private func grid(_ augmenter: Augmenter, _ image: Image, seed: UInt64 = 1) -> [[Float]] {
    TestImages.plane(augmenter.apply(image, seed: seed).scalars, width: augmenter.preprocessing.width,
                     height: augmenter.preprocessing.height)
}

@Test func horizontalAndVerticalFlipsMirrorPixels() throws {
    let image = TestImages.numbered(width: 5, height: 3)
    let original = (0..<3).map { y in (0..<5).map { Float(10 * y + $0) } }
    var config = AugmentationConfig()
    config.horizontalFlip = 1
    #expect(grid(try rawAugmenter(config, width: 5, height: 3), image) == original.map { $0.reversed() })
    config = AugmentationConfig()
    config.verticalFlip = 1
    #expect(grid(try rawAugmenter(config, width: 5, height: 3), image) == original.reversed())
    // Probability 0 (the default) leaves the image alone.
    #expect(grid(try rawAugmenter(AugmentationConfig(), width: 5, height: 3), image) == original)
}

@Test(arguments: [4, 5])
func quarterTurnRotatesCounterClockwise(size: Int) {
    let image = TestImages.numbered(width: size, height: size)
    let n = size * size
    var source = [Float](repeating: 0, count: n), out = [Float](repeating: -1, count: n)
    for i in 0..<n { source[i] = Float(image.pixels[i]) }
    let turn = AffineTransform.about(centerX: Double(size) / 2, centerY: Double(size) / 2, rotation: 90)
    source.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
            GeometricOps.warp(src.baseAddress!, channels: 1, width: size, height: size, transform: turn,
                              fillMode: .constant, fillValue: -7, into: dst.baseAddress!)
        }
    }
    // Counter-clockwise on screen: the top-right pixel goes to the top-left; (x, y) -> (y, size-1-x).
    for y in 0..<size {
        for x in 0..<size {
            #expect(out[(size - 1 - x) * size + y] == source[y * size + x], "pixel (\(x), \(y))")
        }
    }
}

@Test func rotationThroughTheAugmenterStaysInItsRange() throws {
    // rotation = 90 draws an angle in [-90, 90]; the centre pixel of an odd image never moves.
    var config = AugmentationConfig()
    config.rotation = 90
    let augmenter = try rawAugmenter(config, width: 5, height: 5)
    let image = TestImages.numbered(width: 5, height: 5)
    for seed in 0..<5 as Range<UInt64> {
        #expect(grid(augmenter, image, seed: seed)[2][2] == 22)
    }
}

@Test func translationByWholePixelsShiftsAndFills() {
    let image = TestImages.numbered(width: 4, height: 3)
    var source = image.pixels.map(Float.init), out = [Float](repeating: 0, count: 12)
    let shift = AffineTransform.about(centerX: 2, centerY: 1.5, translateX: 1, translateY: 0)
    source.withUnsafeMutableBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
            GeometricOps.warp(src.baseAddress!, channels: 1, width: 4, height: 3, transform: shift,
                              fillMode: .constant, fillValue: 99, into: dst.baseAddress!)
        }
    }
    #expect(Array(out[0..<4]) == [99, 0, 1, 2])
    #expect(Array(out[8..<12]) == [99, 20, 21, 22])
}

@Test func randomResizedCropTakesARegionOfTheSource() throws {
    var config = AugmentationConfig()
    config.randomResizedCrop = true
    config.cropScale = Interval(0.25, 0.25)
    config.cropRatio = Interval(1, 1)
    let augmenter = try rawAugmenter(config, width: 4, height: 4)
    let image = TestImages.numbered(width: 8, height: 8)
    for seed in 0..<20 as Range<UInt64> {
        var rng = SeededRandom(dataSeed: seed)
        let box = augmenter.randomResizedCropBox(width: 8, height: 8, rng: &rng)
        #expect(box.width == 4 && box.height == 4 && box.x >= 0 && box.y >= 0 && box.x + 4 <= 8 && box.y + 4 <= 8)
        // 4x4 crop to a 4x4 output: the pixels are copied exactly from the box.
        let out = grid(augmenter, image, seed: seed)
        var again = SeededRandom(dataSeed: seed)
        let b = augmenter.randomResizedCropBox(width: 8, height: 8, rng: &again)
        #expect(out[0][0] == Float(10 * Int(b.y) + Int(b.x)))
        #expect(out[3][3] == Float(10 * (Int(b.y) + 3) + Int(b.x) + 3))
    }
}

private func everything() -> AugmentationConfig {
    var c = AugmentationConfig()
    c.randomResizedCrop = true
    c.horizontalFlip = 0.5; c.verticalFlip = 0.5; c.rotation = 20; c.translate = 0.1
    c.zoom = Interval(0.9, 1.2); c.shear = 10; c.fillMode = .reflect
    c.brightness = 0.3; c.contrast = 0.3; c.saturation = 0.3; c.gaussianNoise = 0.02
    c.erasing = 0.5; c.erasingRandomFill = true
    return c
}

@Test func augmentationIsDeterministicUnderASeed() throws {
    let image = try PNGDecoder.decode(file: try Fixtures.tinyFolder().appendingPathComponent("frog/tr0093.png"))
    let augmenter = try Augmenter(config: everything(), preprocessing: ImagePreprocessing(width: 24, height: 24, normalization: .torch))
    let a = augmenter.apply(image, seed: 42).scalars
    #expect(a == augmenter.apply(image, seed: 42).scalars)
    #expect(a != augmenter.apply(image, seed: 43).scalars)
    #expect(a.allSatisfy { $0.isFinite })
    // The generator itself is pinned: a change of algorithm would silently change every recipe's data.
    var rng = SeededRandom(dataSeed: 0)
    #expect([rng.next(), rng.next()] == [0x99EC_5F36_CB75_F2B4, 0xBF6E_1F78_4956_452A])
}

@Test func photometricJitterKeepsTheRangeAndChangesValues() throws {
    var config = AugmentationConfig()
    config.brightness = 0.5; config.contrast = 0.5; config.saturation = 0.5; config.gaussianNoise = 0.05
    let augmenter = try rawAugmenter(config, width: 6, height: 6, format: .rgb)
    let image = TestImages.numberedRGB(width: 6, height: 6)
    let out = augmenter.apply(image, seed: 3).scalars
    #expect(out.allSatisfy { (0...255).contains($0) })
    #expect(out != (try rawAugmenter(AugmentationConfig(), width: 6, height: 6, format: .rgb)).apply(image, seed: 3).scalars)
}

@Test func randomErasingBlanksARectangle() throws {
    var config = AugmentationConfig()
    config.erasing = 1
    config.erasingScale = Interval(0.2, 0.2)
    config.erasingRatio = Interval(1, 1)
    let augmenter = try rawAugmenter(config, width: 10, height: 10)
    let white = Image(width: 10, height: 10, channels: 1, repeating: 200)
    let out = augmenter.apply(white, seed: 9).scalars
    #expect(out.filter { $0 == 0 }.count == 16)   // sqrt(0.2 * 100) = 4.47 -> a 4x4 patch
    #expect(out.filter { $0 == 200 }.count == 84)
}

@Test func configDecodesWithDefaultsAndRejectsUnknownKeys() throws {
    let json = #"{"horizontalFlip": 0.5, "cropScale": [0.2, 1], "zoom": 1.1, "fillMode": "nearest"}"#
    let config = try JSONDecoder().decode(AugmentationConfig.self, from: Data(json.utf8))
    var expected = AugmentationConfig()
    expected.horizontalFlip = 0.5; expected.cropScale = Interval(0.2, 1); expected.zoom = Interval(1.1, 1.1)
    expected.fillMode = .nearest
    #expect(config == expected)
    #expect(try JSONDecoder().decode(AugmentationConfig.self, from: Data("{}".utf8)).isIdentity)
    #expect(throws: DecodingError.self) {
        try JSONDecoder().decode(AugmentationConfig.self, from: Data(#"{"horizontalFlp": 0.5}"#.utf8))
    }
    let roundTrip = try JSONDecoder().decode(AugmentationConfig.self, from: JSONEncoder().encode(everything()))
    #expect(roundTrip == everything())
    var bad = AugmentationConfig()
    bad.verticalFlip = 1.5
    #expect(throws: ImageIOError.self) { try bad.validate() }
    bad = AugmentationConfig()
    bad.cropScale = Interval(0.5, 0.1)
    #expect(throws: ImageIOError.self) { try Augmenter(config: bad, preprocessing: ImagePreprocessing(width: 4, height: 4)) }
}

@Test func previewGridHasOneTilePerVariant() throws {
    let augmenter = try Augmenter(config: everything(), preprocessing: ImagePreprocessing(width: 8, height: 6))
    let images = [TestImages.numberedRGB(width: 10, height: 9), TestImages.numberedRGB(width: 12, height: 7)]
    let sheet = AugmentationPreview.grid(images: images, augmenter: augmenter, variants: 3, seed: 1, spacing: 2)
    #expect(sheet.width == 4 * 8 + 5 * 2 && sheet.height == 2 * 6 + 3 * 2 && sheet.channels == 3)
    #expect(sheet == AugmentationPreview.grid(images: images, augmenter: augmenter, variants: 3, seed: 1, spacing: 2))
    #expect(sheet[0, 0, 0] == 128)
}
