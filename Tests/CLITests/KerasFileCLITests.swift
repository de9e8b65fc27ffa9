import Foundation
import Testing

/// `finetune predict --model FILE` on a Keras full-model file reproduces Keras's probabilities.
@Suite struct KerasFileCLITests {
    @Test func predictOnAKerasFullModelFileMatchesKeras() throws {
        let fixtures = CLI.packageRoot.appendingPathComponent("Tests/WeightIOTests/Fixtures")
        let model = fixtures.appendingPathComponent("kerasfile_mnist_cnn.h5").path
        let image = fixtures.appendingPathComponent("kerasfile_mnist_cnn_input.png").path
        let r = try CLI.succeed(["predict", "--model", model, "--preprocess", "none", "--json", image])
        let json = try #require(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        let p = try #require(json.first?["probabilities"] as? [Double])
        let keras = [0.3208063840866089, 0.28978127241134644, 0.3894123435020447]   // tf_keras 2.21 predict
        #expect(p.count == 3)
        #expect(zip(p, keras).allSatisfy { abs($0 - $1) < 1e-4 }, "\(p)")
    }
}
