import Foundation
import TensorCore

/// Counts of (actual, predicted) class pairs: `counts[actual][predicted]`, rows are true classes
/// (scikit-learn's and Keras's convention).
public struct ConfusionMatrix: Codable, Sendable, Equatable {
    public let classCount: Int
    public private(set) var counts: [[Int]]

    public init(classCount: Int) {
        check(classCount > 0, "ConfusionMatrix: classCount must be > 0")
        self.classCount = classCount
        counts = Array(repeating: Array(repeating: 0, count: classCount), count: classCount)
    }

    public init(predicted: [Int], actual: [Int], classCount: Int) {
        check(predicted.count == actual.count, "ConfusionMatrix: \(predicted.count) predictions for \(actual.count) labels")
        self.init(classCount: classCount)
        for (p, a) in zip(predicted, actual) { add(predicted: p, actual: a) }
    }

    /// Builds from a given table (rows = actual); for tests and reloading.
    public init(counts: [[Int]]) {
        check(!counts.isEmpty && counts.allSatisfy { $0.count == counts.count }, "ConfusionMatrix: table must be square")
        classCount = counts.count
        self.counts = counts
    }

    public mutating func add(predicted: Int, actual: Int) {
        check((0..<classCount).contains(predicted) && (0..<classCount).contains(actual),
              "ConfusionMatrix: class (\(actual), \(predicted)) outside 0..<\(classCount)")
        counts[actual][predicted] += 1
    }

    public var total: Int { counts.reduce(0) { $0 + $1.reduce(0, +) } }
    public var correct: Int { (0..<classCount).reduce(0) { $0 + counts[$1][$1] } }
    /// Top-1 accuracy in 0...1 (0 for an empty matrix).
    public var accuracy: Double { total == 0 ? 0 : Double(correct) / Double(total) }

    /// Images whose true class is `c`.
    public func support(_ c: Int) -> Int { counts[c].reduce(0, +) }
    /// Images predicted as `c`.
    public func predictedCount(_ c: Int) -> Int { counts.reduce(0) { $0 + $1[c] } }
    /// TP / (TP + FP); 0 when nothing was predicted as `c` (scikit-learn's `zero_division=0`).
    public func precision(_ c: Int) -> Double {
        let p = predictedCount(c)
        return p == 0 ? 0 : Double(counts[c][c]) / Double(p)
    }
    /// TP / (TP + FN); 0 when class `c` has no images.
    public func recall(_ c: Int) -> Double {
        let s = support(c)
        return s == 0 ? 0 : Double(counts[c][c]) / Double(s)
    }
    /// Harmonic mean of precision and recall; 0 when both are 0.
    public func f1(_ c: Int) -> Double {
        let p = precision(c), r = recall(c)
        return p + r == 0 ? 0 : 2 * p * r / (p + r)
    }
}

/// Index of the largest value in each row of `[N, C]` scores (first one on ties).
public func argmaxRows(_ scores: Tensor) -> [Int] {
    check(scores.rank == 2, "argmaxRows: expected [N, C], got \(scores.shape)")
    let n = scores.shape[0], c = scores.shape[1], p = scores.pointer
    return (0..<n).map { r in
        var best = 0
        for j in 1..<max(c, 1) where p[r * c + j] > p[r * c + best] { best = j }
        return best
    }
}

/// Whether each row's label is among its `k` highest scores. A label counts as a hit when fewer
/// than `k` classes score strictly higher (ties resolved in the label's favour).
public func topKHits(_ scores: Tensor, labels: [Int], k: Int) -> [Bool] {
    check(scores.rank == 2 && scores.shape[0] == labels.count,
          "topK: scores \(scores.shape) for \(labels.count) labels")
    let c = scores.shape[1], p = scores.pointer
    return labels.enumerated().map { r, label in
        check((0..<c).contains(label), "topK: label \(label) outside 0..<\(c)")
        let s = p[r * c + label]
        var higher = 0
        for j in 0..<c where p[r * c + j] > s { higher += 1 }
        return higher < k
    }
}

/// Fraction of rows whose argmax equals the label (0...1).
public func accuracy(_ scores: Tensor, labels: [Int]) -> Double {
    topKAccuracy(scores, labels: labels, k: 1, strictTies: true)
}

/// Fraction of rows whose label is among the `k` highest scores (0...1).
public func topKAccuracy(_ scores: Tensor, labels: [Int], k: Int) -> Double {
    topKAccuracy(scores, labels: labels, k: k, strictTies: false)
}

private func topKAccuracy(_ scores: Tensor, labels: [Int], k: Int, strictTies: Bool) -> Double {
    guard !labels.isEmpty else { return 0 }
    let hits: Int
    if strictTies && k == 1 {
        hits = zip(argmaxRows(scores), labels).filter { $0 == $1 }.count
    } else {
        hits = topKHits(scores, labels: labels, k: k).filter { $0 }.count
    }
    return Double(hits) / Double(labels.count)
}

/// Precision, recall, F1 and support of one class.
public struct ClassMetrics: Codable, Sendable, Equatable {
    public var name: String
    public var precision: Double
    public var recall: Double
    public var f1: Double
    public var support: Int
}

/// What `finetune evaluate --json` prints: one object whose `accuracy` is top-1 accuracy in 0...1.
public struct EvaluationSummary: Codable, Sendable, Equatable {
    public var accuracy: Double
    public var topK: Int
    public var topKAccuracy: Double
    public var count: Int
    public var loss: Double?
    public var macroF1: Double
    public var classNames: [String]
    public var perClass: [ClassMetrics]
    public var confusionMatrix: [[Int]]

    public init(confusion: ConfusionMatrix, classNames: [String]? = nil, topK: Int = 5,
                topKAccuracy: Double? = nil, loss: Double? = nil) {
        let names = classNames ?? (0..<confusion.classCount).map { "class\($0)" }
        check(names.count == confusion.classCount, "EvaluationSummary: \(names.count) names for \(confusion.classCount) classes")
        accuracy = confusion.accuracy
        self.topK = topK
        self.topKAccuracy = topKAccuracy ?? confusion.accuracy
        count = confusion.total
        self.loss = loss
        self.classNames = names
        perClass = names.enumerated().map { c, name in
            ClassMetrics(name: name, precision: confusion.precision(c), recall: confusion.recall(c),
                         f1: confusion.f1(c), support: confusion.support(c))
        }
        macroF1 = perClass.isEmpty ? 0 : perClass.map(\.f1).reduce(0, +) / Double(perClass.count)
        confusionMatrix = confusion.counts
    }

    /// Pretty, key-sorted, snake_case JSON (`accuracy`, `top_k_accuracy`, `per_class`, ...).
    public func jsonData() throws -> Data { try JSONCoding.encoder().encode(self) }
    public static func decode(_ data: Data) throws -> EvaluationSummary {
        try JSONCoding.decoder().decode(EvaluationSummary.self, from: data)
    }
}

/// Accumulates scores batch by batch during evaluation.
public struct EvaluationAccumulator: Sendable {
    public private(set) var confusion: ConfusionMatrix
    public let k: Int
    public private(set) var topKCorrect = 0
    public private(set) var lossSum: Double = 0
    public private(set) var lossCount = 0

    public init(classCount: Int, k: Int = 5) {
        confusion = ConfusionMatrix(classCount: classCount)
        self.k = k
    }

    /// Adds a batch of `[N, C]` scores (logits or probabilities) and its labels; `loss` is the batch's mean loss.
    public mutating func add(scores: Tensor, labels: [Int], loss: Double? = nil) {
        for (p, a) in zip(argmaxRows(scores), labels) { confusion.add(predicted: p, actual: a) }
        topKCorrect += topKHits(scores, labels: labels, k: k).filter { $0 }.count
        if let loss { lossSum += loss * Double(labels.count); lossCount += labels.count }
    }

    public func summary(classNames: [String]? = nil) -> EvaluationSummary {
        let total = confusion.total
        return EvaluationSummary(confusion: confusion, classNames: classNames, topK: k,
                                 topKAccuracy: total == 0 ? 0 : Double(topKCorrect) / Double(total),
                                 loss: lossCount == 0 ? nil : lossSum / Double(lossCount))
    }
}

/// JSON settings shared by metrics.json and the evaluation summary.
enum JSONCoding {
    static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.keyEncodingStrategy = .convertToSnakeCase
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }
    static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return d
    }
}
