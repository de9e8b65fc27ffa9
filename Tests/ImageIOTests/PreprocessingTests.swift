import Foundation
import Testing
@testable import ImageIO
import TensorCore

@Test func resizeToTheSameSizeIsTheIdentity() {
    let image = TestImages.numberedRGB(width: 9, height: 5)
    #expect(image.resized(width: 9, height: 5) == image)
    #expect(image.resized(width: 9, height: 5, antialias: false) == image)
}

@Test func shrinkingAveragesWithAntialiasingAndSamplesWithout() {
    // 4x1 -> 2x1. Output 0 is centred at x = 1.0 of the source.
    let row = Image(width: 4, height: 1, channels: 1, pixels: [0, 100, 200, 255])
    // Plain bilinear: halfway between pixels 0 and 1.
    #expect(row.resized(width: 2, height: 1, antialias: false).pixels[0] == 50)
    // Antialiased (triangle widened x2, Pillow BILINEAR): weights 0.75, 0.75, 0.25 on pixels 0, 1, 2.
    let weighted: Double = (0 * 0.75 + 100 * 0.75 + 200 * 0.25) / 1.75   // 71.4
    #expect(row.resized(width: 2, height: 1).pixels[0] == UInt8(weighted.rounded()))
    // A constant image stays constant at any size.
    let flat = Image(width: 17, height: 11, channels: 3, repeating: 77)
    #expect(flat.resized(width: 5, height: 3).pixels.allSatisfy { $0 == 77 })
    #expect(flat.resized(width: 40, height: 23).pixels.allSatisfy { $0 == 77 })
}

@Test func enlargingIsBilinear() {
    let row = Image(width: 2, height: 1, channels: 1, pixels: [0, 200])
    // 2 -> 4: output centres at source x = 0.25, 0.75, 1.25, 1.75 -> clamped edges, 1/4 and 3/4 blends.
    #expect(row.resized(width: 4, height: 1).pixels == [0, 50, 150, 200])
}

@Test func centerCropCutsTheMiddleWithoutScalingWhenItFits() throws {
    let image = TestImages.numbered(width: 6, height: 4)
    let p = ImagePreprocessing(width: 4, height: 4, resize: .centerCrop, pixelFormat: .gray, normalization: .none)
    #expect(p.cropBox(sourceWidth: 6, sourceHeight: 4) == CropBox(x: 1, y: 0, width: 4, height: 4))
    let out = p.apply(image).scalars
    #expect(TestImages.plane(out, width: 4, height: 4) == (0..<4).map { y in (1...4).map { Float(10 * y + $0) } })
    // Shorter side 8 then a 4x4 crop: the box is the central 2x2 of the source.
    let zoomed = ImagePreprocessing(width: 4, height: 4, resizeShorterSide: 8, pixelFormat: .gray)
    #expect(zoomed.cropBox(sourceWidth: 6, sourceHeight: 4) == CropBox(x: 2, y: 1, width: 2, height: 2))
    // A shorter side too small to cover the output is raised to cover it.
    let tooSmall = ImagePreprocessing(width: 4, height: 4, resizeShorterSide: 2, pixelFormat: .gray)
    #expect(tooSmall.cropBox(sourceWidth: 6, sourceHeight: 4) == CropBox(x: 1, y: 0, width: 4, height: 4))
    let stretch = ImagePreprocessing(width: 3, height: 3, resize: .stretch)
    #expect(stretch.cropBox(sourceWidth: 6, sourceHeight: 4) == CropBox(x: 0, y: 0, width: 6, height: 4))
}

@Test func normalizationModesGiveTheDocumentedValues() {
    // One pixel: R 255, G 0, B 51.
    let pixel = Image(width: 1, height: 1, channels: 3, pixels: [255, 0, 51])
    func run(_ mode: Preprocessing) -> [Float] {
        ImagePreprocessing(width: 1, height: 1, normalization: mode).apply(pixel).scalars
    }
    #expect(run(.none) == [255, 0, 51])
    func close(_ a: [Float], _ b: [Float]) -> Bool { a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) < 1e-5 } }
    #expect(close(run(.scale), [1, 0, 0.2]))
    #expect(close(run(.tf), [1, -1, -0.6]))
    let caffe = run(.caffe)   // BGR order, mean subtracted, not scaled
    let bgrMinusMean: [Float] = [51 - 103.939, 0 - 116.779, 255 - 123.68]
    #expect(caffe == bgrMinusMean)
    let torch = run(.torch)
    let want: [Float] = [(1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (0.2 - 0.406) / 0.225]
    #expect(close(torch, want), "\(torch)")
    // Shape is NCHW.
    #expect(ImagePreprocessing(width: 5, height: 2).apply(TestImages.numberedRGB(width: 7, height: 7)).shape == [1, 3, 2, 5])
}

@Test func formatConversionInsidePreprocessing() {
    let rgb = TestImages.numberedRGB(width: 4, height: 4)
    let gray = ImagePreprocessing(width: 4, height: 4, pixelFormat: .gray, normalization: .none).apply(rgb)
    #expect(gray.shape == [1, 1, 4, 4])
    #expect(gray.scalars[0] == Float(rgb.converted(to: .gray).pixels[0]))
    #expect(throws: ImageIOError.self) { try ImagePreprocessing(width: 0, height: 4).validate() }
    #expect(throws: ImageIOError.self) { try ImagePreprocessing(width: 4, height: 4, pixelFormat: .rgba).validate() }
}

@Test func preprocessingDecodesWithDefaultsAndRejectsUnknownKeys() throws {
    let json = #"{"width": 224, "height": 224, "resizeShorterSide": 256, "normalization": "caffe"}"#
    let p = try JSONDecoder().decode(ImagePreprocessing.self, from: Data(json.utf8))
    #expect(p == ImagePreprocessing(width: 224, height: 224, resizeShorterSide: 256, normalization: .caffe))
    #expect(try JSONDecoder().decode(ImagePreprocessing.self, from: JSONEncoder().encode(p)) == p)
    #expect(throws: DecodingError.self) {
        try JSONDecoder().decode(ImagePreprocessing.self, from: Data(#"{"width": 4, "height": 4, "normalisation": "tf"}"#.utf8))
    }
    #expect(throws: DecodingError.self) { try JSONDecoder().decode(ImagePreprocessing.self, from: Data(#"{"width": 4}"#.utf8)) }
}

@Test func integerCropCopiesTheRectangle() {
    let image = TestImages.numbered(width: 6, height: 5)
    let crop = image.cropped(x: 2, y: 1, width: 3, height: 2)
    #expect(crop.pixels == [12, 13, 14, 22, 23, 24])
}
