import Foundation
import NN
import DNNL
import TensorCore
import Training
import Zoo

extension BenchJob {
    /// Inference time of a zoo model split by layer kind (Conv2D, BatchNorm, ReLU, pooling, residual add,
    /// dense, other), walking the trunk and head layer by layer exactly as `ZooModel.callAsFunction`
    /// does. Median over `iterations` passes after `warmup`. For finding where a model's time goes
    /// (`finetune bench --profile resnet50-infer`).
    public static func profileInference(_ workload: BenchWorkload, threads: Int, iterations: Int, warmup: Int,
                                        inference: InferenceOptions = InferenceOptions()) throws -> String {
        Threads.count = max(1, threads)
        guard workload.isInference, let name = workload.zooName else {
            throw ZooError.invalidOption("--profile takes an inference workload, not \(workload.rawValue)")
        }
        let model = try Zoo.build(name, ZooOptions(inputSize: 224, classCount: 1000))
        model.setTraining(false)
        var rng = SeededRandom(seed: 7)
        let x = Tensor.uniform([workload.batch, 3, 224, 224], limit: 1, rng: &rng)
        if inference.plan {
            var report = try profilePlan(InferencePlan(model, options: inference), name: name, x: x, threads: threads,
                                         iterations: iterations, options: inference)
            // Accuracy of the plan's trunk (folded BN, Winograd if chosen) against the module forward, 2 images.
            var x2 = Tensor(uninitializedShape: [2, 3, 224, 224])
            x2.mutablePointer().update(from: x.pointer, count: x2.count)
            let want = withoutGradients { model.trunk(Var(x2)).value }
            let got = InferencePlan(model.trunk, inputShape: [3, 224, 224], options: inference)(x2)
            var diff: Float = 0, scale: Float = 0
            for i in 0..<want.count { diff = max(diff, abs(want[flat: i] - got[flat: i])); scale = max(scale, abs(want[flat: i])) }
            report += String(format: "trunk output vs module forward (2 images): max relative error %.2e\n", diff / max(scale, 1e-30))
            return report
        }
        var samples: [String: [Double]] = [:]

        func kind(_ l: Module) -> String {
            switch l {
            case is Conv2D: "conv"
            case is BatchNorm: "batchnorm"
            case is ReLU: "relu"
            case is MaxPool2D, is AvgPool2D: "pool"
            case is Dense: "dense"
            case is ZeroPadding2D: "zeropad"
            case is Add: "residual add"
            default: String(describing: type(of: l))
            }
        }
        func pass() {
            var acc: [String: Double] = [:]
            func timed(_ k: String, _ body: () -> Var) -> Var {
                let t0 = now(); let y = body(); acc[k, default: 0] += now() - t0; return y
            }
            func run(_ graph: GraphModule, _ input: Var) -> Var {
                graph.evaluate(input) { _, module, body in timed(kind(module)) { body() } }
            }
            let t0 = now()
            withoutGradients { _ = run(model.head, run(model.trunk, Var(x))) }
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

    /// The inference plan's time per oneDNN step, grouped by kind (conv by kernel, pool, reorder,
    /// module layers), with GFLOP/s of the convolutions, then the slowest steps.
    static func profilePlan(_ plan: InferencePlan, name: String, x: Tensor, threads: Int, iterations: Int,
                            options: InferenceOptions) throws -> String {
        let steps = try plan.profile(x, reps: max(1, iterations))
        func kind(_ step: String) -> String {
            let w = step.split(separator: " ")
            if step.hasPrefix("module") { return step }
            if step.hasPrefix("reorder") { return "reorder (entry/exit)" }
            if w.count > 4, w[2] == "conv" { return "conv " + (w[4].split(separator: "/").first.map(String.init) ?? "") }
            return w.count > 2 ? String(w[2]) : step
        }
        var groups: [String: (s: Double, macs: Double)] = [:]
        for st in steps { groups[kind(st.step), default: (0, 0)].s += st.seconds; groups[kind(st.step), default: (0, 0)].macs += st.macs }
        let total = steps.reduce(0) { $0 + $1.seconds }, macs = steps.reduce(0) { $0 + $1.macs }
        let cap = options.maxSliceImages
        var s = "\(name) inference plan, batch \(x.shape[0]), \(threads) threads (\(options.threading.rawValue) threading"
            + (options.threading == .batch ? (cap > 0 ? " in slices of at most \(cap) images, " : " in one slice per core, ") : ", ")
            + "layout \(options.layout.rawValue), conv \(options.conv.rawValue)): median seconds per step over \(iterations) runs\n"
        for (k, v) in groups.sorted(by: { $0.value.s > $1.value.s }) {
            let rate = v.macs > 0 ? String(format: "  %6.1f GFLOP/s", 2 * v.macs / v.s / 1e9) : ""
            s += "  " + k.padding(toLength: 24, withPad: " ", startingAt: 0) + String(format: "%7.3f s  %5.1f%%", v.s, 100 * v.s / total) + rate + "\n"
        }
        s += "  " + "total".padding(toLength: 24, withPad: " ", startingAt: 0)
            + String(format: "%7.3f s  (%.1f img/s, %.1f GFLOP/s over the convolutions)\n", total, Double(x.shape[0]) / total, 2 * macs / total / 1e9)
        s += "slowest steps:\n"
        for st in steps.sorted(by: { $0.seconds > $1.seconds }).prefix(12) {
            let rate = st.macs > 0 ? String(format: " %6.1f GFLOP/s", 2 * st.macs / st.seconds / 1e9) : ""
            s += String(format: "  %7.4f s", st.seconds) + rate + "  " + st.step + "\n"
        }
        return s
    }
}
