import Foundation
import NN
import TensorCore
import Zoo

extension BenchJob {
    /// Inference time of a zoo model split by layer kind (Conv2D, BatchNorm, ReLU, pooling, residual add,
    /// dense, other), walking the trunk and head layer by layer exactly as `ZooModel.callAsFunction`
    /// does. Median over `iterations` passes after `warmup`. For finding where a model's time goes
    /// (`finetune bench --profile resnet50-infer`).
    public static func profileInference(_ workload: BenchWorkload, threads: Int, iterations: Int, warmup: Int) throws -> String {
        Threads.count = max(1, threads)
        let name = workload == .vgg16Infer ? "vgg16" : "resnet50"
        let model = try Zoo.build(name, ZooOptions(inputSize: 224, classCount: 1000))
        model.setTraining(false)
        var rng = SeededRandom(seed: 7)
        let x = Tensor.uniform([workload.batch, 3, 224, 224], limit: 1, rng: &rng)
        var samples: [String: [Double]] = [:]

        func kind(_ l: any Layer) -> String {
            switch l {
            case is Conv2D: "conv"
            case is BatchNorm: "batchnorm"
            case is ReLU: "relu"
            case is MaxPool2D, is AvgPool2D: "pool"
            case is Dense: "dense"
            case is ZeroPadding2D: "zeropad"
            default: String(describing: type(of: l))
            }
        }
        func pass() {
            var acc: [String: Double] = [:]
            func timed(_ k: String, _ body: () -> Var) -> Var {
                let t0 = now(); let y = body(); acc[k, default: 0] += now() - t0; return y
            }
            func run(_ layers: [(name: String, layer: any Layer)], _ input: Var) -> Var {
                var y = input
                for (_, l) in layers {
                    if let b = l as? ResidualBlock {
                        let m = run(b.main, y)
                        let s = run(b.shortcut, y)
                        let sum = timed("residual add") { add(m, s) }
                        y = timed("relu") { b.out(sum) }
                    } else {
                        let cur = y
                        y = timed(kind(l)) { l(cur) }
                    }
                }
                return y
            }
            let t0 = now()
            withoutGradients { _ = run(model.head.layers, run(model.trunk.layers, Var(x))) }
            acc["total"] = now() - t0
            for (k, v) in acc { samples[k, default: []].append(v) }
        }
        for _ in 0..<max(0, warmup) { pass() }
        samples = [:]
        for _ in 0..<max(1, iterations) { pass() }
        let total = benchMedian(samples["total"] ?? [])
        var s = "\(name) inference batch \(workload.batch), \(threads) threads: median seconds per layer kind over \(iterations) passes\n"
        for (k, v) in samples.sorted(by: { benchMedian($0.value) > benchMedian($1.value) }) where k != "total" {
            let m = benchMedian(v)
            s += "  " + k.padding(toLength: 16, withPad: " ", startingAt: 0) + String(format: "%7.3f s  %5.1f%%\n", m, 100 * m / total)
        }
        s += "  " + "total".padding(toLength: 16, withPad: " ", startingAt: 0) + String(format: "%7.3f s\n", total)
        return s
    }
}
