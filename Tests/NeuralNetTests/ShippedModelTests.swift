import CBLAS
import Foundation
import Testing
@testable import NeuralNet
@testable import Training

/// The model every command uses by default (Models/digitd-default.safetensors), measured on the
/// 10,000 MNIST test images committed as a fixture.
struct ShippedModelTests {
    nonisolated(unsafe) static let model: Model = {
        openblas_set_num_threads(1)
        return try! Model.load(path: DefaultModel.path()!)
    }()

    @Test func isFoundWithoutFlagsAndDescribesItself() throws {
        let path = try #require(DefaultModel.path())
        #expect(path.hasSuffix("Models/digitd-default.safetensors"))
        let m = Self.model
        #expect(m.metadata["classes"] == "0123456789N")
        #expect(m.metadata["architecture"] == Trainer.shippedArchitecture)
        #expect(m.metadata["training"]?.contains(" train --data") == true)
        #expect(m.network.multiplyAdds <= 5_000_000)
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
        #expect(size < 2_000_000, "the shipped model is \(size) bytes")
    }

    @Test func reachesAtLeast99Point6PercentOnTheMNISTTestSet() throws {
        let classifier = try Self.model.makeClassifier()
        let r = Evaluator.evaluate(classifier, on: TrainingTests.mnistTest)
        #expect(r.count == 10000)
        #expect(r.accuracy >= 0.996, "MNIST test accuracy \(r.accuracy)")
    }

    /// Label smoothing caps probabilities near 0.9, so rejection uses p(not a digit) > 0.7
    /// rather than the arg-max (the scanner's rule). Measured: 30 of 10,000 MNIST digits.
    @Test func fewRealDigitsAreTakenForNonDigits() throws {
        let classifier = try Self.model.makeClassifier()
        let set = TrainingTests.mnistTest
        let probs = classifier.classify(set.images.map { Float($0) / 255 })
        let rejected = (0..<set.count).filter { probs[$0 * 11 + 10] > 0.7 }.count
        #expect(rejected <= 60, "\(rejected) MNIST digits have p(not a digit) > 0.7")
    }

    @Test func staysAccurateUnderEachCorruptionOfTheStressSuite() throws {
        let classifier = try Self.model.makeClassifier()
        let results = RobustnessSuite.evaluate(classifier, on: TrainingTests.mnistTest.subset(0..<3000))
        let mean = results.reduce(0) { $0 + $1.accuracy } / Double(results.count)
        for r in results { #expect(r.accuracy >= 0.95, "\(r.name): \(r.accuracy)") }
        #expect(mean >= 0.97, "mean stress accuracy \(mean)")
    }

    @Test func rejectsSyntheticNonDigits() throws {
        let classifier = try Self.model.makeClassifier()
        var rng = RandomSource(seed: 12345)   // a seed training never used for negatives
        var crops = [Float](repeating: 0, count: 500 * 784)
        crops.withUnsafeMutableBufferPointer { p in
            for i in 0..<500 { NegativeSamples.draw(into: p.baseAddress! + i * 784, random: &rng) }
        }
        let probs = classifier.classify(crops)
        let rejected = (0..<500).filter { probs[$0 * 11 + 10] > 0.7 }.count
        #expect(rejected >= 450, "only \(rejected) of 500 non-digits have p(not a digit) > 0.7")
    }
}
