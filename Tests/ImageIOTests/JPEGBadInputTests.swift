import Foundation
import Testing
@testable import ImageIO

// Damaged and mislabelled files: one error naming the file when decoded directly, a skipped file
// with a warning line inside a dataset. Never a crash, never an image decoded around damage.

func goodJPEG() throws -> [UInt8] { try JPEGEncoder.encode(quadrantImage(width: 96, height: 64), options: .init(quality: 90)) }

/// Start of the entropy-coded data: the byte after the SOS segment.
func scanStart(_ b: [UInt8]) -> Int? {
    var i = 2
    while i + 4 <= b.count, b[i] == 0xFF {
        let length = Int(b[i + 2]) << 8 | Int(b[i + 3])
        if b[i + 1] == 0xDA { return i + 2 + length }
        i += 2 + length
    }
    return nil
}

@Suite struct JPEGBadInputTests {
    @Test func truncatedFilesAreRefusedNamingTheFile() throws {
        let bytes = try goodJPEG()
        let start = try #require(scanStart(bytes))
        for cut in [bytes.count - 2, (start + bytes.count) / 2, start + 1] {
            let e = #expect(throws: ImageIOError.self) { try JPEGDecoder.decode(data: Array(bytes.prefix(cut)), name: "cut.jpg") }
            #expect("\(e!)".contains("cut.jpg") && "\(e!)".contains("truncated"), "\(e!)")
        }
        // Explicitly allowed, libjpeg's gray padding is returned.
        let (image, _) = try JPEGDecoder.decode(data: Array(bytes.prefix(start + 40)), name: "cut.jpg",
                                               options: ImageDecodeOptions(acceptDamagedJPEG: true))
        #expect(image.width == 96)
    }

    @Test func headerDamageAndCorruptScansAreErrorsNotAborts() throws {
        let bytes = try goodJPEG()
        let start = try #require(scanStart(bytes))
        // Header cut inside the frame header: libjpeg's fatal error returns through our handler.
        #expect(throws: ImageIOError.self) { try JPEGDecoder.decode(data: Array(bytes.prefix(30)), name: "h.jpg") }
        // Only the signature.
        #expect(throws: ImageIOError.self) { try JPEGDecoder.decode(data: [0xFF, 0xD8, 0xFF], name: "s.jpg") }
        // An unexpected marker in the scan data: decodable, but libjpeg warns; refused.
        var corrupt = bytes
        for k in 0..<8 { corrupt[start + 20 + k] = k % 2 == 0 ? 0xFF : 0xD3 }
        let e = #expect(throws: ImageIOError.self) { try JPEGDecoder.decode(data: corrupt, name: "corrupt.jpg") }
        #expect("\(e!)".contains("corrupt.jpg"), "\(e!)")
    }

    @Test func formatIsDecidedByBytesNotName() throws {
        let folder = try Fixtures.temporaryFolder("jpeg-names")
        defer { try? FileManager.default.removeItem(at: folder) }
        let png = folder.appendingPathComponent("really-png.jpg"), jpeg = folder.appendingPathComponent("really-jpeg.PNG")
        try Data(PNGEncoder.encode(quadrantImage())).write(to: png)
        try Data(goodJPEG()).write(to: jpeg)
        #expect(try ImageDecoder.decodeWithInfo(file: png).info.format == .png)
        #expect(try ImageDecoder.decodeWithInfo(file: jpeg).info.format == .jpeg)
        let text = folder.appendingPathComponent("notes.jpg"), empty = folder.appendingPathComponent("empty.jpeg")
        try Data("hello".utf8).write(to: text)
        try Data().write(to: empty)
        for (file, reason) in [(text, "not a PNG or JPEG"), (empty, "empty file")] {
            let e = #expect(throws: ImageIOError.self) { try ImageDecoder.decode(file: file) }
            #expect("\(e!)".contains(file.lastPathComponent) && "\(e!)".contains(reason), "\(e!)")
        }
    }

    @Test func datasetsSkipBadJPEGsWithOneWarningEachAndNoteICCOnce() throws {
        let root = try Fixtures.temporaryFolder("jpeg-dataset")
        defer { try? FileManager.default.removeItem(at: root) }
        let good = try goodJPEG()
        let withICC = try JPEGEncoder.encode(quadrantImage(), options: .init(quality: 90, iccProfile: [1, 2, 3, 4]))
        for name in ["cat", "dog"] {
            let dir = root.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try Data(good).write(to: dir.appendingPathComponent("a.jpg"))
            try Data(withICC).write(to: dir.appendingPathComponent("b.JPEG"))
            try Data(PNGEncoder.encode(quadrantImage())).write(to: dir.appendingPathComponent("c.png"))
        }
        let dog = root.appendingPathComponent("dog")
        try Data(good.prefix(good.count / 2)).write(to: dog.appendingPathComponent("cut.jpg"))
        try Data("not an image".utf8).write(to: dog.appendingPathComponent("text.jpg"))
        try Data().write(to: dog.appendingPathComponent("zero.jpg"))
        let log = WarningLog()
        let ds = try ImageFolderDataset(folder: root, options: DatasetOptions(warn: log.handler))
        #expect(ds.classCounts == [3, 3])
        #expect(ds.skipped.count == 3)
        let text = log.lines
        for bad in ["cut.jpg", "text.jpg", "zero.jpg"] {
            #expect(text.filter { $0.contains(bad) }.count == 1, "\(bad): \(text)")
        }
        #expect(text.filter { $0.contains("ICC") }.count == 1, "\(text)")
        #expect(!text.contains { $0.contains("warning: warning:") })
        // The loader decodes them too.
        let image = try ImageDecoder.decode(file: ds.samples[1].file)
        #expect(image.width == 64)
    }
}
