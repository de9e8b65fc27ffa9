import Foundation
import Testing
@testable import ImageIO

// Static argument lists need a non-throwing manifest read; a missing manifest gives no
// arguments, and `manifestCoversAllCases` then fails.
private let manifest: [Fixtures.ManifestEntry] = (try? Fixtures.manifest()) ?? []
private let generatedValid = manifest.filter { $0.file.hasPrefix("generated/valid/") }
private let generatedBroken = manifest.filter { $0.file.hasPrefix("generated/broken/") }
private let officialSuite = manifest.filter { $0.file.hasPrefix("pngsuite/") }

@Test func manifestCoversAllCases() throws {
    #expect(generatedValid.count == 26)
    #expect(generatedBroken.count == 17)
    #expect(officialSuite.count == 175)
    // Every colour type and every bit depth of the issue is in the generated set.
    let kinds = Set(generatedValid.compactMap { e in e.color_type.flatMap { c in e.bit_depth.map { "\(c)/\($0)" } } })
    for kind in ["0/1", "0/2", "0/4", "0/8", "0/16", "4/8", "4/16", "2/8", "2/16", "6/8", "6/16", "3/1", "3/4", "3/8"] {
        #expect(kinds.contains(kind), "no generated file with colour type/bit depth \(kind)")
    }
    #expect(generatedValid.contains { $0.interlace == "adam7" })
}

@Test(arguments: generatedValid)
func generatedFileDecodesToExpectedSamples(_ entry: Fixtures.ManifestEntry) throws {
    let samples = try PNGDecoder.decodeSamples(file: entry.url)
    let raw = try [UInt8](Data(contentsOf: Fixtures.pngSuite.appendingPathComponent(try #require(entry.expected_raw))))
    #expect(samples.width == entry.width)
    #expect(samples.height == entry.height)
    #expect(samples.channels == entry.expected_channels)
    #expect(samples.bitDepth == entry.expected_sample_bits)
    #expect(samples.sourceColorType == entry.color_type)
    #expect(samples.sourceBitDepth == entry.bit_depth)
    #expect(samples.interlaced == (entry.interlace == "adam7"))
    #expect(samples.bytes.count == raw.count)
    let firstDifference = zip(samples.bytes, raw).enumerated().first { $0.element.0 != $0.element.1 }?.offset
    #expect(firstDifference == nil, "\(entry.file): first differing byte at \(firstDifference ?? -1)")
}

@Test(arguments: generatedBroken)
func brokenFileFailsWithItsName(_ entry: Fixtures.ManifestEntry) throws {
    let name = entry.url.lastPathComponent
    do {
        let image = try PNGDecoder.decode(file: entry.url)
        #expect(entry.expect == "ok_or_error", "\(name) decoded to \(image.width)x\(image.height) but must fail")
    } catch let error as ImageIOError {
        #expect(entry.expect != "ok", "\(name) must decode")
        #expect(error.description.contains(name), "message does not name the file: \(error)")
        #expect(!error.description.contains("\n"))
    }
}

@Test(arguments: officialSuite)
func officialPngSuiteDecodesOrFails(_ entry: Fixtures.ManifestEntry) throws {
    let name = entry.url.lastPathComponent
    if entry.expect == "ok" {
        let rgb = try PNGDecoder.decode(file: entry.url, as: .rgb)
        #expect(rgb.width > 0 && rgb.height > 0 && rgb.channels == 3)
        #expect(rgb.pixels.count == rgb.width * rgb.height * 3)
        #expect(try PNGDecoder.decode(file: entry.url, as: .gray).channels == 1)
    } else {
        #expect(!name.hasPrefix("b"), "sanity: only x* files are corrupt")
        let error = #expect(throws: ImageIOError.self) { try PNGDecoder.decode(file: entry.url) }
        #expect(error?.description.contains(name) == true)
    }
}

@Test func hugeWidthIsRejectedByTheLimits() throws {
    let url = Fixtures.pngSuite.appendingPathComponent("generated/broken/huge_width.png")
    #expect(throws: ImageIOError.invalidPNG(path: url.path, reason: "Invalid IHDR data (Image width exceeds user limit in IHDR)")) {
        try PNGDecoder.decodeSamples(file: url)
    }
    // A tighter memory limit rejects a normal file before allocating its pixels.
    let small = Fixtures.pngSuite.appendingPathComponent("generated/valid/rgb8.png")
    let tight = PNGDecodeOptions(maxDecodedBytes: 1000)
    #expect(throws: ImageIOError.self) { try PNGDecoder.decode(file: small, options: tight) }
    #expect(throws: ImageIOError.self) { try PNGDecoder.decode(file: small, options: PNGDecodeOptions(maxHeight: 40)) }
}

@Test func missingFileAndDirectoryGiveClearErrors() throws {
    let missing = Fixtures.root.appendingPathComponent("no-such.png")
    #expect(throws: ImageIOError.unreadableFile(path: missing.path, reason: "no such file")) {
        try PNGDecoder.decode(file: missing)
    }
    #expect(throws: ImageIOError.unreadableFile(path: Fixtures.root.path, reason: "is a directory")) {
        try PNGDecoder.decode(file: Fixtures.root)
    }
    let jpeg = Fixtures.pngSuite.appendingPathComponent("generated/broken/jpeg_named_png.png")
    #expect(throws: ImageIOError.invalidPNG(path: jpeg.path, reason: "not a PNG file (it is a JPEG)")) {
        try PNGDecoder.decode(file: jpeg)
    }
}
