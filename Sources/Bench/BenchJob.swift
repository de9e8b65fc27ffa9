import Foundation
import NN
import TensorCore
import Training
import Zoo

/// The workloads of `finetune bench` (issue #7). Every workload is defined identically in
/// scripts/bench_peers.py (PyTorch and Keras); see that file's docstring for the peer side.
public enum BenchWorkload: String, CaseIterable, Sendable, Codable {
    /// VGG16 224px with top (keras.applications shape), inference, batch 16.
    case vgg16Infer = "vgg16-infer"
    /// VGG16 conv trunk (no top, no BatchNorm) frozen + Flatten + Dense(3) trained: one SGD step, batch 16.
    case vgg16Frozen = "vgg16-frozen"
    /// VGG16 224px with top, full training step, batch 16.
    case vgg16Train = "vgg16-train"
    /// ResNet50 (keras.applications v1) 224px inference, batch 16.
    case resnet50Infer = "resnet50-infer"
    /// ResNet50 full training step, batch 16.
    case resnet50Train = "resnet50-train"
    /// MobileNetV2 (keras.applications, alpha 1.0) 224px with top, inference, batch 16.
    case mobilenetv2Infer = "mobilenetv2-infer"
    /// MobileNetV2 alpha 1.0 224px with top, full training step, batch 16.
    case mobilenetv2Train = "mobilenetv2-train"
    /// InceptionV3 (keras.applications) 299px with top, inference, batch 16.
    case inceptionv3Infer = "inceptionv3-infer"
    /// LeNet-5 28px (zoo `lenet5`: tanh, average pooling), training step, batch 64.
    case lenet5Train = "lenet5-train"
    /// ResNet-20 CIFAR (He et al. 2015, option-A shortcuts), 32px, training step, batch 64.
    case resnet20Train = "resnet20-train"
    /// Whole frozen-trunk fine-tune, 10 epochs over 600 images at 224px: Graft runs the trunk once and
    /// trains the head on cached features; peers recompute the trunk every epoch.
    case vgg16Cached = "vgg16-cached"

    public var batch: Int { self == .lenet5Train || self == .resnet20Train ? 64 : 16 }
    public var isInference: Bool { [.vgg16Infer, .resnet50Infer, .mobilenetv2Infer, .inceptionv3Infer].contains(self) }
    /// Input side of the ImageNet-shaped workloads (InceptionV3's own 299, else 224).
    public var inputSize: Int { self == .inceptionv3Infer ? 299 : 224 }

    /// The zoo model of the 224px ImageNet-shaped workloads (with top, 1000 classes).
    public var zooName: String? {
        switch self {
        case .vgg16Infer, .vgg16Train, .vgg16Frozen, .vgg16Cached: "vgg16"
        case .resnet50Infer, .resnet50Train: "resnet50"
        case .mobilenetv2Infer, .mobilenetv2Train: "mobilenetv2"
        case .inceptionv3Infer: "inceptionv3"
        case .lenet5Train, .resnet20Train: nil
        }
    }

    public var title: String {
        switch self {
        case .vgg16Infer: "VGG16 224 inference"
        case .vgg16Frozen: "VGG16 224 frozen trunk + 3-class head, step"
        case .vgg16Train: "VGG16 224 full training"
        case .resnet50Infer: "ResNet50 224 inference"
        case .resnet50Train: "ResNet50 224 full training"
        case .mobilenetv2Infer: "MobileNetV2 224 inference"
        case .mobilenetv2Train: "MobileNetV2 224 full training"
        case .inceptionv3Infer: "InceptionV3 299 inference"
        case .lenet5Train: "LeNet-5 28 training"
        case .resnet20Train: "ResNet-20 CIFAR 32 training"
        case .vgg16Cached: "VGG16 fine-tune 10 ep x 600 img (cached)"
        }
    }

    /// Issue #7's earlier reference numbers on this machine kind (TF 2.21 oneDNN, PyTorch 1.13), img/s.
    public var reference: (tf: Double, torch: Double)? {
        switch self {
        case .vgg16Infer: (4.6, 3.2)
        case .vgg16Frozen: (5.0, 3.2)
        case .vgg16Train: (1.0, 1.0)
        case .resnet50Infer: (11.8, 11.8)
        case .resnet50Train: (3.7, 3.2)
        case .lenet5Train: (8700, 6700)
        case .resnet20Train: (344, 266)
        case .vgg16Cached, .mobilenetv2Infer, .mobilenetv2Train, .inceptionv3Infer: nil
        }
    }

    /// The default order of `bench all`: cheap workloads first, so a cut-short run still has them.
    public static let defaultOrder: [BenchWorkload] = [
        .lenet5Train, .resnet20Train, .mobilenetv2Infer, .resnet50Infer, .inceptionv3Infer, .vgg16Infer, .vgg16Frozen, .vgg16Cached,
        .mobilenetv2Train, .resnet50Train, .vgg16Train,
    ]

    /// Images of the cached fine-tune and its epochs.
    public static let cachedImages = 600, cachedEpochs = 10
}

/// One run of one workload in one framework (also the JSON line a child process or bench_peers.py prints).
public struct BenchMeasurement: Codable, Sendable {
    public var framework: String
    public var workload: String
    public var batch: Int
    public var version: String?
    /// Median step (or batch) seconds over the measured iterations.
    public var seconds: Double?
    public var img_s: Double?
    public var times: [Double]?
    /// Peak resident set of the process (ru_maxrss), MiB.
    public var rss_mb: Double?
    /// Whole-job seconds (vgg16-cached only).
    public var total_seconds: Double?
    /// Floating-point operations of one measured step (Graft only; the same models, so peers share it).
    public var gflop_per_step: Double?
    /// Number format the run computed in (Graft: `--precision`; OpenVINO: its inference precision).
    public var precision: String?
    public var note: String?
    public var skipped: String?

    public init(framework: String, workload: String, batch: Int) {
        self.framework = framework; self.workload = workload; self.batch = batch
    }

    /// Throughput used in the table: img/s, or for the cached fine-tune 6000 images / whole-job seconds.
    public var rate: Double? {
        if let t = total_seconds, t > 0 { return Double(BenchWorkload.cachedImages * BenchWorkload.cachedEpochs) / t }
        return img_s
    }
}

public enum BenchJob {
    // MARK: - Graft side (runs in a child process: one workload, so ru_maxrss is per workload)

    /// Runs `workload` in this process and returns its measurement. `iterations` measured steps after
    /// `warmup` unmeasured ones; the step time is the median. Inference workloads and frozen trunks run
    /// through `InferencePlan` (oneDNN chain) unless `inference.plan` is off (`--no-plan`): then the
    /// ordinary module forward is timed.
    public static func runGraft(_ workload: BenchWorkload, threads: Int, iterations: Int, warmup: Int,
                                inference: InferenceOptions = InferenceOptions()) throws -> BenchMeasurement {
        let useInferencePlan = inference.plan
        Threads.count = max(1, threads)
        var m = BenchMeasurement(framework: "graft", workload: workload.rawValue, batch: workload.batch)
        m.version = "graft"
        let b = workload.batch
        var rng = SeededRandom(seed: 7)
        let iters = max(1, iterations)

        func inputs(_ shape: [Int], classes: Int) -> (Tensor, [Int]) {
            let x = Tensor.uniform(shape, limit: 1, rng: &rng)
            let y = (0..<shape[0]).map { _ in Int(rng.next() % UInt64(classes)) }
            return (x, y)
        }

        switch workload {
        case .vgg16Infer, .resnet50Infer, .mobilenetv2Infer, .inceptionv3Infer:
            let side = workload.inputSize
            let model = try Zoo.build(workload.zooName!, ZooOptions(inputSize: side, classCount: 1000))
            model.setTraining(false)
            let macs = try BenchFLOPs.forwardMACs(model, [3, side, side]).macs
            m.gflop_per_step = 2 * macs * Double(b) / 1e9
            let (x, _) = inputs([b, 3, side, side], classes: 1000)
            let times: [Double]
            if useInferencePlan {
                // Built (weights snapshot) before timing; the first warm-up call compiles for batch 16.
                let plan = InferencePlan(model, options: inference)
                times = measure(warmup: max(1, warmup), iterations: iters) { _ = plan(x) }
                m.note = "inference plan (oneDNN chain): \(plan.nativeLayerCount) native layers, modules: \(plan.moduleLayers.joined(separator: " "))"
                    + "; convolutions \(plan.convPaths(batch: b))"
                m.precision = inference.precision.rawValue
            } else {
                times = measure(warmup: warmup, iterations: iters) {
                    withoutGradients { _ = model(Var(x)) }
                }
            }
            m.record(times, batch: b)

        case .vgg16Train, .resnet50Train, .mobilenetv2Train, .lenet5Train, .resnet20Train:
            let model: any Layer
            let shape: [Int], classes: Int
            switch workload {
            case .lenet5Train:
                model = try Zoo.build("lenet5", ZooOptions(inputSize: 28, classCount: 10, classifierActivation: .linear))
                shape = [1, 28, 28]; classes = 10
            case .resnet20Train:
                model = BenchResNet20(classes: 10)
                shape = [3, 32, 32]; classes = 10
            default:
                model = try Zoo.build(workload.zooName!,
                                      ZooOptions(inputSize: 224, classCount: 1000, classifierActivation: .linear))
                shape = [3, 224, 224]; classes = 1000
            }
            model.setTraining(true)
            let macs = try BenchFLOPs.forwardMACs(model, shape).macs
            // forward + backward-data + backward-weights ~ 3x the forward MACs, x2 FLOPs per MAC
            m.gflop_per_step = 3 * 2 * macs * Double(b) / 1e9
            let (x, y) = inputs([b] + shape, classes: classes)
            let times = trainingSteps(model, x: x, labels: y, warmup: warmup, iterations: iters)
            m.record(times, batch: b)

        case .vgg16Frozen:
            let model = try frozenVGG16()
            let t = try BenchFLOPs.forwardMACs(model.trunk, [3, 224, 224])
            let h = try BenchFLOPs.forwardMACs(model.head, t.shape)
            m.gflop_per_step = (2 * t.macs + 6 * h.macs) * Double(b) / 1e9
            let (x, y) = inputs([b, 3, 224, 224], classes: 3)
            let times: [Double]
            if useInferencePlan {
                // Frozen trunk: inference plan (no tape); head: forward + backward on the tape.
                model.trunk.setTraining(false)
                let trunk = InferencePlan(model.trunk, inputShape: [3, 224, 224], options: inference)
                let head = model.head
                let params = head.namedParameters().filter { $0.1.requiresGrad }
                var opt = SGD(momentum: 0.9)
                times = measure(warmup: max(1, warmup), iterations: iters) {
                    let features = trunk(x)
                    for (_, p) in params { p.zeroGrad() }
                    let loss = softmaxCrossEntropy(logits: head(Var(features)), labels: y)
                    loss.backward()
                    opt.step(params, lr: 0.001)
                }
                m.note = "trunk: inference plan; head: tape"
            } else {
                times = trainingSteps(model, x: x, labels: y, warmup: warmup, iterations: iters)
            }
            m.record(times, batch: b)

        case .vgg16Cached:
            // 1) trunk once over the 600 images: timed on `iterations` batches of 16 (median), scaled to 600
            //    images; 2) 10 epochs of the head on 600 cached feature rows, run for real (shuffled batches).
            let model = try frozenVGG16()
            let t = try BenchFLOPs.forwardMACs(model.trunk, [3, 224, 224])
            let h = try BenchFLOPs.forwardMACs(model.head, t.shape)
            let n = BenchWorkload.cachedImages, epochs = BenchWorkload.cachedEpochs
            m.gflop_per_step = 2 * t.macs * Double(b) / 1e9
            let (x, _) = inputs([b, 3, 224, 224], classes: 3)
            model.trunk.setTraining(false)
            let trunkTimes: [Double]
            if useInferencePlan {
                let trunk = InferencePlan(model.trunk, inputShape: [3, 224, 224], options: inference)
                trunkTimes = measure(warmup: max(1, warmup), iterations: iters) { _ = trunk(x) }
            } else {
                trunkTimes = measure(warmup: warmup, iterations: iters) {
                    withoutGradients { _ = model.trunk(Var(x)) }
                }
            }
            let perImage = benchMedian(trunkTimes) / Double(b)
            let features = Tensor.uniform([n] + t.shape, limit: 1, rng: &rng)
            let labels = (0..<n).map { _ in Int(rng.next() % 3) }
            let featureSize = t.shape.reduce(1, *)
            let head = model.head
            let params = head.namedParameters().filter { $0.1.requiresGrad }
            var opt = SGD(momentum: 0.9)
            let t0 = now()
            for _ in 0..<epochs {
                var order = Array(0..<n)
                order.shuffle(using: &rng)
                var start = 0
                while start < n {
                    let rows = order[start..<min(n, start + b)]
                    var xb = Tensor(uninitializedShape: [rows.count] + t.shape)
                    let dst = xb.mutablePointer(), src = features.pointer
                    for (i, r) in rows.enumerated() {
                        (dst + i * featureSize).update(from: src + r * featureSize, count: featureSize)
                    }
                    for (_, p) in params { p.zeroGrad() }
                    let loss = softmaxCrossEntropy(logits: head(Var(xb)), labels: rows.map { labels[$0] })
                    loss.backward()
                    opt.step(params, lr: 0.001)
                    start += b
                }
            }
            let headSeconds = now() - t0
            m.times = trunkTimes
            m.seconds = benchMedian(trunkTimes)
            m.img_s = 1 / perImage
            m.total_seconds = perImage * Double(n) + headSeconds
            m.note = String(format: "trunk %.1f s (median of %d batches x 600/16) + head 10 epochs %.2f s (run); head %.2f MFLOP/img",
                            perImage * Double(n), iters, headSeconds, 6 * h.macs / 1e6)
        }
        m.rss_mb = peakRSSMiB()
        return m
    }

    /// VGG16 conv trunk (keras.applications, no top) frozen + Flatten + Dense(3) with logits out.
    static func frozenVGG16() throws -> ZooModel {
        let model = try Zoo.build("vgg16", ZooOptions(inputSize: 224, classCount: 1000, includeTop: false))
        model.freezeTrunk()
        try model.rebuildHead(classCount: 3, pooling: .flatten, dropout: 0, classifierActivation: .linear)
        return model
    }

    /// forward + softmax cross-entropy + backward + SGD(momentum 0.9) step. The parameter list is
    /// reflected once, not every step (Trainer re-reflects `namedParameters()` per step).
    static func trainingSteps(_ model: any Layer, x: Tensor, labels: [Int], warmup: Int, iterations: Int) -> [Double] {
        let params = model.namedParameters().filter { $0.1.requiresGrad }
        var opt = SGD(momentum: 0.9)
        return measure(warmup: warmup, iterations: iterations) {
            for (_, p) in params { p.zeroGrad() }
            let loss = softmaxCrossEntropy(logits: model(Var(x)), labels: labels)
            loss.backward()
            opt.step(params, lr: 0.001)
        }
    }

    static func measure(warmup: Int, iterations: Int, _ body: () -> Void) -> [Double] {
        for _ in 0..<max(0, warmup) { body() }
        return (0..<iterations).map { _ in
            let t0 = now()
            body()
            return now() - t0
        }
    }

    // MARK: - Machine facts

    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    public static func peakRSSMiB() -> Double {
        var u = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
        return Double(u.ru_maxrss) / 1024   // Linux: KiB
    }

    public static func loadAverage() -> String {
        ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").prefix(3).joined(separator: " ")
    }

    public static func cpuModel() -> String {
        let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let name = info.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { String($0.split(separator: ":", maxSplits: 1).last ?? "").trimmingCharacters(in: .whitespaces) } ?? "?"
        return "\(name), \(RuntimeEnvironment.processorCount) logical CPUs"
    }

    /// Measured FMA peak of `threads` threads, GFLOP/s: the best of `repeats` probes of ~0.1-0.3 s each
    /// (a peak is a ceiling: on a shared machine the least-disturbed probe is the closest to it).
    public static func fmaPeakGFLOPs(threads: Int, repeats: Int = 7, iterations: Int = 8_000_000) -> Double {
        Threads.count = max(1, threads)
        _ = FMAProbe.gflops(threads: threads, iterations: iterations / 10)
        let v: [Double] = (0..<max(1, repeats)).map { _ in FMAProbe.gflops(threads: threads, iterations: iterations) }
        return v.max() ?? .nan
    }
}

extension BenchMeasurement {
    mutating func record(_ times: [Double], batch: Int) {
        self.times = times
        seconds = benchMedian(times)
        img_s = Double(batch) / seconds!
    }
}

func benchMedian(_ v: [Double]) -> Double {
    guard !v.isEmpty else { return .nan }
    let s = v.sorted(), n = s.count
    return n % 2 == 1 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2])
}
