import Foundation
import NeuralNet

/// Classification quality on a labelled digit set: accuracy, confusion matrix (rows = true
/// digit), per-class precision/recall/F1, the most-confused pairs, and speed.
public struct EvaluationReport: Codable, Sendable {
    public var count: Int
    public var accuracy: Double
    public var confusion: [[Int]]
    public var precision: [Double]
    public var recall: [Double]
    public var f1: [Double]
    public var mostConfused: [ConfusedPair]
    /// Digits whose top class was "not a digit" (11-class models). Accuracy and the confusion
    /// matrix use the best *digit* class, since every image of a digit set is a digit.
    public var rejected: Int
    public var digitsPerSecond: Double
    /// Mean probability of the predicted class minus accuracy (positive = overconfident).
    public var calibrationGap: Double

    public struct ConfusedPair: Codable, Sendable { public var truth: Int, predicted: Int, count: Int }
}

public enum Evaluator {
    /// Classifies `set` in batches of `batchSize` with `classifier`; `transform` may alter each
    /// 784-float crop before classification (robustness sets).
    public static func evaluate(_ classifier: DigitClassifier, on set: LabelledImages, batchSize: Int = 256,
                                transform: ((Int, UnsafeMutablePointer<Float>) -> Void)? = nil) -> EvaluationReport {
        let k = classifier.classCount
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: 10), count: 10)
        var rejected = 0, confidenceSum = 0.0
        var input = [Float](repeating: 0, count: batchSize * 784)
        var probs = [Float](repeating: 0, count: batchSize * k)
        var classifyNanos: UInt64 = 0
        var i = 0
        while i < set.count {
            let n = min(batchSize, set.count - i)
            input.withUnsafeMutableBufferPointer { inp in
                set.images.withUnsafeBufferPointer { src in
                    for j in 0..<(n * 784) { inp[j] = Float(src[i * 784 + j]) * (1 / 255) }
                }
                if let transform { for j in 0..<n { transform(i + j, inp.baseAddress! + j * 784) } }
            }
            let t0 = DispatchTime.now().uptimeNanoseconds
            input.withUnsafeBufferPointer { inp in
                probs.withUnsafeMutableBufferPointer { classifier.classify(inp, count: n, into: $0) }
            }
            classifyNanos += DispatchTime.now().uptimeNanoseconds - t0
            for j in 0..<n {
                let p = probs[(j * k)..<(j * k + k)]
                var best = 0
                for c in 1..<10 where p[p.startIndex + c] > p[p.startIndex + best] { best = c }
                if k > 10, p[p.startIndex + 10] > p[p.startIndex + best] { rejected += 1 }
                confidenceSum += Double(p[p.startIndex + best])
                confusion[Int(set.labels[i + j])][best] += 1
            }
            i += n
        }
        return report(confusion: confusion, rejected: rejected, confidenceSum: confidenceSum,
                      seconds: Double(classifyNanos) / 1e9)
    }

    static func report(confusion: [[Int]], rejected: Int, confidenceSum: Double, seconds: Double) -> EvaluationReport {
        let total = confusion.joined().reduce(0, +)
        let correct = (0..<10).reduce(0) { $0 + confusion[$1][$1] }
        var precision = [Double](repeating: 0, count: 10), recall = precision, f1 = precision
        for c in 0..<10 {
            let predicted = (0..<10).reduce(0) { $0 + confusion[$1][c] }
            let actual = confusion[c].reduce(0, +)
            precision[c] = predicted > 0 ? Double(confusion[c][c]) / Double(predicted) : 0
            recall[c] = actual > 0 ? Double(confusion[c][c]) / Double(actual) : 0
            f1[c] = precision[c] + recall[c] > 0 ? 2 * precision[c] * recall[c] / (precision[c] + recall[c]) : 0
        }
        var pairs: [EvaluationReport.ConfusedPair] = []
        for t in 0..<10 { for p in 0..<10 where t != p && confusion[t][p] > 0 {
            pairs.append(.init(truth: t, predicted: p, count: confusion[t][p]))
        } }
        pairs.sort { $0.count != $1.count ? $0.count > $1.count : ($0.truth, $0.predicted) < ($1.truth, $1.predicted) }
        let accuracy = total > 0 ? Double(correct) / Double(total) : 0
        return EvaluationReport(count: total, accuracy: accuracy, confusion: confusion, precision: precision,
                                recall: recall, f1: f1, mostConfused: Array(pairs.prefix(5)), rejected: rejected,
                                digitsPerSecond: seconds > 0 ? Double(total) / seconds : 0,
                                calibrationGap: total > 0 ? confidenceSum / Double(total) - accuracy : 0)
    }
}
