import Foundation
import ImageIO
import TensorCore
import Zoo

/// The validation images the model got most wrong (fastai's `plot_top_losses`): largest cross-entropy
/// -log p(true class), each with its Grad-CAM map for the predicted class drawn over it.
public enum TopLosses {
    public struct Item: Sendable {
        public var file: URL
        public var trueClass: Int
        public var predictedClass: Int
        /// Probability of the predicted class, and of the true one.
        public var predictedProbability: Double
        public var trueProbability: Double
        public var loss: Double
        /// The model's view of the image with the heat map over it.
        public var overlay: Image
    }

    /// Same-sized pictures tiled left to right, top to bottom, `columns` wide, 4 px white between (nil: none).
    public static func grid(_ pictures: [Image], columns: Int = 4) -> Image? {
        guard let first = pictures.first else { return nil }
        let (w, h, gap) = (first.width, first.height, 4)
        let cols = min(columns, pictures.count), rows = (pictures.count + cols - 1) / cols
        let width = cols * w + (cols - 1) * gap, height = rows * h + (rows - 1) * gap
        var out = Image(width: width, height: height, channels: 3, repeating: 255)
        for (k, p) in pictures.enumerated() where p.width == w && p.height == h && p.channels == 3 {
            let (x0, y0) = ((k % cols) * (w + gap), (k / cols) * (h + gap))
            for y in 0..<h {
                let from = y * w * 3, to = ((y0 + y) * width + x0) * 3
                out.pixels.replaceSubrange(to..<(to + w * 3), with: p.pixels[from..<(from + w * 3)])
            }
        }
        return out
    }

    /// Indices of the `count` largest losses -log p[label], largest first (ties: the earlier image).
    public static func ranked(probabilities p: [[Double]], labels: [Int], count: Int) -> [Int] {
        let losses = zip(p, labels).map { row, l in -log(max(row[l], 1e-12)) }
        return Array(losses.indices.sorted { losses[$0] != losses[$1] ? losses[$0] > losses[$1] : $0 < $1 }.prefix(count))
    }

    /// Rows of softmax(logits) (or the rows as they are when `alreadyProbabilities`).
    public static func probabilityRows(_ outputs: [Tensor], alreadyProbabilities: Bool) -> [[Double]] {
        outputs.flatMap { t -> [[Double]] in
            let (n, c) = (t.shape[0], t.shape[1])
            return (0..<n).map { i in
                let row = (0..<c).map { Double(t[flat: i * c + $0]) }
                if alreadyProbabilities { return row }
                let m = row.max() ?? 0
                let e = row.map { exp($0 - m) }
                let s = e.reduce(0, +)
                return e.map { $0 / s }
            }
        }
    }

    /// The gallery: the `count` worst of `samples` (in the order of `probabilities`), explained at
    /// `cam`'s layer, drawn at least `minimumSide` pixels wide.
    public static func items(samples: [ImageSample], probabilities: [[Double]], count: Int, cam: GradCAM,
                             preprocessing: ImagePreprocessing, minimumSide: Int = 128) throws -> [Item] {
        let worst = ranked(probabilities: probabilities, labels: samples.map(\.label), count: count)
        var items: [Item] = []
        for chunk in stride(from: 0, to: worst.count, by: 8).map({ Array(worst[$0..<min($0 + 8, worst.count)]) }) {
            let decoded = try chunk.map { try ImageDecoder.decode(file: samples[$0].file, as: preprocessing.pixelFormat) }
            let predicted = chunk.map { i in probabilities[i].indices.max { probabilities[i][$0] < probabilities[i][$1] } ?? 0 }
            let (maps, _) = try cam.maps(preprocessing.batch(decoded), classes: predicted)
            for (k, i) in chunk.enumerated() {
                var picture = HeatmapOverlay.draw(maps[k], over: HeatmapOverlay.modelView(decoded[k], preprocessing: preprocessing))
                let side = min(picture.width, picture.height)
                if side < minimumSide {
                    let s = Double(minimumSide) / Double(side)
                    picture = picture.resized(width: Int((Double(picture.width) * s).rounded()),
                                              height: Int((Double(picture.height) * s).rounded()), antialias: false)
                }
                let label = samples[i].label
                items.append(Item(file: samples[i].file, trueClass: label, predictedClass: predicted[k],
                                  predictedProbability: probabilities[i][predicted[k]], trueProbability: probabilities[i][label],
                                  loss: -log(max(probabilities[i][label], 1e-12)), overlay: picture))
            }
        }
        return items
    }
}
