import Foundation
import Testing
import ImageIO
import NN
import TensorCore
import Training
import WeightIO
import Zoo

/// `finetune predict --base mobilenet[v2] --width A --weights FILE --preprocess none --json` on PNGs.
@Suite struct MobileNetCLITests {
    static let fixtures = CLI.packageRoot.appendingPathComponent("Tests/WeightIOTests/Fixtures")

    /// NHWC float pixels (integers 0...255) as one RGB PNG per image; returns the files in order.
    static func writePNGs(_ x: Tensor, to dir: URL) throws -> [URL] {
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let s = x.scalars
        return try (0..<n).map { i in
            let pixels = s[(i * h * w * c)..<((i + 1) * h * w * c)].map { UInt8($0) }
            let url = dir.appendingPathComponent("image\(i).png")
            try PNGEncoder.write(Image(width: w, height: h, channels: c, pixels: Array(pixels)), to: url)
            return url
        }
    }

    static func predict(_ args: [String], _ images: [URL]) throws -> [[Double]] {
        let r = try CLI.succeed(["predict"] + args + ["--classes", "10", "--input-size", "64", "--preprocess", "none", "--json"]
                                + images.map(\.path))
        let list = try #require(r.stdout.jsonObject as? [[String: Any]], "\(r)")
        #expect(list.map { $0["file"] as? String } == images.map(\.path))
        return list.map { ($0["probabilities"] as? [Double]) ?? [] }
    }

    static func maxDifference(_ got: [[Double]], _ want: Tensor) -> Double {
        #expect(got.count == want.shape[0] && got.allSatisfy { $0.count == want.shape[1] })
        var d = 0.0
        for (i, row) in got.enumerated() { for (j, p) in row.enumerated() { d = max(d, abs(p - Double(want[flat: i * want.shape[1] + j]))) } }
        return d
    }

    /// Keras's probabilities for the raw-pixel input of each fixture model.
    @Test(arguments: [("mobilenet", "0.25"), ("mobilenetv2", "0.35")])
    func predictReproducesKeras(name: String, width: String) throws {
        let tmp = try TempDir("graft-mobilenet")
        let root = try HDF5File.open(Self.fixtures.appendingPathComponent("\(name)_pixels_io.h5").path).root()
        let images = try Self.writePNGs(try root.dataset("input").readTensor(), to: tmp.url)
        let want = try root.dataset("output").readTensor()
        let got = try Self.predict(["--base", name, "--width", width,
                                    "--weights", Self.fixtures.appendingPathComponent("\(name)_tfkeras.h5").path], images)
        let d = Self.maxDifference(got, want)
        #expect(d <= 1e-4, "\(name): max |Δp| \(d)")
    }

    /// --width 0.5 (no committed fixture at that width): a zoo model exported in the Keras 2 layout and
    /// predicted through the CLI gives the in-process probabilities.
    @Test func predictWithWidthHalfMatchesTheLibrary() throws {
        let tmp = try TempDir("graft-mobilenet")
        let model = try Zoo.build("mobilenet", ZooOptions(inputSize: 64, classCount: 10, widthMultiplier: 0.5, seed: 4))
        let weights = tmp.path("mobilenet_050.h5")
        try model.exportKeras2Weights(to: weights.path)
        var rng = SeededRandom(seed: 9)
        let pixels = Tensor.uniform([2, 64, 64, 3], limit: 1, rng: &rng).map { (($0 + 1) * 127.5).rounded(.down) }
        let images = try Self.writePNGs(pixels, to: tmp.url)
        let nchw = Tensor(shape: [2, 3, 64, 64], scalars: (0..<(2 * 3 * 64 * 64)).map { i in
            let (b, c, y, x) = (i / (3 * 4096), (i / 4096) % 3, (i / 64) % 64, i % 64)
            return pixels[flat: ((b * 64 + y) * 64 + x) * 3 + c]
        })
        model.setTraining(false)
        let want = withoutGradients { model(Var(nchw)) }.value
        let got = try Self.predict(["--base", "mobilenet", "--width", "0.5", "--weights", weights.path], images)
        #expect(Self.maxDifference(got, want) <= 1e-4)
        // The wrong width is refused, naming the file.
        let wrong = try CLI.run(["predict", "--base", "mobilenet", "--width", "0.25", "--weights", weights.path,
                                 "--classes", "10", "--input-size", "64", images[0].path])
        #expect(wrong.status != 0 && wrong.stderr.contains(weights.path), "\(wrong)")
    }

    /// Transfer from the Keras full-model file (its softmax `predictions` layer is part of the replaced
    /// head), then --extend by a class, then a Keras-2 export that `inspect` recognises.
    @Test func trainExtendAndExportTheConvolutionalHead() throws {
        let tmp = try TempDir("graft-mobilenet")
        let data = try TinyData.mnist(tmp.path("data"), classes: ["3", "5"], train: 3, val: 2)
        let first = tmp.path("run1")
        let train = try CLI.succeed(["train", "--base", "mobilenet", "--width", "0.25", "--input-size", "64", "--threads", "1",
                                     "--weights", Self.fixtures.appendingPathComponent("mobilenet_tfkeras_full.h5").path,
                                     "--data", data.path, "--epochs", "1", "--out", first.path])
        #expect(train.stdout.contains("trunk imported, new 2-class head"), "\(train)")
        let more = try TinyData.mnist(tmp.path("more"), classes: ["3", "5", "7"], train: 3, val: 2)
        let second = tmp.path("run2")
        try CLI.succeed(["train", "--extend", first.appendingPathComponent("model.h5").path, "--data", more.path,
                         "--epochs", "1", "--threads", "1", "--out", second.path])
        let predict = try CLI.succeed(["predict", "--model", second.appendingPathComponent("model.h5").path, "--json",
                                       try TinyData.anyImage(more, class: "7").path])
        let p = try #require((predict.stdout.jsonObject as? [[String: Any]])?.first)
        let probs = try #require(p["probabilities"] as? [Double])
        #expect(probs.count == 3 && abs(probs.reduce(0, +) - 1) < 1e-5)
        let keras = tmp.path("export.h5")
        try CLI.succeed(["export", "--model", second.appendingPathComponent("model.h5").path, "--format", "keras-h5", "--out", keras.path])
        let inspect = try CLI.succeed(["inspect", keras.path])
        #expect(inspect.stdout.contains("weights fit zoo architecture mobilenet") && inspect.stdout.contains("classCount 3"), "\(inspect)")
    }
}
