import Foundation
import Testing
@testable import ImageIO

private func pattern(width: Int, height: Int, channels: Int) -> Image {
    var pixels = [UInt8](repeating: 0, count: width * height * channels)
    for i in pixels.indices { pixels[i] = UInt8(truncatingIfNeeded: i * 37 + i / 7) }
    return Image(width: width, height: height, channels: channels, pixels: pixels)
}

@Test(arguments: [1, 2, 3, 4])
func encodeDecodeRoundTrip(channels: Int) throws {
    let image = pattern(width: 13, height: 7, channels: channels)
    let bytes = try PNGEncoder.encode(image)
    #expect(Array(bytes.prefix(4)) == [0x89, 0x50, 0x4E, 0x47])
    let samples = try PNGDecoder.decodeSamples(data: bytes, name: "roundtrip")
    #expect(samples.width == 13 && samples.height == 7 && samples.channels == channels && samples.bitDepth == 8)
    #expect(samples.bytes == image.pixels)
}

@Test func writeIsAtomicAndReadable() throws {
    let folder = try Fixtures.temporaryFolder("encoder")
    defer { try? FileManager.default.removeItem(at: folder) }
    let file = folder.appendingPathComponent("preview.png")
    let first = pattern(width: 5, height: 4, channels: 3)
    try PNGEncoder.write(first, to: file)
    let second = pattern(width: 8, height: 2, channels: 1)
    try PNGEncoder.write(second, to: file)   // replaces the first
    #expect(try PNGDecoder.decode(file: file, as: .gray) == second)
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.path)
    #expect(leftovers == ["preview.png"], "temporary files left behind: \(leftovers)")
}

@Test func writeErrorsNameTheFile() throws {
    let file = URL(fileURLWithPath: "/nonexistent-graft-folder/out.png")
    let error = #expect(throws: ImageIOError.self) { try PNGEncoder.write(pattern(width: 2, height: 2, channels: 3), to: file) }
    #expect(error?.description.contains(file.path) == true)
    #expect(throws: ImageIOError.self) { try PNGEncoder.encode(Image(width: 0, height: 3, channels: 3, pixels: [])) }
}
