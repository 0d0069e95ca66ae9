import Foundation
import Testing
@testable import NeuralNet
@testable import Training

/// Short real training runs on the MNIST test fixture (the only MNIST the tests may assume).
struct TrainingTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/mnist").path
    static let mnistTest = try! LabelledImages.load(images: fixture + "/t10k-images-idx3-ubyte.gz",
                                                    labels: fixture + "/t10k-labels-idx1-ubyte.gz")

    func smallConfig() -> TrainingConfiguration {
        var c = TrainingConfiguration()
        c.architecture = "conv8k3p1,bn,relu,pool2,conv16k3,bn,relu,pool2,flatten,dense11"
        c.epochs = 2; c.batchSize = 64; c.holdout = 1000; c.learningRate = 3e-3
        c.augmentation.negativeFraction = 0.1
        return c
    }

    @Test func aShortRunOnFourThousandImagesLearnsFarAboveChance() throws {
        let trainer = try Trainer(config: smallConfig(), data: Self.mnistTest.subset(0..<4000))
        var records: [EpochRecord] = []
        let finished = try trainer.run(progress: { _ in }, onEpoch: { records.append($0) }, shouldStop: { false })
        #expect(finished && records.count == 2)
        #expect(records[1].trainLoss < records[0].trainLoss)
        let validation = try #require(records.last?.validationAccuracy)
        #expect(validation > 0.85, "validation accuracy \(validation) after 2 short epochs")
        // and on images it never saw
        let classifier = NetworkClassifier(network: try trainer.network.foldedForInference())
        let unseen = Evaluator.evaluate(classifier, on: Self.mnistTest.subset(5000..<7000))
        #expect(unseen.accuracy > 0.85, "unseen accuracy \(unseen.accuracy)")
    }

    @Test func extraCropsJoinTheTrainingPartAndNotADigitLabelsNeedElevenClasses() throws {
        let data = Self.mnistTest.subset(0..<600)
        var c = smallConfig()
        c.holdout = 100
        let extra = LabelledImages(count: 30, rows: 28, columns: 28, images: [UInt8](repeating: 9, count: 30 * 784),
                                   labels: (0..<30).map { UInt8($0 % 11) })
        let t = try Trainer(config: c, data: data, extra: extra)
        #expect(t.train.count == 500 + 30 && t.validation?.count == 100)
        #expect(Array(t.train.labels.suffix(30)) == extra.labels && t.validation?.labels == Array(data.labels[500..<600]))
        c.architecture = "conv8k3p1,bn,relu,pool2,flatten,dense10"
        #expect(throws: TrainingError.self) { try Trainer(config: c, data: data, extra: extra) }
    }

    @Test func initStartsFromAModelsWeightsAndRefusesAnotherArchitecture() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("digitd-init-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var c = smallConfig()
        c.seed = 7
        let source = try Trainer(config: c, data: Self.mnistTest.subset(0..<300))
        try Model(network: source.network).write(to: dir + "/m.safetensors")
        c.seed = 8   // a different random start, then the model's weights over it
        let tuned = try Trainer(config: c, data: Self.mnistTest.subset(0..<300))
        let p = tuned.network.parameterCount
        #expect(Array(UnsafeBufferPointer(start: tuned.network.values, count: p)) != Array(UnsafeBufferPointer(start: source.network.values, count: p)))
        try tuned.start(from: dir + "/m.safetensors")
        #expect(Array(UnsafeBufferPointer(start: tuned.network.values, count: p)) == Array(UnsafeBufferPointer(start: source.network.values, count: p)))
        c.architecture = "conv8k3p1,bn,relu,pool2,flatten,dense11"
        let other = try Trainer(config: c, data: Self.mnistTest.subset(0..<300))
        #expect(throws: TrainingError.self) { try other.start(from: dir + "/m.safetensors") }
    }

    @Test func theSameSeedGivesTheSameRunTwice() throws {
        var c = smallConfig()
        c.epochs = 1
        let data = Self.mnistTest.subset(0..<1200)
        func weights() throws -> [Float] {
            let t = try Trainer(config: c, data: data)
            _ = try t.run(progress: { _ in }, onEpoch: { _ in }, shouldStop: { false })
            return Array(UnsafeBufferPointer(start: t.network.values, count: t.network.parameterCount))
        }
        let a = try weights(), b = try weights()
        #expect(a == b)
        c.seed = 2
        let t = try Trainer(config: c, data: data)
        _ = try t.run(progress: { _ in }, onEpoch: { _ in }, shouldStop: { false })
        #expect(Array(UnsafeBufferPointer(start: t.network.values, count: t.network.parameterCount)) != a)
    }

    @Test func aCheckpointResumesWhereItStopped() throws {
        var c = smallConfig()
        c.epochs = 2
        let data = Self.mnistTest.subset(0..<1200)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("digitd-ckpt-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // run 1 epoch, save, stop
        let first = try Trainer(config: c, data: data)
        _ = try first.run(progress: { _ in }, onEpoch: { _ in
            try Model(network: first.network).write(to: dir + "/m.safetensors")
            try first.writeCheckpoint(to: dir + "/m.ckpt")
        }, shouldStop: { first.epochsDone >= 1 })
        let resumed = try Trainer(config: c, data: data)
        try resumed.resume(modelPath: dir + "/m.safetensors", checkpointPath: dir + "/m.ckpt")
        #expect(resumed.epochsDone == 1 && resumed.history.count == 1)
        _ = try resumed.run(progress: { _ in }, onEpoch: { _ in }, shouldStop: { false })
        // an uninterrupted run ends with the same weights
        let straight = try Trainer(config: c, data: data)
        _ = try straight.run(progress: { _ in }, onEpoch: { _ in }, shouldStop: { false })
        #expect(Array(UnsafeBufferPointer(start: resumed.network.values, count: resumed.network.parameterCount))
                == Array(UnsafeBufferPointer(start: straight.network.values, count: straight.network.parameterCount)))
    }

    @Test func dataParallelReplicasGiveTheFullBatchGradient() throws {
        // No batch norm or dropout, so splitting the batch must not change the gradient.
        var c = smallConfig()
        c.architecture = "conv4k3p1,relu,pool2,conv6k3,relu,flatten,dense11"
        let data = Self.mnistTest.subset(0..<256)
        let images = data.images.map { Float($0) / 255 }, labels = data.labels.map { Int32($0) }
        func gradient(threads: Int) throws -> [Float] {
            c.threads = threads
            let t = try Trainer(config: c, data: data)
            #expect(t.replicas.count == threads)
            _ = t.computeGradients(images: images, labels: labels, count: 100)
            return Array(UnsafeBufferPointer(start: t.network.gradients, count: t.network.parameterCount))
        }
        let one = try gradient(threads: 1), three = try gradient(threads: 3)
        let scale = one.map(abs).max()!
        let worst = zip(one, three).map { abs($0 - $1) }.max()!
        #expect(worst <= 1e-4 * scale, "largest difference \(worst) against gradient scale \(scale)")
    }

    @Test func aCorruptCheckpointIsRejectedInOneLine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("digitd-ckpt-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        FileManager.default.createFile(atPath: dir + "/x.ckpt", contents: Data("DGTCKPT1 garbage".utf8))
        let t = try Trainer(config: smallConfig(), data: Self.mnistTest.subset(0..<100))
        #expect(throws: TrainingError.self) { try t.resume(modelPath: dir + "/x.safetensors", checkpointPath: dir + "/x.ckpt") }
    }

    @Test func metricsOfAKnownConfusionMatrix() {
        var m = [[Int]](repeating: [Int](repeating: 0, count: 10), count: 10)
        for d in 0..<10 { m[d][d] = 10 }
        m[3][5] = 5   // five 3s called 5
        let r = Evaluator.report(confusion: m, rejected: 0, confidenceSum: 0, seconds: 1)
        #expect(r.count == 105 && abs(r.accuracy - 100.0 / 105) < 1e-12)
        #expect(abs(r.recall[3] - 10.0 / 15) < 1e-12 && abs(r.precision[5] - 10.0 / 15) < 1e-12)
        #expect(abs(r.f1[3] - 0.8) < 1e-12)
        #expect(r.mostConfused.first?.truth == 3 && r.mostConfused.first?.predicted == 5)
    }

    @Test func learningRateWarmsUpThenDecays() {
        let s = LearningRateSchedule(base: 1, warmupSteps: 10, totalSteps: 110)
        #expect(abs(s.rate(at: 0) - 0.1) < 1e-6 && abs(s.rate(at: 10) - 1) < 1e-6)
        #expect(s.rate(at: 60) < 0.6 && s.rate(at: 60) > 0.4)
        #expect(abs(s.rate(at: 110) - 0.01) < 1e-6)
    }
}
