import Foundation
import ImageIO
import SwiftProtobuf

/// `--tensorboard DIR`: a TensorBoard event file (`events.out.tfevents.<time>.<host>.graft`) of scalars
/// (losses, accuracies, learning rate per epoch) and images (the top-losses grid), which
/// `tensorboard --logdir DIR` shows. Records are TensorBoard's TFRecord framing: length (uint64 LE),
/// masked CRC-32C of the length, the serialized `Event`, masked CRC-32C of it. Each record is written
/// and flushed whole, so a killed run leaves a readable file; a resumed run starts a new file.
public final class TensorBoardWriter {
    public let url: URL
    private let handle: FileHandle

    public init(folder: URL, now: Date = Date()) throws {
        do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
            throw JobError("\(folder.path): cannot create the TensorBoard folder (\(error.localizedDescription))")
        }
        let host = Self.hostName()
        url = folder.appendingPathComponent("events.out.tfevents.\(Int(now.timeIntervalSince1970)).\(host).\(getpid()).graft")
        guard FileManager.default.createFile(atPath: url.path, contents: nil), let h = FileHandle(forWritingAtPath: url.path) else {
            throw JobError("\(url.path): cannot write the TensorBoard event file")
        }
        handle = h
        var first = Tensorboard_Event()
        first.wallTime = now.timeIntervalSince1970
        first.fileVersion = "brain.Event:2"
        try write(first)
    }

    deinit { try? handle.close() }

    /// The host name for the file name, as TensorBoard's writers use it (dots kept, '/' never).
    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "localhost" : name.replacingOccurrences(of: "/", with: "_")
    }

    /// Scalars at `step` (TensorBoard's x axis; Graft uses the epoch).
    public func scalars(_ values: [(tag: String, value: Double)], step: Int, at time: Date = Date()) throws {
        try summary(values.map { v in
            var s = Tensorboard_Summary.Value()
            s.tag = v.tag
            s.simpleValue = Float(v.value)
            return s
        }, step: step, at: time)
    }

    /// An RGB or gray image at `step`, stored as PNG.
    public func image(_ tag: String, _ picture: Image, step: Int, at time: Date = Date()) throws {
        var i = Tensorboard_Summary.Image()
        i.height = Int32(picture.height)
        i.width = Int32(picture.width)
        i.colorspace = Int32(picture.channels)
        i.encodedImageString = Data(try PNGEncoder.encode(picture, name: tag))
        var v = Tensorboard_Summary.Value()
        v.tag = tag
        v.image = i
        try summary([v], step: step, at: time)
    }

    private func summary(_ values: [Tensorboard_Summary.Value], step: Int, at time: Date) throws {
        var e = Tensorboard_Event()
        e.wallTime = time.timeIntervalSince1970
        e.step = Int64(step)
        var s = Tensorboard_Summary()
        s.value = values
        e.summary = s
        try write(e)
    }

    private func write(_ event: Tensorboard_Event) throws {
        let record = Self.frame(try event.serializedBytes())
        do {
            try handle.write(contentsOf: record)
            try handle.synchronize()
        } catch {
            throw JobError("\(url.path): cannot write the TensorBoard event file (\(error.localizedDescription))")
        }
    }

    /// One TFRecord: length, its masked CRC, the payload, its masked CRC (all little-endian).
    static func frame(_ payload: [UInt8]) -> Data {
        var out = Data(capacity: payload.count + 16)
        let length = withUnsafeBytes(of: UInt64(payload.count).littleEndian) { Array($0) }
        func append32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        out.append(contentsOf: length)
        append32(CRC32C.masked(length))
        out.append(contentsOf: payload)
        append32(CRC32C.masked(payload))
        return out
    }
}

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as TFRecord checksums use, and its mask.
enum CRC32C {
    static let table: [UInt32] = (0..<256).map { i in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        return c
    }

    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = table[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    /// TFRecord's mask: rotate right by 15 and add a constant (checksums of data holding CRCs stay useful).
    static func masked(_ bytes: [UInt8]) -> UInt32 {
        let c = checksum(bytes)
        return ((c >> 15) | (c << 17)) &+ 0xA282_EAD8
    }
}
