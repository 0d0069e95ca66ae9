import ArgumentParser
import CBLAS
import Foundation
import NeuralNet
import Training

extension Digitd {
    struct Eval: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "eval",
            abstract: "Measure a model on a labelled IDX set: accuracy, confusion matrix, precision/recall/F1.",
            discussion: """
            Example (the shipped model on the MNIST test set bundled with the tests):
              digitd eval --images Tests/Fixtures/mnist/t10k-images-idx3-ubyte.gz \\
                          --labels Tests/Fixtures/mnist/t10k-labels-idx1-ubyte.gz
            With --json, prints one JSON object: accuracy (0..1), confusion (10x10, rows = true digit),
            precision, recall, f1 (per class), most_confused, rejected, digits_per_second.
            """)

        @OptionGroup var modelOptions: ModelOptions
        @Option(help: "IDX image file (gzip or raw).")
        var images: String
        @Option(help: "IDX label file (gzip or raw).")
        var labels: String
        @Flag(help: "Print one JSON object instead of the report.")
        var json = false
        @Option(help: "Write the confusion-matrix picture here (PNG).")
        var confusionPng: String?
        @Option(help: "Images per forward pass.")
        var batchSize: Int = 256
        @Flag(help: "Also measure accuracy under each corruption of the stress suite (noise, blur, rotation, shear, scale, translation, thick/thin strokes, low contrast, fog, clutter lines).")
        var robustness = false
        @Option(help: ArgumentHelp("Write every image's class probabilities here (float32, little-endian, one row per image).", visibility: .hidden))
        var dumpProbabilities: String?

        func run() async throws {
            let set = try LabelledImages.load(images: images, labels: labels)
            openblas_set_num_threads(1)
            let classifier = try modelOptions.loadClassifier(for: .digits)
            (classifier as? CascadeClassifier)?.resetCounts()
            let r = Evaluator.evaluate(classifier, on: set, batchSize: max(1, batchSize))
            if let dumpProbabilities {
                let probs = classifier.classify(set.images.map { Float($0) / 255 })
                try probs.withUnsafeBytes { try Data($0).write(to: URL(fileURLWithPath: dumpProbabilities)) }
            }
            let classifierLine = classifier.describe(fullPath: try modelOptions.resolvedPath(for: .digits))
            let cascadeFields = Self.cascadeFields(classifier)
            if let confusionPng { try TrainingPlots.writeConfusion(r.confusion, accuracy: r.accuracy, to: confusionPng) }
            let stress = robustness ? RobustnessSuite.evaluate(classifier, on: set) : []
            let stressMean = stress.isEmpty ? 0 : stress.reduce(0) { $0 + $1.accuracy } / Double(stress.count)
            if json {
                let object: [String: Any] = [
                    "accuracy": r.accuracy, "count": r.count, "confusion": r.confusion,
                    "precision": r.precision.map(round4), "recall": r.recall.map(round4), "f1": r.f1.map(round4),
                    "most_confused": r.mostConfused.map { ["true": $0.truth, "predicted": $0.predicted, "count": $0.count] },
                    "rejected": r.rejected, "digits_per_second": Int(r.digitsPerSecond),
                    "model": try modelOptions.resolvedPath(for: .digits),
                ].merging(cascadeFields) { a, _ in a }
                 .merging(robustness ? ["robustness": Dictionary(uniqueKeysWithValues: stress.map { ($0.name, round4($0.accuracy)) }),
                                        "robustness_mean": round4(stressMean)] : [:]) { a, _ in a }
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            print(classifierLine)
            print(String(format: "accuracy %.2f%% (%d of %d), %d errors; %.0f digits/s (one thread, batch %d)",
                         100 * r.accuracy, Int((r.accuracy * Double(r.count)).rounded()), r.count,
                         r.count - Int((r.accuracy * Double(r.count)).rounded()), r.digitsPerSecond, batchSize))
            if r.rejected > 0 { print("\(r.rejected) digits had 'not a digit' as their top class") }
            print("\nconfusion matrix (rows = true digit, columns = predicted)")
            print("      " + (0..<10).map { String(format: "%5d", $0) }.joined())
            for t in 0..<10 { print(String(format: "%5d ", t) + r.confusion[t].map { String(format: "%5d", $0) }.joined()) }
            print("\ndigit  precision  recall     f1")
            for c in 0..<10 { print(String(format: "%5d  %9.4f  %6.4f  %6.4f", c, r.precision[c], r.recall[c], r.f1[c])) }
            if !r.mostConfused.isEmpty {
                print("\nmost confused: " + r.mostConfused.map { "\($0.truth)→\($0.predicted) ×\($0.count)" }.joined(separator: ", "))
            }
            if let confusionPng { print("confusion matrix picture: \(confusionPng)") }
            if robustness {
                print("\nrobustness (each corruption applied to every image, fixed seed):")
                for s in stress { print(String(format: "  %-26@ %6.2f%%", s.name, 100 * s.accuracy)) }
                print(String(format: "  %-26@ %6.2f%%", "mean", 100 * stressMean))
            }
        }

        func round4(_ x: Double) -> Double { (x * 10000).rounded() / 10000 }

        /// With the cascade: its threshold and the share of the set's digits the full model read.
        static func cascadeFields(_ classifier: DigitClassifier) -> [String: Any] {
            guard let c = classifier as? CascadeClassifier else { return ["cascade": false] }
            return ["cascade": true, "cascade_threshold": Double(c.threshold),
                    "escalated_fraction": (c.escalatedFraction * 10000).rounded() / 10000]
        }
    }
}
