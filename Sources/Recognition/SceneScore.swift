import Foundation
import Imaging

/// Detection quality against known truth, summed over scenes.
///
/// A detection *finds* a true digit when their boxes have IoU >= 0.5 (one-to-one, best IoU
/// first); it is a *hit* when it also has the right digit. End-to-end precision, recall and F1
/// count hits; localisation recall/precision count finds; label accuracy is hits / finds.
/// A true number is read exactly when some output number has the same digits and IoU >= 0.5.
public struct SceneScore: Sendable, Equatable {
    public var scenes = 0
    public var trueDigits = 0
    public var detections = 0
    public var found = 0
    public var hits = 0
    public var trueNumbers = 0
    public var numbersExact = 0
    /// Pages with no digits at all, and the detections made on them (all false).
    public var emptyPages = 0
    public var emptyPageDetections = 0

    public init() {}

    public var recall: Double { ratio(hits, trueDigits) }
    public var precision: Double { ratio(hits, detections) }
    public var f1: Double { recall + precision > 0 ? 2 * recall * precision / (recall + precision) : 0 }
    public var localisationRecall: Double { ratio(found, trueDigits) }
    public var localisationPrecision: Double { ratio(found, detections) }
    public var labelAccuracy: Double { ratio(hits, found) }
    public var numberExactMatch: Double { ratio(numbersExact, trueNumbers) }
    public var falsePositivesPerEmptyPage: Double { emptyPages > 0 ? Double(emptyPageDetections) / Double(emptyPages) : 0 }

    private func ratio(_ a: Int, _ b: Int) -> Double { b > 0 ? Double(a) / Double(b) : 0 }

    /// Adds one scene's outcome.
    public mutating func add(truthDigits: [(box: Box, digit: Int)], truthNumbers: [(box: Box, value: String)],
                             reading: FrameReading) {
        scenes += 1
        if truthDigits.isEmpty { emptyPages += 1; emptyPageDetections += reading.detections.count }
        trueDigits += truthDigits.count
        detections += reading.detections.count
        var pairs: [(Double, Int, Int)] = []
        for (t, truth) in truthDigits.enumerated() {
            for (d, det) in reading.detections.enumerated() {
                let iou = truth.box.iou(det.box)
                if iou >= 0.5 { pairs.append((iou, t, d)) }
            }
        }
        pairs.sort { $0.0 > $1.0 }
        var usedT = Set<Int>(), usedD = Set<Int>()
        for (_, t, d) in pairs where !usedT.contains(t) && !usedD.contains(d) {
            usedT.insert(t); usedD.insert(d)
            found += 1
            if reading.detections[d].digit == truthDigits[t].digit { hits += 1 }
        }
        trueNumbers += truthNumbers.count
        for n in truthNumbers where reading.numbers.contains(where: { $0.value == n.value && $0.box.iou(n.box) >= 0.5 }) {
            numbersExact += 1
        }
    }

    public mutating func add(_ o: SceneScore) {
        scenes += o.scenes; trueDigits += o.trueDigits; detections += o.detections; found += o.found; hits += o.hits
        trueNumbers += o.trueNumbers; numbersExact += o.numbersExact
        emptyPages += o.emptyPages; emptyPageDetections += o.emptyPageDetections
    }

    /// A few lines for a terminal or a report.
    public var summary: String {
        func f(_ v: Double) -> String { String(format: "%.4f", v) }
        return """
        scenes \(scenes) (\(emptyPages) without digits), true digits \(trueDigits), detections \(detections)
        end-to-end F1 \(f(f1))  precision \(f(precision))  recall \(f(recall))
        localisation recall \(f(localisationRecall))  precision \(f(localisationPrecision))  label accuracy \(f(labelAccuracy))
        numbers exact \(numbersExact)/\(trueNumbers) = \(f(numberExactMatch))
        false positives on pages without digits: \(emptyPageDetections) on \(emptyPages) pages (\(f(falsePositivesPerEmptyPage)) per page)
        """
    }
}
