import CBLAS
import Foundation
import Testing
@testable import NeuralNet
@testable import Training

/// A hand-built classifier: each crop's answer is computed from its first pixel, so a test can
/// tell which crop an output row came from. Records the batch sizes it was called with.
private final class StubClassifier: DigitClassifier {
    let classCount = 11
    /// Row for a crop whose first pixel is `x`.
    let answer: (Float) -> [Float]
    var calls: [Int] = []
    init(_ answer: @escaping (Float) -> [Float]) { self.answer = answer }

    func classify(_ inputs: UnsafeBufferPointer<Float>, count: Int, into probabilities: UnsafeMutableBufferPointer<Float>) {
        calls.append(count)
        for i in 0..<count {
            let row = answer(inputs[i * 784])
            for k in 0..<classCount { probabilities[i * classCount + k] = row[k] }
        }
    }
}

/// The screen: a crop whose first pixel is x = index + confidence / 2 (confidence in [0, 1)) is
/// the digit index % 10 with that probability, the rest spread evenly.
private func screenRow(_ x: Float) -> [Float] {
    let index = Int(x.rounded(.down)), confidence = (x - Float(index)) * 2
    var row = [Float](repeating: (1 - confidence) / 10, count: 11)
    row[index % 10] = confidence
    return row
}

/// The full model: puts all its mass on "not a digit" and marks the crop's index in class 0.
private func fullRow(_ x: Float) -> [Float] {
    var row = [Float](repeating: 0, count: 11)
    row[0] = Float(Int(x.rounded(.down))) / 1000
    row[10] = 1 - row[0]
    return row
}

struct CascadeClassifierTests {
    /// Crops 0...n-1; crop i's screen confidence is `confidences[i]`.
    private func crops(_ confidences: [Float]) -> [Float] {
        var x = [Float](repeating: 0, count: confidences.count * 784)
        for (i, c) in confidences.enumerated() { x[i * 784] = Float(i) + c / 2 }
        return x
    }

    @Test func unsureRowsComeFromTheFullModelInOrderAndSureOnesFromTheScreen() throws {
        let screen = StubClassifier(screenRow), full = StubClassifier(fullRow)
        let cascade = try CascadeClassifier(screen: screen, full: full, threshold: 0.8)
        let confidences: [Float] = [0.95, 0.5, 0.85, 0.7, 0.99, 0.2, 0.9, 0.6]
        let out = cascade.classify(crops(confidences))
        let input = crops(confidences)
        var escalated: [Int] = []
        for i in 0..<confidences.count {
            let row = Array(out[(i * 11)..<((i + 1) * 11)])
            if confidences[i] < 0.8 {
                escalated.append(i)
                #expect(row == fullRow(input[i * 784]), "row \(i) should be the full model's answer for crop \(i)")
            } else {
                #expect(row == screenRow(input[i * 784]), "row \(i) should be the screen's answer")
            }
        }
        #expect(escalated == [1, 3, 5, 7])
        #expect(screen.calls == [8], "one batched screen pass")
        #expect(full.calls == [4], "one batched full pass over the unsure rows only")
        #expect(cascade.screenedCount == 8 && cascade.escalatedCount == 4)
    }

    @Test func allSureSkipsTheFullModelAndAllUnsureUsesItForEveryRow() throws {
        let screen = StubClassifier(screenRow), full = StubClassifier(fullRow)
        let cascade = try CascadeClassifier(screen: screen, full: full, threshold: 0.9)
        let sure = cascade.classify(crops([0.95, 0.99, 0.91]))
        #expect(full.calls.isEmpty)
        #expect(Array(sure[0..<11]) == screenRow(0.475))
        let unsure = cascade.classify(crops([0.1, 0.2, 0.3]))
        #expect(full.calls == [3])
        for i in 0..<3 { #expect(unsure[i * 11 + 0] == Float(i) / 1000 && unsure[i * 11 + 10] == 1 - Float(i) / 1000) }
        // Larger batch than any before: buffers grow, answers stay right.
        let many = (0..<100).map { Float($0 % 2 == 0 ? 0.3 : 0.97) }
        let input = crops(many)
        let out = cascade.classify(input)
        #expect(full.calls.last == 50)
        for i in 0..<100 {
            let row = Array(out[(i * 11)..<((i + 1) * 11)])
            #expect(row == (i % 2 == 0 ? fullRow(input[i * 784]) : screenRow(input[i * 784])), "row \(i)")
        }
    }

    @Test func averagingGivesUnsureRowsTheMeanOfBothModelsAndLeavesSureRowsAlone() throws {
        let first = StubClassifier(screenRow), second = StubClassifier(fullRow)
        let pair = try CascadeClassifier(screen: first, full: second, threshold: 0.8, combination: .average)
        let confidences: [Float] = [0.9, 0.4, 0.85, 0.6]
        let input = crops(confidences)
        let out = pair.classify(input)
        for i in 0..<confidences.count {
            let row = Array(out[(i * 11)..<((i + 1) * 11)])
            let a = screenRow(input[i * 784]), b = fullRow(input[i * 784])
            if confidences[i] < 0.8 {
                for k in 0..<11 { #expect(abs(row[k] - (a[k] + b[k]) / 2) < 1e-7, "row \(i) class \(k)") }
                #expect(abs(row.reduce(0, +) - 1) < 1e-5, "the mean of two distributions is one")
            } else {
                #expect(row == a, "row \(i) keeps the first model's answer")
            }
        }
        #expect(second.calls == [2])
    }

    @Test func refusesModelsWithDifferentClassCounts() throws {
        let ten = try Network(spec: "flatten,dense10")
        let eleven = try Network(spec: "flatten,dense11")
        #expect(throws: NetworkError.self) {
            try CascadeClassifier(screen: NetworkClassifier(network: ten), full: NetworkClassifier(network: eleven))
        }
    }
}

/// The shipped pair (Models/digitd-screen.safetensors in front of the default model), as every
/// command uses it, on the 10,000 MNIST test images.
struct ShippedCascadeTests {
    nonisolated(unsafe) static let models: (screen: Model, full: Model) = {
        openblas_set_num_threads(1)
        let full = try! Model.load(path: DefaultModel.path()!)
        let screenPath = (DefaultModel.path()! as NSString).deletingLastPathComponent + "/" + CascadeClassifier.screenFileName
        return (try! Model.load(path: screenPath), full)
    }()

    /// A fresh cascade per test: classifiers keep per-call buffers, and tests run in parallel.
    static func cascade() throws -> CascadeClassifier {
        try CascadeClassifier(screen: try models.screen.makeClassifier(), full: try models.full.makeClassifier())
    }

    @Test func screenIsSmallAndCheap() throws {
        let screenPath = (try #require(DefaultModel.path()) as NSString).deletingLastPathComponent + "/" + CascadeClassifier.screenFileName
        let screen = try Model.load(path: screenPath)
        #expect(screen.metadata["classes"] == "0123456789N")
        #expect(screen.network.multiplyAdds <= 500_000)
        #expect(screen.metadata["training"]?.contains(" train --data") == true)
    }

    @Test func reachesAtLeast99Point6PercentOnTheMNISTTestSet() throws {
        let c = try Self.cascade()
        let r = Evaluator.evaluate(c, on: TrainingTests.mnistTest)
        #expect(r.count == 10000)
        #expect(r.accuracy >= 0.996, "cascade MNIST test accuracy \(r.accuracy)")
        // The point of the cascade: most digits never reach the full model.
        #expect(c.escalatedFraction < 0.3, "escalated \(c.escalatedFraction)")
    }

    @Test func rejectsSyntheticNonDigits() throws {
        var rng = RandomSource(seed: 12345)
        var crops = [Float](repeating: 0, count: 500 * 784)
        crops.withUnsafeMutableBufferPointer { p in
            for i in 0..<500 { NegativeSamples.draw(into: p.baseAddress! + i * 784, random: &rng) }
        }
        let probs = try Self.cascade().classify(crops)
        let rejected = (0..<500).filter { probs[$0 * 11 + 10] > 0.7 }.count
        #expect(rejected >= 450, "only \(rejected) of 500 non-digits have p(not a digit) > 0.7")
    }

    @Test func staysAccurateUnderEachCorruptionOfTheStressSuite() throws {
        let results = RobustnessSuite.evaluate(try Self.cascade(), on: TrainingTests.mnistTest.subset(0..<3000))
        let mean = results.reduce(0) { $0 + $1.accuracy } / Double(results.count)
        for r in results { #expect(r.accuracy >= 0.95, "\(r.name): \(r.accuracy)") }
        #expect(mean >= 0.97, "mean stress accuracy \(mean)")
    }
}
