import Foundation
import ImageIO
import SwiftProtobuf
import Testing
@testable import Training

@Suite struct TensorBoardWriterTests {
    /// The CRC-32C check value (RFC 3720 / the iSCSI test vector) and TFRecord's mask of it.
    @Test func crc32cMatchesTheStandardCheckValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        let c: UInt32 = 0xE306_9283
        #expect(CRC32C.masked(Array("123456789".utf8)) == ((c >> 15) | (c << 17)) &+ 0xA282_EAD8)
        #expect(CRC32C.checksum([]) == 0)
    }

    /// Reads the records back (length, CRCs checked) and decodes them with the same schema.
    static func records(_ url: URL) throws -> [Tensorboard_Event] {
        let bytes = [UInt8](try Data(contentsOf: url))
        var i = 0, out: [Tensorboard_Event] = []
        func u32(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[at + $1]) << (8 * $1) } }
        while i < bytes.count {
            let length = Int((0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[i + $1]) << (8 * $1) })
            #expect(u32(i + 8) == CRC32C.masked(Array(bytes[i..<(i + 8)])))
            let payload = Array(bytes[(i + 12)..<(i + 12 + length)])
            #expect(u32(i + 12 + length) == CRC32C.masked(payload))
            out.append(try Tensorboard_Event(serializedBytes: payload))
            i += 16 + length
        }
        return out
    }

    @Test func writesAVersionRecordThenScalarsAndImages() throws {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("tb-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let w = try TensorBoardWriter(folder: tmp)
        #expect(w.url.lastPathComponent.hasPrefix("events.out.tfevents."))
        try w.scalars([("loss/train", 0.5), ("learning_rate", 1e-3)], step: 1)
        try w.scalars([("loss/train", 0.25)], step: 2)
        try w.image("top_losses", Image(width: 3, height: 2, channels: 3, repeating: 7), step: 2)
        let events = try Self.records(w.url)
        #expect(events.count == 4)
        #expect(events[0].fileVersion == "brain.Event:2")
        #expect(events[1].step == 1 && events[1].summary.value.map(\.tag) == ["loss/train", "learning_rate"])
        #expect(events[1].summary.value[0].simpleValue == 0.5 && events[2].summary.value[0].simpleValue == 0.25)
        let image = events[3].summary.value[0].image
        #expect(image.width == 3 && image.height == 2 && image.colorspace == 3)
        let decoded = try PNGDecoder.decode(data: [UInt8](image.encodedImageString), name: "tb", as: .rgb)
        #expect(decoded.pixels == [UInt8](repeating: 7, count: 18))
    }

    @Test func gridTilesPicturesInRows() throws {
        let a = Image(width: 2, height: 2, channels: 3, repeating: 10), b = Image(width: 2, height: 2, channels: 3, repeating: 20)
        let g = try #require(TopLosses.grid([a, b, a], columns: 2))
        #expect(g.width == 2 * 2 + 4 && g.height == 2 * 2 + 4)
        #expect(g[0, 0, 0] == 10 && g[6, 1, 0] == 20 && g[1, 7, 0] == 10)
        #expect(g[3, 0, 0] == 255 && g[7, 7, 0] == 255)
    }
}
