import Foundation
import Synchronization
import TensorCore

// libhdf5 (Debian's 1.10, which users have and Graft cannot patch) can crash or loop forever on a
// damaged file. A file Graft did not write itself is therefore read by a child process - the
// executable again, with a hidden subcommand that calls `readWeightFileInProcess` and streams the
// result back over a pipe - and the child's signal or timeout becomes one clean error naming the file.
// `readWeightFile(path:)` is the one place that decides; own run-folder checkpoints
// (`readNativeCheckpoint(path:)`) take the in-process path.

/// How this process reads weight files it did not write itself.
public struct WeightReadPolicy: Sendable, Equatable {
    /// Keep NaN and infinite weights instead of refusing the file (`--allow-nonfinite-weights`).
    public var allowNonFiniteWeights = false
    /// Read in a child process (`ContainedReader`); nil: in this process.
    public var containment: ContainedReader?

    public init(allowNonFiniteWeights: Bool = false, containment: ContainedReader? = nil) {
        self.allowNonFiniteWeights = allowNonFiniteWeights
        self.containment = containment
    }

    /// The policy the executable installed (in-process, non-finite weights refused, until then).
    public static var installed: WeightReadPolicy { installedPolicy.withLock { $0 } }

    /// Sets the process-wide policy; the executable calls this once at start-up.
    public static func install(_ policy: WeightReadPolicy) { installedPolicy.withLock { $0 = policy } }
}

private let installedPolicy = Mutex(WeightReadPolicy())

/// A child process that reads one weight file: `command + [mode, path]` must run
/// `ContainedReader.serve(arguments:)` (the `finetune` binary's hidden `__read-weights` subcommand).
public struct ContainedReader: Sendable, Equatable {
    /// The executable and leading arguments, e.g. `["/proc/self/exe", "__read-weights"]`.
    public var command: [String]
    /// Seconds a read may take: `baseTimeout` plus one second per `bytesPerSecond` of file.
    public var baseTimeout: Double = 10
    public var bytesPerSecond: Double = 10_000_000   // a slow disk; a healthy read is 10-50x faster

    public init(command: [String]) { self.command = command }

    /// The hidden subcommand's name.
    public static let subcommand = "__read-weights"

    func timeout(fileBytes: Int) -> Double { baseTimeout + Double(fileBytes) / bytesPerSecond }
}

enum ContainedMode: String { case weights, format }

/// One weight file read under `policy`: contained or in-process, then the non-finite check.
func readWeightFile(path: String, policy: WeightReadPolicy) throws -> WeightFile {
    let file: WeightFile
    if let reader = policy.containment {
        file = try readContained(path: path, mode: .weights, reader: reader) { stream in
            // No tensor can hold more than the file's bytes could decode to (see `declaredBytesBound`).
            let size = try HDF5File.checkedSize(path)
            let (bound, overflow) = size.multipliedReportingOverflow(by: HDF5Dataset.maxCompressionRatio)
            return try decodeWeightFile(stream, maxElements: overflow ? Int.max : bound)
        }
    } else {
        file = try readWeightFileInProcess(path: path)
    }
    if !policy.allowNonFiniteWeights { try refuseNonFinite(file) }
    return file
}

/// Detects a file's format under `policy` (the child reads headers only).
func detectWeightFileFormat(path: String, policy: WeightReadPolicy) throws -> WeightFileFormat {
    guard let reader = policy.containment else { return try detectFormat(try HDF5File.open(path).root()) }
    return try readContained(path: path, mode: .format, reader: reader) { stream in
        let raw = String(decoding: try stream.readFrame(), as: UTF8.self)
        guard let format = WeightFileFormat(rawValue: raw) else { throw ContainedStream.Broken() }
        return format
    }
}

/// Refuses NaN and infinite weights, naming the first tensor that holds one.
func refuseNonFinite(_ file: WeightFile) throws {
    for layer in file.layers {
        for t in layer.tensors {
            let bad = t.value.withUnsafeBufferPointer { $0.reduce(0) { $1.isFinite ? $0 : $0 + 1 } }
            if bad > 0 {
                throw WeightIOError(.malformed, file: file.path, layer: layer.name, tensor: t.name,
                                    "\(bad) of \(t.value.count) values are NaN or infinite (pass --allow-nonfinite-weights to load them anyway)")
            }
        }
    }
}

// MARK: parent side

private func readContained<T>(path: String, mode: ContainedMode, reader: ContainedReader,
                              decode: (ContainedStream) throws -> T) throws -> T {
    // Cheap refusals (missing, directory, FIFO, empty, no signature) never need a child.
    let size = try HDF5File.checkedSize(path)
    guard let executable = reader.command.first else {
        throw WeightIOError(.hdf5Failure, file: path, "no reader command configured")
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = Array(reader.command.dropFirst()) + [mode.rawValue, path]
    let output = Pipe()
    // A 1 MiB pipe (Linux's default limit for unprivileged processes) instead of 64 KiB: 16x fewer
    // context switches while hundreds of megabytes of weights stream through.
    let setPipeSize: Int32 = 1031   // F_SETPIPE_SZ, which Glibc does not export to Swift
    _ = fcntl(output.fileHandleForReading.fileDescriptor, setPipeSize, 1 << 20)
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    process.standardInput = FileHandle.nullDevice
    do { try process.run() } catch {
        throw WeightIOError(.hdf5Failure, file: path, "cannot start the reader process \(executable) (\(error))")
    }
    let limit = reader.timeout(fileBytes: size)
    let started = Date()
    let pid = process.processIdentifier
    let timer = DispatchWorkItem { kill(pid, SIGKILL) }
    DispatchQueue.global().asyncAfter(deadline: .now() + limit, execute: timer)
    let stream = ContainedStream(fd: output.fileHandleForReading.fileDescriptor)
    let result: Result<T, Error>
    do {
        try stream.expectStatus()
        result = .success(try decode(stream))
    } catch {
        result = .failure(error)
    }
    if case .failure = result { kill(pid, SIGKILL) }
    process.waitUntilExit()
    timer.cancel()
    try? output.fileHandleForReading.close()
    if process.terminationReason == .uncaughtSignal && process.terminationStatus == SIGKILL
        && Date().timeIntervalSince(started) >= limit {
        throw WeightIOError(.corruptFile, file: path,
                            "the HDF5 library did not finish reading it in \(Int(limit)) s (the file is damaged)")
    }
    switch result {
    case .success(let value) where process.terminationReason == .exit && process.terminationStatus == 0:
        return value
    case .failure(let error as WeightIOError):
        throw error   // the child's own clean error
    default:
        throw WeightIOError(.corruptFile, file: path, "the HDF5 library failed reading it (the file is damaged)")
    }
}

/// Reads the child's frames from a pipe: a status frame (empty: success; else a JSON `WeightIOError`)
/// followed by the mode's payload.
final class ContainedStream {
    struct Broken: Error {}
    let fd: Int32
    init(fd: Int32) { self.fd = fd }

    func readExactly(_ pointer: UnsafeMutableRawPointer, _ count: Int) throws {
        var done = 0
        while done < count {
            let n = read(fd, pointer + done, count - done)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw Broken() }
            done += n
        }
    }

    func readLength() throws -> Int {
        var length: UInt64 = 0
        try readExactly(&length, 8)
        guard length < UInt64(Int.max) else { throw Broken() }
        return Int(UInt64(littleEndian: length))
    }

    func readFrame() throws -> Data {
        let length = try readLength()
        guard length <= 1 << 30 else { throw Broken() }
        var data = Data(count: length)
        if length > 0 { try data.withUnsafeMutableBytes { try readExactly($0.baseAddress!, length) } }
        return data
    }

    func expectStatus() throws {
        let status = try readFrame()
        if status.isEmpty { return }
        throw (try? JSONDecoder().decode(WeightIOError.self, from: status)) ?? Broken()
    }
}

// MARK: child side

extension ContainedReader {
    /// The hidden subcommand: `arguments` are `[mode, path]`. Writes frames to standard output and
    /// returns the exit code (0 also when the file was refused cleanly: the error travels as a frame).
    public static func serve(arguments: [String]) -> Int32 {
        guard arguments.count == 2, let mode = ContainedMode(rawValue: arguments[0]) else { return 2 }
        limitAddressSpace(forFile: arguments[1])
        let out = FrameWriter(fd: STDOUT_FILENO)
        do {
            switch mode {
            case .weights:
                let file = try readWeightFileInProcess(path: arguments[1])
                try out.frame(Data())
                try encodeWeightFile(file, to: out)
            case .format:
                let format = try detectFormat(try HDF5File.open(arguments[1]).root())
                try out.frame(Data())
                try out.frame(Data(format.rawValue.utf8))
            }
        } catch let error as WeightIOError {
            guard let json = try? JSONEncoder().encode(error), (try? out.frame(json)) != nil else { return 1 }
        } catch {
            return 1
        }
        return 0
    }
}

/// Caps the child's address space (4 GiB plus three times the file) so that damaged metadata making
/// libhdf5 allocate without bound ends this process, not the machine's memory.
private func limitAddressSpace(forFile path: String) {
    var info = stat()
    guard stat(path, &info) == 0 else { return }
    let (triple, overflow) = Int(info.st_size).multipliedReportingOverflow(by: 3)
    guard !overflow, triple < Int.max - (4 << 30) else { return }
    let cap = rlim_t(triple + (4 << 30))
    var current = rlimit()
    guard getrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &current) == 0, current.rlim_cur > cap else { return }
    var limit = rlimit(rlim_cur: cap, rlim_max: current.rlim_max)
    _ = setrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &limit)
}

final class FrameWriter {
    let fd: Int32
    init(fd: Int32) { self.fd = fd }

    func write(_ pointer: UnsafeRawPointer, _ count: Int) throws {
        var done = 0
        while done < count {
            let n = Glibc.write(fd, pointer + done, count - done)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw ContainedStream.Broken() }
            done += n
        }
    }

    func length(_ n: Int) throws {
        var length = UInt64(n).littleEndian
        try write(&length, 8)
    }

    func frame(_ data: Data) throws {
        try length(data.count)
        try data.withUnsafeBytes { if $0.count > 0 { try write($0.baseAddress!, $0.count) } }
    }
}

// MARK: the WeightFile on the wire: a JSON frame of everything but the values, then each tensor's
// float32 values in order, read straight into the tensors' storage.

private struct WireTensor: Codable { var name: String; var shape: [Int]; var valueShape: [Int] }
private struct WireLayer: Codable { var name: String; var className: String?; var tensors: [WireTensor] }
private struct WireFile: Codable {
    var format: String; var path: String; var kerasVersion: String?; var backend: String?
    var modelConfigJSON: String?; var attributes: [String: String]; var layers: [WireLayer]
}

func encodeWeightFile(_ file: WeightFile, to out: FrameWriter) throws {
    let wire = WireFile(format: file.format.rawValue, path: file.path, kerasVersion: file.kerasVersion, backend: file.backend,
                        modelConfigJSON: file.modelConfigJSON, attributes: file.attributes,
                        layers: file.layers.map { l in
                            WireLayer(name: l.name, className: l.className,
                                      tensors: l.tensors.map { WireTensor(name: $0.name, shape: $0.shape, valueShape: $0.value.shape) })
                        })
    try out.frame(try JSONEncoder().encode(wire))
    for layer in file.layers {
        for t in layer.tensors {
            try t.value.withUnsafeBufferPointer { if $0.count > 0 { try out.write($0.baseAddress!, $0.count * 4) } }
        }
    }
}

func decodeWeightFile(_ stream: ContainedStream, maxElements: Int) throws -> WeightFile {
    let wire = try JSONDecoder().decode(WireFile.self, from: try stream.readFrame())
    guard let format = WeightFileFormat(rawValue: wire.format) else { throw ContainedStream.Broken() }
    var layers: [LayerWeights] = []
    for l in wire.layers {
        var tensors: [NamedTensor] = []
        for t in l.tensors {
            // The child checked every size against the file; the shape is re-checked before allocating.
            guard let count = checkedProduct(t.valueShape), count <= maxElements else { throw ContainedStream.Broken() }
            var value = Tensor(uninitializedShape: t.valueShape)
            if count > 0 { try stream.readExactly(value.mutablePointer(), count * 4) }
            tensors.append(NamedTensor(name: t.name, shape: t.shape, value: value))
        }
        layers.append(LayerWeights(name: l.name, className: l.className, tensors: tensors))
    }
    return WeightFile(format: format, path: wire.path, kerasVersion: wire.kerasVersion, backend: wire.backend,
                      modelConfigJSON: wire.modelConfigJSON, attributes: wire.attributes, layers: layers)
}
