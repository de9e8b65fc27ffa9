import NN
import TensorCore

extension Recipe {
    /// The loss named by `loss` as the trainer's closure. Class targets work with all three
    /// (sigmoid and euclidean compare against one-hot rows); multi-hot targets need `sigmoid` or
    /// `euclidean`. `label_smoothing` applies to softmax; `classWeights` (per class) too.
    public func makeLoss(classWeights: [Float]? = nil) -> LossFunction {
        let kind = loss, smoothing = Float(labelSmoothing)
        return { output, targets in
            let classes = output.shape.last ?? 0
            switch (kind, targets) {
            case (.softmax, .classes(let labels)):
                return softmaxCrossEntropy(logits: output, labels: labels, labelSmoothing: smoothing, classWeights: classWeights)
            case (.softmax, .multiHot):
                fatalError("loss softmax needs one class per image; use loss: sigmoid for multi-label targets")
            case (.sigmoid, .classes(let labels)):
                return sigmoidCrossEntropy(logits: output, targets: oneHot(labels, classes: classes))
            case (.sigmoid, .multiHot(let t)):
                return sigmoidCrossEntropy(logits: output, targets: t)
            case (.euclidean, .classes(let labels)):
                return euclideanLoss(output, oneHot(labels, classes: classes))
            case (.euclidean, .multiHot(let t)):
                return euclideanLoss(output, t)
            }
        }
    }
}
