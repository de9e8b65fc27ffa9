import Foundation
import ImageIO
import TensorCore

/// `--tta` for predict and evaluate: each image's probabilities averaged over the `TestTimeView`s
/// (the standard view, its mirror and four 90% corner crops), as fastai's `tta` averages its views.
/// Views the model did not learn are left out: the mirror unless `LoadedModel.mirrorInvariant`, the
/// corner crops unless `LoadedModel.shiftInvariant` (measured: both cost a LeNet trained without them
/// 3-4 points on mnist5k).
public enum TestTimeAugmentation {
    public static func views(_ loaded: LoadedModel) -> [TestTimeView] {
        TestTimeView.allCases.filter { v in
            switch v {
            case .standard: true
            case .mirrored: loaded.mirrorInvariant
            default: loaded.shiftInvariant
            }
        }
    }

    /// Probabilities [N, classes] for decoded images, averaged over the views.
    public static func probabilities(_ loaded: LoadedModel, images: [Image], preprocessing p: ImagePreprocessing) -> Tensor {
        let views = Self.views(loaded), v = views.count
        var batch = Tensor(uninitializedShape: [images.count * v, p.channels, p.height, p.width])
        let dst = batch.mutablePointer()
        parallelFor(images.count) { i in
            p.apply(images[i], views: views, into: dst + i * v * p.sampleSize)
        }
        let all = loaded.probabilities(batch)
        let c = all.shape[1]
        var mean = Tensor(shape: [images.count, c], repeating: 0)
        let out = mean.mutablePointer(), src = all.pointer
        for i in 0..<images.count {
            for k in 0..<v { for j in 0..<c { out[i * c + j] += src[(i * v + k) * c + j] } }
            for j in 0..<c { out[i * c + j] /= Float(v) }
        }
        return mean
    }

    /// Evaluation of `dataset` with TTA (images decoded at full size, as predict does).
    static func evaluate(_ loaded: LoadedModel, dataset: ImageFolderDataset, preprocessing p: ImagePreprocessing,
                         accumulator acc: inout EvaluationAccumulator, chunk: Int = 16) throws {
        for start in stride(from: 0, to: dataset.samples.count, by: chunk) {
            let samples = dataset.samples[start..<min(start + chunk, dataset.samples.count)]
            let images = try samples.map { try ImageDecoder.decode(file: $0.file, as: p.pixelFormat) }
            acc.add(scores: probabilities(loaded, images: images, preprocessing: p), labels: samples.map(\.label))
        }
    }
}
