import Foundation
import ImageIO
import NN
import TensorCore
import Testing
@testable import Training
import Zoo

@Suite struct GradCAMTests {
    /// ResNet18 (width 1/4) at 96 px: a global-average-pooling + dense head on a 3x3 final map.
    static func resnet(classifier: ZooActivation = .linear) throws -> ZooModel {
        var o = ZooOptions(inputSize: 96, classCount: 4, widthMultiplier: 0.25)
        o.classifierActivation = classifier
        o.seed = 3
        return try Zoo.entry(named: "resnet18").build(o)
    }

    static func images(_ n: Int, seed: UInt64) -> Tensor {
        var rng = SeededRandom(seed: seed)
        return Tensor(shape: [n, 3, 96, 96], scalars: (0..<(n * 3 * 96 * 96)).map { _ in Float(rng.uniform(-1, 1)) })
    }

    /// With GAP + dense, Grad-CAM's channel weights are w_ck / HW: the map is CAM (Zhou et al.) up to
    /// scale, computed here from the dense weights and the recorded feature map.
    @Test func gradCAMIsCAMForAGlobalPoolingHead() throws {
        let model = try Self.resnet()
        let cam = try GradCAM(model: model)
        let x = Self.images(2, seed: 9)
        let (maps, outputs) = try cam.maps(x, classes: [1, 3])
        var features: Tensor?
        model.setTraining(false)
        _ = withoutGradients { model.forward(Var(x)) { name, v in if name == cam.layer { features = v.value } } }
        let a = try #require(features)
        #expect(a.shape.count == 4 && a.shape[2] * a.shape[3] > 1, "\(cam.layer) gives \(a.shape)")
        let headPath = try #require(model.headPath)
        let dense = try #require(model.head[headPath] as? Dense)
        let (c, plane) = (a.shape[1], a.shape[2] * a.shape[3])
        for (i, target) in [1, 3].enumerated() {
            var expected = [Float](repeating: 0, count: plane)
            for k in 0..<c {
                let w = dense.weight.value[flat: target * c + k]
                for j in 0..<plane { expected[j] += w * a[flat: (i * c + k) * plane + j] }
            }
            expected = expected.map { max(0, $0) }
            let top = expected.max() ?? 0
            if top > 0 { expected = expected.map { $0 / top } }
            #expect(maps[i].targetClass == target)
            #expect(zip(maps[i].values, expected).allSatisfy { abs($0 - $1) < 1e-4 }, "image \(i): \(maps[i].values) vs CAM \(expected)")
        }
        #expect(outputs.shape == [2, 4])
    }

    @Test func defaultTargetIsTheTopClassAndTheModelIsLeftAsItWas() throws {
        let model = try Self.resnet()
        let frozenBefore = model.namedParameters().map(\.1.isFrozen)
        model.setTraining(true)
        let (maps, outputs) = try GradCAM(model: model).maps(Self.images(3, seed: 4))
        #expect(maps.map(\.targetClass) == argmaxRows(outputs))
        #expect(model.isTraining)
        #expect(model.namedParameters().map(\.1.isFrozen) == frozenBefore)
        #expect(model.namedParameters().allSatisfy { $0.1.grad == nil })
        for m in maps { #expect(m.values.allSatisfy { $0 >= 0 && $0 <= 1 } && (m.values.max() ?? 0) <= 1) }
    }

    @Test func namedLayerMustBeASpatialMap() throws {
        let model = try Self.resnet()
        #expect(throws: JobError.self) { try GradCAM(model: model, layer: "no_such_layer") }
        #expect(throws: JobError.self) { try GradCAM(model: model, layer: model.headPath) }
        #expect(try GradCAM(model: model, layer: "conv4_block2_out").layer == "conv4_block2_out")
    }

    @Test func upsamplingKeepsCornersAndConstants() {
        let flat = GradCAM.Map(width: 3, height: 2, values: Array(repeating: 0.5, count: 6), targetClass: 0)
        #expect(HeatmapOverlay.upsample(flat, width: 17, height: 9).allSatisfy { abs($0 - 0.5) < 1e-6 })
        let ramp = GradCAM.Map(width: 2, height: 1, values: [0, 1], targetClass: 0)
        let up = HeatmapOverlay.upsample(ramp, width: 8, height: 2)
        let row = Array(up[0..<8])
        #expect(row[0] == 0 && row[7] == 1 && zip(row, row.dropFirst()).allSatisfy { $0 <= $1 } && Array(up[8..<16]) == row, "\(up)")
        #expect(HeatmapOverlay.jet(0) == (0, 0, 127.5) && HeatmapOverlay.jet(1) == (127.5, 0, 0))
        let picture = Image(width: 4, height: 4, channels: 3, repeating: 200)
        let drawn = HeatmapOverlay.draw(GradCAM.Map(width: 1, height: 1, values: [1], targetClass: 0), over: picture)
        #expect(drawn.width == 4 && drawn.pixels[0] < 200 && drawn.pixels[1] < 200)
    }

    @Test func topLossesAreTheLeastLikelyTrueClasses() {
        let p: [[Double]] = [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.5, 0.5]]
        #expect(TopLosses.ranked(probabilities: p, labels: [0, 0, 1, 1], count: 3) == [1, 2, 3])
        #expect(TopLosses.ranked(probabilities: p, labels: [1, 1, 1, 1], count: 2) == [0, 2])
        let rows = TopLosses.probabilityRows([Tensor(shape: [1, 2], scalars: [0, Float(log(3.0))])], alreadyProbabilities: false)
        #expect(abs(rows[0][0] - 0.25) < 1e-6 && abs(rows[0][1] - 0.75) < 1e-6)
    }

    @Test func explainNamesAreUnique() {
        var used = Set<String>()
        #expect(ExplainJob.uniqueName(for: URL(fileURLWithPath: "/a/cat.jpg"), used: &used) == "cat.gradcam.png")
        #expect(ExplainJob.uniqueName(for: URL(fileURLWithPath: "/b/cat.png"), used: &used) == "cat-2.gradcam.png")
    }
}

/// Grad-CAM works on every zoo architecture (small inputs, narrow widths where the model has them).
@Suite struct GradCAMZooTests {
    static let cases: [(String, Int, Double)] = [
        ("lenet5", 32, 1), ("alexnet", 96, 0.25), ("alexnet-caffe", 99, 0.25), ("vgg11", 32, 0.25), ("vgg16_bn", 64, 0.25),
        ("resnet34", 64, 0.25), ("resnet50", 64, 0.25), ("mobilenet", 64, 0.25), ("mobilenetv2", 64, 0.35),
        ("inceptionv3", 75, 1), ("googlenet", 64, 0.25), ("googlenet-caffe", 64, 1),
    ]

    @Test(arguments: cases.map(\.0))
    func explainsEveryArchitecture(name: String) throws {
        let (_, size, width) = try #require(Self.cases.first { $0.0 == name })
        var o = ZooOptions(inputSize: size, classCount: 3, widthMultiplier: width)
        o.seed = 1
        let model: ZooModel
        do { model = try Zoo.entry(named: name).build(o) } catch {
            o.widthMultiplier = 1   // an architecture without a width multiplier
            model = try Zoo.entry(named: name).build(o)
        }
        let cam = try GradCAM(model: model)
        var rng = SeededRandom(seed: 2)
        let c = model.inputShape[0]
        let x = Tensor(shape: [1, c, size, size], scalars: (0..<(c * size * size)).map { _ in Float(rng.uniform(0, 1)) })
        let (maps, outputs) = try cam.maps(x)
        #expect(outputs.shape == [1, 3] && maps.count == 1, "\(name) at \(cam.layer)")
        #expect(maps[0].width * maps[0].height > 1 && maps[0].values.allSatisfy { $0.isFinite && $0 >= 0 && $0 <= 1 }, "\(name) at \(cam.layer)")
    }
}
