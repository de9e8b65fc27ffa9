// `graft-bench loader`: image-loader throughput, Graft vs Pillow + NumPy (issue #5 item 5).
//
//   swift build -c release --product graft-bench
//   .build/release/graft-bench loader [--data PATH] [--epochs 3] [--rounds 3] [--python PATH]
//                                     [--workers 2] [--no-python] [--python-configs LIST] [--limit N]
//
// Workload (the same as scripts/bench_loader_pillow.py; keep the two in step): every PNG and JPEG of
// DATA/train and DATA/val (hymenoptera: 397 PNGs, shorter side <= 144 px; a JPEG set from
// scripts/make_jpeg_bench_folder.py); per epoch a seeded shuffle, batches of 32 (the last one
// partial); per sample: read + decode the file from disk (JPEGs at libjpeg's DCT reduction that
// keeps both sides >= 448, Pillow's "-draft" configs the same; no
// cache), RandomResizedCrop (scale 0.08-1, ratio 3/4-4/3) to 224x224 bilinear (antialiased when
// shrinking), horizontal flip p=0.5, brightness then contrast jitter 0.2, torch mean/std
// normalisation into a float32 NCHW batch. 1 warm-up epoch, then `--epochs` timed epochs.
// Graft: BatchLoader with `--workers` threads. A second Graft line uses the decoded-image cache
// (decoded once before the warm-up; setup not timed) and is labelled as such: it skips the PNG
// decoding Pillow does every epoch, so it is not the like-for-like number.
// Runs alternate (Graft, Graft cached, Python, Graft, ...) for `--rounds` rounds; the table
// shows medians, so load from other processes hits both sides alike. It also shows images per
// CPU-second (getrusage here, process_time in Python), which other load disturbs much less.
// Python: scripts/bench_loader_pillow.py (`--python` picks the interpreter, default python3); when
// it, Pillow or NumPy is missing, a note is printed and only Graft's numbers.
//
// Diagnostics: `--profile` (single-thread CPU ms/image per stage), `--check-augment` (hash of augmenter
// outputs; compare with GRAFT_AUGMENT_FUSED=0 or --no-fused-augment).
//
// Needs "ImageIO" in the graft-bench target's dependencies (Package.swift); without it this file
// compiles to a stub that says so.

import Foundation

// CPNG too: a scratch folder can hold a built ImageIO module that this target does not depend on;
// CPNG's module map is only visible to targets that (transitively) depend on ImageIO.
#if canImport(ImageIO) && canImport(CPNG)
import ImageIO
import TensorCore

enum LoaderBench {
    struct Options {
        var data: String?
        var epochs = 3
        var rounds = 3
        var workers = 2
        var batch = 32
        var seed: UInt64 = 0
        var python = "python3"
        var runPython = true
        var pythonConfigs = "single-pil,single-numpy,pool-pil,pool-numpy"
        var script: String?
        var limit = 0
        var profile = false
        var checkAugment = false
    }

    static func parse(_ args: [String]) -> Options {
        var o = Options()
        var i = 0
        func value() -> String {
            guard i + 1 < args.count else { usage("missing value after \(args[i])") }
            i += 1
            return args[i]
        }
        func int(_ s: String) -> Int {
            guard let v = Int(s), v >= 0 else { usage("not a count: \(s)") }
            return v
        }
        while i < args.count {
            switch args[i] {
            case "--data": o.data = value()
            case "--epochs": o.epochs = max(1, int(value()))
            case "--rounds": o.rounds = max(1, int(value()))
            case "--workers": o.workers = max(1, int(value()))
            case "--batch": o.batch = max(1, int(value()))
            case "--seed": o.seed = UInt64(int(value()))
            case "--python": o.python = value()
            case "--no-python": o.runPython = false
            case "--python-configs": o.pythonConfigs = value()
            case "--script": o.script = value()
            case "--limit": o.limit = int(value())
            case "--profile": o.profile = true
            case "--check-augment": o.checkAugment = true
            case "--threads": _ = value()   // handled by main.swift (Threads.count)
            case "--no-fused-augment": break   // handled by main.swift (RuntimeOptions.fusedAugment)
            default: usage("unknown option \(args[i])")
            }
            i += 1
        }
        return o
    }

    static func usage(_ why: String) -> Never {
        FileHandle.standardError.write(Data("graft-bench loader: \(why)\n".utf8))
        print("usage: graft-bench loader [--data PATH] [--epochs 3] [--rounds 3] [--workers 2] [--python PATH] "
              + "[--no-python] [--python-configs single-pil,single-numpy,pool-pil,pool-numpy] [--limit N]")
        exit(2)
    }

    /// This source file's repository root (for defaults when run from elsewhere).
    static var repoRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    static func firstExisting(_ candidates: [String]) -> String? {
        candidates.first { FileManager.default.fileExists(atPath: $0) }
    }

    static func loadAverage() -> String {
        guard let s = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return "?" }
        return s.split(separator: " ").prefix(3).joined(separator: " ")
    }

    static func seconds() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }

    /// CPU time of the calling thread: what `--profile` reports, since other load on the machine
    /// stretches wall-clock stage times but hardly this.
    static func threadSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    static func median(_ v: [Double]) -> Double {
        let s = v.sorted()
        guard !s.isEmpty else { return .nan }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    static func fmt(_ x: Double, _ d: Int = 1) -> String { x.isFinite ? String(format: "%.\(d)f", x) : "-" }

    // MARK: Graft side

    static let preprocessing = ImagePreprocessing(width: 224, height: 224, resize: .centerCrop, pixelFormat: .rgb,
                                             normalization: .torch, antialias: true)
    static var augmentation: AugmentationConfig {
        var a = AugmentationConfig()
        a.randomResizedCrop = true
        a.cropScale = Interval(0.08, 1)
        a.cropRatio = Interval(3.0 / 4.0, 4.0 / 3.0)
        a.horizontalFlip = 0.5
        a.brightness = 0.2
        a.contrast = 0.2
        return a
    }

    /// train + val of a folder with `train/` and `val/` class folders, sorted by path.
    static func dataset(_ root: URL, limit: Int) throws -> ImageFolderDataset {
        let options = DatasetOptions(verifyImages: false)
        let (train, validation) = try ImageFolderDataset.trainValidation(root: root, options: options)
        var samples = (train.samples + validation.samples).sorted { $0.file.path < $1.file.path }
        if limit > 0 { samples = Array(samples.prefix(limit)) }
        return ImageFolderDataset(root: root, classNames: train.classNames, samples: samples)
    }

    /// CPU time (user + system) of this process, all threads.
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(0, &usage)   // RUSAGE_SELF
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6
    }

    struct Rate { var perSecond: Double, perCPUSecond: Double, images: Int, seconds: Double }

    /// images/s (and images per CPU-second) over `epochs` timed epochs after one warm-up epoch.
    static func graftRate(_ loader: BatchLoader, epochs: Int) throws -> Rate {
        _ = try loader.measureThroughput(epochs: 1, firstEpoch: 0)
        let cpu = cpuSeconds()
        let run = try loader.measureThroughput(epochs: epochs, firstEpoch: 1)
        let used = cpuSeconds() - cpu
        return Rate(perSecond: run.imagesPerSecond, perCPUSecond: Double(run.images) / used, images: run.images,
                    seconds: run.seconds)
    }

    /// Single-threaded per-stage CPU times (ms per image, median over epochs) for finding hot spots.
    static func profile(_ ds: ImageFolderDataset, epochs: Int, fused: Bool) throws {
        let augmenter = try Augmenter(config: augmentation, preprocessing: preprocessing, fused: fused)
        let out = UnsafeMutablePointer<Float>.allocate(capacity: preprocessing.sampleSize)
        defer { out.deallocate() }
        var read: [Double] = [], samples: [Double] = [], convert: [Double] = [], augment: [Double] = [], whole: [Double] = []
        for epoch in 0...epochs {
            var tr = 0.0, ts = 0.0, tc = 0.0, ta = 0.0, tw = 0.0
            for (i, s) in ds.samples.enumerated() {
                let t0 = threadSeconds()
                let bytes = try Data(contentsOf: s.file)
                let t1 = threadSeconds()
                let decoded = try PNGDecoder.decodeSamples(file: s.file, colorKeyToAlpha: true)
                let t2 = threadSeconds()
                let image = decoded.image(as: .rgb)
                let t3 = threadSeconds()
                var rng = SeededRandom(dataSeed: 0, stream: UInt64(epoch), UInt64(i))
                augmenter.apply(image, rng: &rng, into: out)
                let t4 = threadSeconds()
                let again = try PNGDecoder.decode(file: s.file, as: .rgb)
                augmenter.apply(again, rng: &rng, into: out)
                let t5 = threadSeconds()
                tr += t1 - t0; ts += t2 - t1; tc += t3 - t2; ta += t4 - t3; tw += t5 - t4
                withExtendedLifetime(bytes) {}
            }
            if epoch == 0 { continue }
            let n = Double(ds.count) / 1e3
            read.append(tr / n); samples.append(ts / n); convert.append(tc / n); augment.append(ta / n); whole.append(tw / n)
        }
        print("single thread, CPU ms/image (median of \(epochs) epochs): read file \(fmt(median(read), 3)), "
              + "decodeSamples(file:) incl. read \(fmt(median(samples), 3)), to RGB \(fmt(median(convert), 3)), "
              + "augment+normalise \(fmt(median(augment), 3)); decode(file:)+augment \(fmt(median(whole), 3)) "
              + "=> \(fmt(1000 / median(whole))) img/s/thread")
    }

    /// A hash of Augmenter outputs over the dataset for several configurations; compare the line
    /// printed with GRAFT_AUGMENT_FUSED=0 (or --no-fused-augment) and without (the fused path must be
    /// bit-identical).
    static func checkAugment(_ ds: ImageFolderDataset, fused: Bool) throws {
        var configs: [(String, AugmentationConfig, ImagePreprocessing)] = [("bench", augmentation, preprocessing)]
        var v = augmentation; v.verticalFlip = 0.5; v.horizontalFlip = 0.3
        configs.append(("vflip", v, preprocessing))
        var caffe = preprocessing; caffe.normalization = .caffe
        configs.append(("caffe", v, caffe))
        var gray = preprocessing; gray.pixelFormat = .gray; gray.normalization = .scale
        configs.append(("gray", v, gray))
        var noContrast = augmentation; noContrast.contrast = 0; noContrast.erasing = 0.5
        configs.append(("nocontrast+erase", noContrast, preprocessing))
        var noCrop = augmentation; noCrop.randomResizedCrop = false; noCrop.brightness = 0
        var small = preprocessing; small.width = 32; small.height = 40; small.resizeShorterSide = 48
        configs.append(("center-small", noCrop, small))
        var line = "check-augment:"
        let images = try ds.samples.prefix(120).map { try ImageDecoder.decode(file: $0.file) }
        for (name, config, pre) in configs {
            let augmenter = try Augmenter(config: config, preprocessing: pre, fused: fused)
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for (i, image) in images.enumerated() {
                for e in 0..<3 {
                    var rng = SeededRandom(dataSeed: 7, stream: UInt64(e), UInt64(i))
                    let t = augmenter.apply(image, seed: rng.next())
                    for x in t.scalars { hash = (hash ^ UInt64(x.bitPattern)) &* 0x100_0000_01b3 }
                }
            }
            line += " \(name)=\(String(hash, radix: 16))"
        }
        print(line)
    }

    // MARK: Python side

    enum PythonOutcome {
        case results([String: (Double, Double)], versions: String)
        case unavailable(String)
    }

    static func runPython(_ o: Options, script: String, data: String) -> PythonOutcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        var args = [o.python, script, "--data", data, "--epochs", "\(o.epochs)", "--workers", "\(o.workers)",
                    "--seed", "\(o.seed)", "--configs", o.pythonConfigs, "--json"]
        if o.limit > 0 { args += ["--limit", "\(o.limit)"] }
        process.arguments = args
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        do { try process.run() } catch { return .unavailable("could not start \(o.python): \(error)") }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: stdout, as: UTF8.self)
        let status = process.terminationStatus
        if status == 127 { return .unavailable("\(o.python) not found") }
        if status == 3 {
            let note = text.split(separator: "\n").first { $0.hasPrefix("NOTE") }.map(String.init) ?? "Pillow/NumPy missing"
            return .unavailable(note)
        }
        guard status == 0 else {
            let tail = String(decoding: stderr, as: UTF8.self).split(separator: "\n").suffix(3).joined(separator: " | ")
            return .unavailable("\(o.python) \(script) exited with status \(status): \(tail)")
        }
        var rates: [String: (Double, Double)] = [:], versions = ""
        for line in text.split(separator: "\n") where line.hasPrefix("RESULT ") {
            guard let json = try? JSONSerialization.jsonObject(with: Data(line.dropFirst(7).utf8)) as? [String: Any],
                  let config = json["config"] as? String, let rate = json["images_per_s"] as? Double,
                  let perCPU = json["images_per_cpu_s"] as? Double else { continue }
            rates[config] = (rate, perCPU)
            versions = "Python \(json["python"] ?? "?"), Pillow \(json["pillow"] ?? "?"), NumPy \(json["numpy"] ?? "?")"
        }
        return rates.isEmpty ? .unavailable("no RESULT lines from \(script)") : .results(rates, versions: versions)
    }

    // MARK: main

    static func main(_ args: [String], runtime: RuntimeOptions) {
        let o = parse(args)
        let cwd = FileManager.default.currentDirectoryPath
        guard let data = o.data ?? firstExisting([cwd + "/../shared/data/hymenoptera",
                                                  repoRoot.path + "/../shared/data/hymenoptera"]) else {
            usage("no --data given and ../shared/data/hymenoptera not found")
        }
        let script = o.script ?? firstExisting([cwd + "/scripts/bench_loader_pillow.py",
                                                repoRoot.path + "/scripts/bench_loader_pillow.py"])
        let root = URL(fileURLWithPath: data)
        let ds: ImageFolderDataset
        let cache: DecodedImageCache
        let plain: BatchLoader, cached: BatchLoader
        do {
            ds = try dataset(root, limit: o.limit)
            cache = try DecodedImageCache(dataset: ds, pixelFormat: .rgb,
                                          maxShorterSide: DecodedImageCache.defaultMaxShorterSide(for: preprocessing),
                                          options: DatasetOptions(verifyImages: false))
            plain = try BatchLoader(dataset: ds, preprocessing: preprocessing, augmentation: augmentation,
                                    batchSize: o.batch, shuffle: true, seed: o.seed, workers: o.workers,
                                    fusedAugment: runtime.fusedAugment)
            cached = try BatchLoader(cache: cache, preprocessing: preprocessing, augmentation: augmentation,
                                     batchSize: o.batch, shuffle: true, seed: o.seed, workers: o.workers,
                                     fusedAugment: runtime.fusedAugment)
        } catch {
            print("graft-bench loader: \(error)")
            exit(1)
        }

        do {
            if o.profile { try profile(ds, epochs: o.epochs, fused: runtime.fusedAugment); return }
            if o.checkAugment { try checkAugment(ds, fused: runtime.fusedAugment); return }
        } catch {
            print("graft-bench loader: \(error)")
            exit(1)
        }
        let loadBefore = loadAverage()
        print("graft-bench loader: \(ds.count) images from \(root.standardizedFileURL.path) (train+val), "
              + "\(ds.classCount) classes")
        print("workload per epoch: shuffle; per image: read+decode PNG/JPEG from disk, RandomResizedCrop(scale 0.08-1, "
              + "ratio 3/4-4/3) -> 224x224 bilinear (antialiased when shrinking), hflip p=0.5, brightness 0.2 then "
              + "contrast 0.2 jitter, torch mean/std normalise -> float32 NCHW batch of \(o.batch) (last partial)")
        print("timing: 1 warm-up epoch + \(o.epochs) timed epochs per run; \(o.rounds) alternating rounds "
              + "(Graft, Graft cached, Python); medians. Graft: BatchLoader, \(o.workers) worker threads, "
              + "CPU cores online: \(RuntimeEnvironment.processorCount)")
        print("load average at start: \(loadBefore)")

        var pythonNote: String? = o.runPython ? nil : "Python peer skipped (--no-python)"
        if o.runPython, script == nil { pythonNote = "Python peer skipped: scripts/bench_loader_pillow.py not found (use --script)" }
        var graft: [Double] = [], graftCached: [Double] = [], python: [String: [Double]] = [:]
        var graftCPU: [Double] = [], graftCachedCPU: [Double] = [], pythonCPU: [String: [Double]] = [:]
        var versions = ""
        for round in 1...o.rounds {
            do {
                let g = try graftRate(plain, epochs: o.epochs)
                graft.append(g.perSecond); graftCPU.append(g.perCPUSecond)
                let c = try graftRate(cached, epochs: o.epochs)
                graftCached.append(c.perSecond); graftCachedCPU.append(c.perCPUSecond)
                var line = "round \(round): graft \(fmt(g.perSecond)) img/s (\(g.images) in \(fmt(g.seconds, 3)) s, "
                    + "\(fmt(g.perCPUSecond)) img/CPU-s), graft cached \(fmt(c.perSecond)) img/s"
                if pythonNote == nil, let script {
                    switch runPython(o, script: script, data: data) {
                    case .results(let rates, let v):
                        versions = v
                        for (k, r) in rates { python[k, default: []].append(r.0); pythonCPU[k, default: []].append(r.1) }
                        line += ", " + rates.keys.sorted().map { "\($0) \(fmt(rates[$0]!.0))" }.joined(separator: ", ")
                    case .unavailable(let why):
                        pythonNote = "Python peer skipped: \(why)"
                    }
                }
                print(line + "  [load \(loadAverage())]")
                fflush(nil)
            } catch {
                print("graft-bench loader: \(error)")
                exit(1)
            }
        }

        let loadAfter = loadAverage()
        print("")
        print("| loader | images/s (median of \(o.rounds)) | runs | vs best Pillow | images/CPU-s (median) | vs best Pillow |")
        print("|---|---:|---|---:|---:|---:|")
        let best = python.max { median($0.value) < median($1.value) }
        let bestRate = best.map { median($0.value) } ?? .nan
        let bestCPU = pythonCPU.values.map { median($0) }.max() ?? .nan
        func ratio(_ r: Double, _ to: Double) -> String { to.isFinite ? fmt(r / to, 2) + "x" : "-" }
        func runs(_ v: [Double]) -> String { v.map { fmt($0, 0) }.joined(separator: " ") }
        print("| Graft BatchLoader, \(o.workers) threads, decode every epoch | \(fmt(median(graft))) | \(runs(graft)) | "
              + "**\(ratio(median(graft), bestRate))** | \(fmt(median(graftCPU))) | \(ratio(median(graftCPU), bestCPU)) |")
        print("| Graft BatchLoader, \(o.workers) threads, decoded-image cache (no decode; not like-for-like) | "
              + "\(fmt(median(graftCached))) | \(runs(graftCached)) | \(ratio(median(graftCached), bestRate)) | "
              + "\(fmt(median(graftCachedCPU))) | \(ratio(median(graftCachedCPU), bestCPU)) |")
        for (k, v) in python.sorted(by: { $0.key < $1.key }) {
            let mark = k == best?.key ? " (best: the peer)" : ""
            let cpu = median(pythonCPU[k] ?? [])
            print("| Pillow+NumPy \(k)\(mark) | \(fmt(median(v))) | \(runs(v)) | \(ratio(median(v), bestRate)) | "
                  + "\(fmt(cpu)) | \(ratio(cpu, bestCPU)) |")
        }
        print("")
        if let pythonNote {
            print("NOTE: \(pythonNote); Graft numbers only.")
        } else if let best {
            print("peer: Pillow+NumPy \(best.key) (\(versions)); Graft/Pillow = \(ratio(median(graft), bestRate)) "
                  + "(target >= 2x on 2 cores: \(median(graft) / bestRate >= 2 ? "met" : "NOT met")); "
                  + "per CPU-second vs the most CPU-efficient Pillow config: \(ratio(median(graftCPU), bestCPU))")
        }
        print("load average at start / end: \(loadBefore) / \(loadAfter)")
    }
}

func loaderBenchmark(_ args: [String], runtime: RuntimeOptions) { LoaderBench.main(args, runtime: runtime) }
#else
/// Built without the ImageIO module (graft-bench's Package.swift dependencies lack "ImageIO").
func loaderBenchmark(_ args: [String], runtime: RuntimeOptions) {
    print("graft-bench loader: this graft-bench was built without ImageIO; add \"ImageIO\" to the graft-bench "
          + "target's dependencies in Package.swift and rebuild")
    exit(2)
}
#endif
