import Foundation
import Testing
@testable import ImageIO

// Two sets of files:
// - the made suite (TestPNGFactory.swift), written with libpng at test time; always run;
// - the shared PngSuite (../shared/data/png-suite: the official PngSuite plus the files of
//   make_pngtests.py, with manifest.json and .raw samples). Those tests carry
//   `.enabled(if: Fixtures.hasSharedPNGSuite, ...)`: without ../shared they are reported as skipped
//   with the reason (the path looked at), instead of failing.
//
// Static argument lists need a non-throwing manifest read; a missing manifest gives no
// arguments (and the tests using them are skipped, see above).
private let manifest: [Fixtures.ManifestEntry] = (try? Fixtures.manifest()) ?? []
private let generatedValid = manifest.filter { $0.file.hasPrefix("generated/valid/") }
private let generatedBroken = manifest.filter { $0.file.hasPrefix("generated/broken/") }
private let officialSuite = manifest.filter { $0.file.hasPrefix("pngsuite/") }

@Test(.enabled(if: Fixtures.hasSharedPNGSuite, Fixtures.noSharedPNGSuite))
func manifestCoversAllCases() throws {
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

@Test(.enabled(if: Fixtures.hasSharedPNGSuite, Fixtures.noSharedPNGSuite), arguments: generatedValid)
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

@Test(.enabled(if: Fixtures.hasSharedPNGSuite, Fixtures.noSharedPNGSuite), arguments: generatedBroken)
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

@Test(.enabled(if: Fixtures.hasSharedPNGSuite, Fixtures.noSharedPNGSuite), arguments: officialSuite)
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

@Test(.enabled(if: Fixtures.hasSharedPNGSuite, Fixtures.noSharedPNGSuite))
func sharedHugeWidthIsRejectedByTheLimits() throws {
    let url = Fixtures.pngSuite.appendingPathComponent("generated/broken/huge_width.png")
    #expect(throws: ImageIOError.invalidPNG(path: url.path, reason: "Invalid IHDR data (Image width exceeds user limit in IHDR)")) {
        try PNGDecoder.decodeSamples(file: url)
    }
    let jpeg = Fixtures.pngSuite.appendingPathComponent("generated/broken/jpeg_named_png.png")
    #expect(throws: ImageIOError.invalidPNG(path: jpeg.path, reason: "not a PNG file (it is a JPEG)")) {
        try PNGDecoder.decode(file: jpeg)
    }
}

// MARK: - The made suite (no shared data needed)

@Test func madeSuiteCoversAllCases() throws {
    #expect(PNGSpec.all.count == 28 && Set(PNGSpec.all.map(\.name)).count == 28)
    #expect(BrokenPNG.allCases.count == 19)
    // Every colour type / bit depth pair PNG allows, and Adam7 for each colour type.
    let kinds = Set(PNGSpec.all.map { "\($0.colorType)/\($0.bitDepth)" })
    for kind in ["0/1", "0/2", "0/4", "0/8", "0/16", "4/8", "4/16", "2/8", "2/16", "6/8", "6/16", "3/1", "3/2", "3/4", "3/8"] {
        #expect(kinds.contains(kind), "no made file with colour type/bit depth \(kind)")
    }
    #expect(Set(PNGSpec.all.filter(\.interlaced).map(\.colorType)) == [0, 2, 3, 4, 6])
    // The made files really are what their spec says (IHDR as written by libpng).
    for spec in PNGSpec.all {
        let bytes = try [UInt8](Data(contentsOf: try MadeSuite.valid(spec.name)))
        let ihdr = PNGBytes(bytes: bytes).chunk("IHDR")
        #expect(Array(bytes[(ihdr.dataOffset + 8)..<(ihdr.dataOffset + 13)]) ==
                [UInt8(spec.bitDepth), UInt8(spec.colorType), 0, 0, spec.interlaced ? 1 : 0], "\(spec.name)")
    }
    let split = PNGBytes(bytes: try [UInt8](Data(contentsOf: try MadeSuite.valid("rgb8_ancillary_multi_idat"))))
    #expect(split.chunks.filter { $0.type == "IDAT" }.count > 5)
    #expect(Set(["gAMA", "pHYs", "tEXt", "teSt"]).isSubset(of: Set(split.chunks.map(\.type))))
    let single = PNGBytes(bytes: try [UInt8](Data(contentsOf: try MadeSuite.valid("rgb8"))))
    #expect(single.chunks.filter { $0.type == "IDAT" }.count == 1)
}

@Test(arguments: PNGSpec.all)
func madeFileDecodesToTheSamplesWritten(_ spec: PNGSpec) throws {
    let url = try MadeSuite.valid(spec.name)
    let samples = try PNGDecoder.decodeSamples(file: url)
    let want = spec.expectedSamples()
    #expect(samples.width == spec.width)
    #expect(samples.height == spec.height)
    #expect(samples.channels == spec.decodedChannels)
    #expect(samples.bitDepth == spec.decodedSampleBits)
    #expect(samples.sourceColorType == spec.colorType)
    #expect(samples.sourceBitDepth == spec.bitDepth)
    #expect(samples.interlaced == spec.interlaced)
    #expect(samples.bytes.count == want.count)
    let firstDifference = zip(samples.bytes, want).enumerated().first { $0.element.0 != $0.element.1 }?.offset
    #expect(firstDifference == nil, "\(spec.name): first differing byte at \(firstDifference ?? -1)")
    // The same bytes from memory as from the file.
    let fromMemory = try PNGDecoder.decodeSamples(data: [UInt8](Data(contentsOf: url)), name: spec.name)
    #expect(fromMemory.bytes == samples.bytes)
    // An interlaced file holds the same pixels as its plain twin.
    if spec.interlaced, let plain = PNGSpec.all.first(where: { $0.name == spec.name.replacingOccurrences(of: "_adam7", with: "") }) {
        #expect(try PNGDecoder.decodeSamples(file: try MadeSuite.valid(plain.name)).bytes == samples.bytes)
    }
}

@Test(arguments: BrokenPNG.allCases)
func madeBrokenFileFailsWithItsName(_ broken: BrokenPNG) throws {
    let url = try MadeSuite.broken(broken)
    let name = url.lastPathComponent
    do {
        let image = try PNGDecoder.decode(file: url)
        #expect(broken.expect == "ok_or_error", "\(name) decoded to \(image.width)x\(image.height) but must fail")
    } catch let error as ImageIOError {
        #expect(broken.expect != "ok", "\(name) must decode")
        #expect(error.description.contains(name), "message does not name the file: \(error)")
        #expect(!error.description.contains("\n"))
    }
    // Also from memory, and through the samples API (nothing crashes on either path).
    let bytes = try [UInt8](Data(contentsOf: url))
    if broken.expect == "error" {
        #expect(throws: ImageIOError.self) { try PNGDecoder.decode(data: bytes, name: name) }
        #expect(throws: ImageIOError.self) { try PNGDecoder.decodeSamples(file: url) }
    }
}

@Test func madeBrokenFilesGiveTheExpectedReasons() throws {
    func reason(_ broken: BrokenPNG) throws -> String {
        let url = try MadeSuite.broken(broken)
        do {
            _ = try PNGDecoder.decodeSamples(file: url)
            return "decoded"
        } catch ImageIOError.invalidPNG(let path, let reason) {
            #expect(path == url.path)
            return reason
        }
    }
    #expect(try reason(.zeroByte) == "not a PNG file (empty file)")
    #expect(try reason(.textFile) == "not a PNG file (bad signature)")
    #expect(try reason(.badSignature) == "not a PNG file (bad signature)")
    #expect(try reason(.truncatedInSignature) == "not a PNG file (bad signature)")
    #expect(try reason(.jpegNamedPNG) == "not a PNG file (it is a JPEG)")
    #expect(try reason(.truncatedInIHDR).contains("truncated"))
    #expect(try reason(.truncatedInIDAT).contains("truncated"))
    #expect(try reason(.badCRCIHDR).contains("CRC"))
    #expect(try reason(.badCRCIDAT).contains("CRC"))
    #expect(try reason(.hugeWidth) == "Invalid IHDR data (Image width exceeds user limit in IHDR)")
    #expect(try reason(.hugeHeight) == "Invalid IHDR data (Image height exceeds user limit in IHDR)")
    #expect(try reason(.hugeArea) == "decoded image would exceed the memory limit")
}

@Test func hugeWidthIsRejectedByTheLimits() throws {
    let url = try MadeSuite.broken(.hugeWidth)
    #expect(throws: ImageIOError.invalidPNG(path: url.path, reason: "Invalid IHDR data (Image width exceeds user limit in IHDR)")) {
        try PNGDecoder.decodeSamples(file: url)
    }
    // A tighter memory limit rejects a normal file before allocating its pixels.
    let small = try MadeSuite.valid("rgb8")
    let tight = ImageDecodeOptions(maxDecodedBytes: 1000)
    #expect(throws: ImageIOError.self) { try PNGDecoder.decode(file: small, options: tight) }
    #expect(throws: ImageIOError.self) { try PNGDecoder.decode(file: small, options: ImageDecodeOptions(maxHeight: 40)) }
}

@Test func missingFileAndDirectoryGiveClearErrors() throws {
    let folder = try MadeSuite.folder()
    let missing = folder.appendingPathComponent("no-such.png")
    #expect(throws: ImageIOError.unreadableFile(path: missing.path, reason: "no such file")) {
        try PNGDecoder.decode(file: missing)
    }
    #expect(throws: ImageIOError.unreadableFile(path: folder.path, reason: "is a directory")) {
        try PNGDecoder.decode(file: folder)
    }
    let jpeg = try MadeSuite.broken(.jpegNamedPNG)
    #expect(throws: ImageIOError.invalidPNG(path: jpeg.path, reason: "not a PNG file (it is a JPEG)")) {
        try PNGDecoder.decode(file: jpeg)
    }
}
