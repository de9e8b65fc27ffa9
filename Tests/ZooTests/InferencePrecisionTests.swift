import Foundation
import Testing
import DNNL
import TensorCore
import NN
@testable import Zoo

/// A bf16 plan against the fp32 plan of the same model: logits of `batch` random images.
private struct PrecisionComparison {
    /// Largest |logit_bf16 - logit_fp32| over all images and classes, over the largest |logit_fp32|.
    var relativeError: Float = 0
    /// Largest |p_bf16 - p_fp32| of the softmax probabilities.
    var maxProbabilityDifference: Float = 0
    /// Images whose top-1 class differs although the fp32 top-1 logit leads the runner-up by more
    /// than twice the largest logit difference (a flip there cannot come from rounding within it).
    var unexplainedFlips = 0
    var topOneAgreement = 0
    var images = 0
    var fp32Description = "", bf16Description = ""

    init(_ model: ZooModel, batch: Int, seed: UInt64, layers: InferenceBF16Layers = .all) {
        model.setTraining(false)
        let fp32 = InferencePlan(model, options: InferenceOptions(precision: .fp32))
        let bf16 = InferencePlan(model, options: InferenceOptions(precision: .bf16, bf16Layers: layers))
        let x = randomInput([batch] + model.inputShape, seed: seed).value
        let a = fp32(x), b = bf16(x)
        fp32Description = fp32.describe(batch: batch)
        bf16Description = bf16.describe(batch: batch)
        let classes = a.count / batch
        var diff: Float = 0, scale: Float = 1e-12
        for i in 0..<a.count {
            diff = max(diff, abs(a[flat: i] - b[flat: i]))
            scale = max(scale, abs(a[flat: i]))
        }
        relativeError = diff / scale
        images = batch
        func softmax(_ z: [Float]) -> [Float] {
            let m = z.max()!, e = z.map { exp($0 - m) }, s = e.reduce(0, +)
            return e.map { $0 / s }
        }
        for n in 0..<batch {
            let za = (0..<classes).map { a[flat: n * classes + $0] }, zb = (0..<classes).map { b[flat: n * classes + $0] }
            for (p, q) in zip(softmax(za), softmax(zb)) { maxProbabilityDifference = max(maxProbabilityDifference, abs(p - q)) }
            let ta = za.indices.max { za[$0] < za[$1] }!, tb = zb.indices.max { zb[$0] < zb[$1] }!
            if ta == tb { topOneAgreement += 1; continue }
            let sorted = za.sorted(by: >)
            if sorted[0] - sorted[1] > 2 * diff { unexplainedFlips += 1 }
        }
    }
}

/// Zoo models at small sizes with random weights and statistics, 10 classes (logits out), every
/// convolution in bf16.
@Test(arguments: [("vgg16", 32, 0.25), ("resnet50", 32, 0.25), ("mobilenetv2", 64, 0.5), ("inceptionv3", 75, 0.25)])
func bf16PlanAgreesWithFP32(name: String, size: Int, width: Double) throws {
    let m = try Zoo.build(name, ZooOptions(inputSize: size, classCount: 10, widthMultiplier: width, classifierActivation: .linear))
    randomizeStatistics(m)
    let c = PrecisionComparison(m, batch: 16, seed: 21)
    print("bf16 vs fp32 \(name) \(size)px: top-1 agreement \(c.topOneAgreement)/\(c.images), relative logit error \(c.relativeError), "
          + "max |dp| \(c.maxProbabilityDifference)\n\(c.bf16Description)")
    #expect(c.relativeError <= 0.03, "\(c.bf16Description)")
    #expect(c.maxProbabilityDifference <= 0.03)
    #expect(c.unexplainedFlips == 0)
    #expect(c.fp32Description.contains("precision fp32: convolutions fp32"))
    if DNNLInferenceNet.nativeBF16 {
        // The bf16 plan really runs bf16 (it rounds, so it differs from fp32) and says so.
        #expect(c.relativeError > 0)
        #expect(c.bf16Description.contains("precision bf16: convolutions bf16 direct"), "\(c.bf16Description)")
    } else {
        #expect(c.relativeError == 0)
    }
}

/// `fastest`: every bf16-capable convolution is timed both ways and runs in the format its timing
/// favours (bf16 only when at least 5% faster), and the result stays within the bf16 bounds.
@Test func fastestBF16LayersFollowTheirTimings() throws {
    let m = try Zoo.build("mobilenetv2", ZooOptions(inputSize: 64, classCount: 10, widthMultiplier: 0.5, classifierActivation: .linear))
    randomizeStatistics(m)
    let c = PrecisionComparison(m, batch: 4, seed: 22, layers: .fastest)
    #expect(c.relativeError <= 0.03)
    guard DNNLInferenceNet.nativeBF16 else { return }
    let convs = c.bf16Description.split(separator: "\n").filter { $0.hasPrefix("  op ") && $0.contains(" conv ") }
    #expect(!convs.isEmpty)
    for line in convs {
        let timedLine = line.contains("[bf16 "), bf16 = line.contains(" bf16 [") || line.contains(" bf16 src=")
        #expect(timedLine, "\(line)")
        #expect(bf16 == line.contains(" < fp32 "), "\(line)")
    }
}
