import Foundation
import NeuralNet

/// Everything that defines a training run; stored in the model's metadata and the checkpoint.
public struct TrainingConfiguration: Codable, Sendable, Equatable {
    public var architecture = Trainer.shippedArchitecture
    public var epochs = 20
    public var batchSize = 128
    public var learningRate: Float = 3e-3
    public var weightDecay: Float = 5e-4
    public var labelSmoothing: Float = 0.1
    public var warmupEpochs: Float = 1
    public var seed: UInt64 = 1
    /// Images held out from the end of the training set for per-epoch validation (0 = none).
    public var holdout = 5000
    public var augmentation = AugmentationOptions()
    /// Data-parallel threads: each batch is split into this many parts, one network replica per
    /// part (single-threaded BLAS each), gradients averaged. nil = one per core, at most 4.
    public var threads: Int?
    public init() {}
}

/// One epoch's figures.
public struct EpochRecord: Codable, Sendable {
    public var epoch: Int
    public var trainLoss: Double
    public var trainAccuracy: Double
    public var validationAccuracy: Double?
    public var testAccuracy: Double?
    public var learningRate: Double
    public var seconds: Double
    public var imagesPerSecond: Double
}

/// Progress within an epoch, for the progress bar.
public struct TrainingProgress: Sendable {
    public var epoch: Int, epochs: Int, batch: Int, batches: Int
    public var loss: Double, accuracy: Double, imagesPerSecond: Double, etaSeconds: Double
}

public enum TrainingError: Error, CustomStringConvertible {
    case checkpoint(String)
    case data(String)
    public var description: String { switch self { case .checkpoint(let s), .data(let s): return s } }
}

/// The training loop: AdamW with warm-up + cosine decay, label smoothing, augmentation computed
/// on a background thread one batch ahead, validation and a checkpoint after every epoch.
/// A fixed seed gives the same run twice: every batch's permutation and augmentation draws
/// come from a generator seeded by (seed, epoch, batch), whatever the thread timing.
// @unchecked: batch preparation (the augmentation thread, or the replicas after their backward
// pass) only reads the training set and fills the batch the loop is not using; the loop waits for
// it (DispatchGroup, or the end of computeGradients) before touching that batch.
public final class Trainer: @unchecked Sendable {
    /// The shipped network: 4.97 M multiply-adds per digit; class 10 = "not a digit".
    public static let shippedArchitecture =
        "conv32k3p1,bn,relu,pool2,conv64k3p1,bn,relu,pool2,conv64k3,bn,relu,flatten,dense128,bn,relu,drop0.3,dense11"
    /// The reference network of the issue (Keras-tutorial style), for speed comparisons.
    public static let referenceArchitecture =
        "conv32k3,bn,relu,pool2,conv64k3,bn,relu,pool2,flatten,dense128,bn,relu,drop0.5,dense10"

    public let config: TrainingConfiguration
    public let network: Network
    public private(set) var optimiser: AdamW
    public private(set) var history: [EpochRecord] = []
    public private(set) var epochsDone = 0
    let train: LabelledImages
    let validation: LabelledImages?
    let test: LabelledImages?
    let negatives: Int
    let digitsPerBatch: Int

    /// `extra` (labels 0-10, 10 = "not a digit") joins the training part of `data` after the
    /// holdout is taken, so validation stays MNIST.
    public init(config: TrainingConfiguration, data: LabelledImages, extra: LabelledImages? = nil, test: LabelledImages? = nil) throws {
        self.config = config
        network = try Network(spec: config.architecture)
        network.initialise(seed: config.seed)
        optimiser = AdamW(parameterCount: network.parameterCount, weightDecay: config.weightDecay)
        let holdout = min(max(config.holdout, 0), data.count / 2)
        let mnist = holdout > 0 ? data.subset(0 ..< data.count - holdout) : data
        if let extra, extra.count > 0 {
            guard extra.rows == 28, extra.columns == 28 else {
                throw TrainingError.data("extra training images are \(extra.rows)x\(extra.columns), want 28x28")
            }
            if network.classCount <= 10, extra.labels.contains(where: { $0 > 9 }) {
                throw TrainingError.data("extra training images have \"not a digit\" labels (10) but \(config.architecture) has \(network.classCount) classes")
            }
            train = mnist.appending(extra)
        } else {
            train = mnist
        }
        validation = holdout > 0 ? data.subset(data.count - holdout ..< data.count) : nil
        self.test = test
        negatives = network.classCount > 10 ? Int((Float(config.batchSize) * config.augmentation.negativeFraction).rounded()) : 0
        digitsPerBatch = config.batchSize - negatives
        let parts = max(1, min(config.threads ?? min(ProcessInfo.processInfo.activeProcessorCount, 4), config.batchSize / 4))
        var replicas = [network]
        for r in 1..<parts {
            let replica = try Network(spec: config.architecture, sharingValuesWith: network)
            for l in replica.layers { (l as? Dropout)?.random = RandomSource(seed: config.seed &+ 1000 &* UInt64(r)) }
            replicas.append(replica)
        }
        self.replicas = replicas
        if parts == 1 {
            // One network gets its parallelism from OpenBLAS's threads inside each GEMM, which
            // pays only on big GEMMs: keep the whole batch's columns instead of L2-sized chunks.
            for l in network.layers { (l as? Conv2D)?.trainingColumnBudget = 1 << 30 }
        }
        lossGradients = replicas.map { _ in Tensor(shape: [0]) }
    }

    /// `network` first, then its value-sharing replicas (data parallelism).
    let replicas: [Network]
    private let lossGradients: [Tensor]

    /// Forward and backward of one batch, split across the replicas in parallel; leaves the
    /// batch-mean gradient in `network.gradients`. Returns the mean loss and the number of
    /// samples whose top class was right.
    /// `alongside(r, parts)`, if given, runs on replica r's thread after its backward pass (the
    /// training loop prepares part r of the next batch there).
    func computeGradients(images: UnsafePointer<Float>, labels: UnsafePointer<Int32>, count: Int,
                          alongside: (@Sendable (Int, Int) -> Void)? = nil) -> (loss: Double, correct: Int) {
        let parts = min(replicas.count, count)
        var losses = [Double](repeating: 0, count: parts), hits = [Int](repeating: 0, count: parts)
        let bounds = (0...parts).map { $0 * count / parts }
        losses.withUnsafeMutableBufferPointer { lossOut in
            hits.withUnsafeMutableBufferPointer { hitOut in
                nonisolated(unsafe) let lossOut = lossOut, hitOut = hitOut
                nonisolated(unsafe) let images = images, labels = labels
                let work: @Sendable (Int) -> Void = { r in
                    let net = self.replicas[r], start = bounds[r], n = bounds[r + 1] - start
                    net.zeroGradients()
                    let logits = net.forward(images + start * 784, count: n, training: true)
                    let k = logits.shape[1]
                    var correct = 0
                    for j in 0..<n {
                        let row = logits.data + j * k
                        var best = 0
                        for c in 1..<k where row[c] > row[best] { best = c }
                        if best == Int(labels[start + j]) { correct += 1 }
                    }
                    let loss = SoftmaxCrossEntropy.lossAndGradient(logits: logits, labels: labels + start,
                                                                   smoothing: self.config.labelSmoothing,
                                                                   gradient: self.lossGradients[r])
                    net.backward(self.lossGradients[r])
                    lossOut[r] = Double(loss) * Double(n)
                    hitOut[r] = correct
                    alongside?(r, parts)
                }
                if parts == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: parts, execute: work) }
            }
        }
        if parts > 1 {
            // each replica's gradient is the mean over its part: weight by part size
            let g = network.gradients, total = Float(count)
            let w0 = Float(bounds[1]) / total
            for i in 0..<network.parameterCount { g[i] *= w0 }
            for r in 1..<parts {
                let w = Float(bounds[r + 1] - bounds[r]) / total, gr = replicas[r].gradients
                for i in 0..<network.parameterCount { g[i] += w * gr[i] }
            }
        }
        return (losses.reduce(0, +) / Double(count), hits.reduce(0, +))
    }

    public var batchesPerEpoch: Int { (train.count + digitsPerBatch - 1) / digitsPerBatch }

    // MARK: batches

    /// One batch of network inputs. Plain buffers, so replicas can fill disjoint parts of it
    /// from several threads at once.
    final class Batch: @unchecked Sendable {
        let images: UnsafeMutablePointer<Float>
        let labels: UnsafeMutablePointer<Int32>
        var count = 0
        init(capacity: Int) {
            images = .allocate(capacity: capacity * 784); images.initialize(repeating: 0, count: capacity * 784)
            labels = .allocate(capacity: capacity); labels.initialize(repeating: 0, count: capacity)
        }
        deinit { images.deallocate(); labels.deallocate() }
    }

    private var order: [Int32] = []
    private var orderEpoch = -1

    private func permutation(epoch: Int) -> [Int32] {
        if orderEpoch != epoch {
            var rng = RandomSource(seed: config.seed &* 1_000_003 &+ UInt64(epoch))
            order = (0..<Int32(train.count)).map { $0 }
            for i in stride(from: order.count - 1, to: 0, by: -1) {
                let j = Int(rng.next() % UInt64(i + 1)); order.swapAt(i, j)
            }
            orderEpoch = epoch
        }
        return order
    }

    /// Samples in batch `index`: augmented digits, then synthetic negatives.
    func batchCount(index: Int) -> Int { min(digitsPerBatch, train.count - index * digitsPerBatch) + negatives }

    /// Fills positions `range` (all by default) of `batch` with batch `index` of `epoch`:
    /// augmented digits, then negatives. Each sample draws from its own seeded generator, so the
    /// batch is the same however its positions are split among threads.
    func makeBatch(epoch: Int, index: Int, order: [Int32], into batch: Batch, range: Range<Int>? = nil) {
        let start = index * digitsPerBatch
        let digits = min(digitsPerBatch, train.count - start)
        let positions = range ?? 0 ..< digits + negatives
        let batchSeed = config.seed ^ (UInt64(epoch) << 32) ^ UInt64(index) &* 0x9E37_79B9
        // negatives get the same camera effects as digits, none of the geometry
        var photo = config.augmentation
        photo.strokeProbability = 0
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 784) { scratch in
            train.images.withUnsafeBufferPointer { src in
                for j in positions {
                    var rng = RandomSource(seed: batchSeed &+ UInt64(j) &* 0xD1B5_4A32_D192_ED03)
                    let dst = batch.images + j * 784
                    if j < digits {
                        let idx = Int(order[start + j])
                        Augmenter.augment(src.baseAddress! + idx * 784, into: dst, scratch: scratch.baseAddress!,
                                          options: config.augmentation, random: &rng)
                        batch.labels[j] = Int32(train.labels[idx])
                    } else {
                        NegativeSamples.draw(into: dst, random: &rng)
                        Augmenter.photometric(dst, scratch: scratch.baseAddress!, options: photo, random: &rng)
                        batch.labels[j] = 10
                    }
                }
            }
        }
    }

    // MARK: the loop

    /// Trains until `config.epochs` are done or `shouldStop` says so (checked every batch).
    /// After each epoch: validation, `onEpoch` (save a checkpoint there). Returns true if all
    /// epochs finished, false if stopped early.
    public func run(progress: (TrainingProgress) -> Void, onEpoch: (EpochRecord) throws -> Void,
                    shouldStop: () -> Bool) throws -> Bool {
        let perEpoch = batchesPerEpoch
        let schedule = LearningRateSchedule(base: config.learningRate,
                                            warmupSteps: Int(config.warmupEpochs * Float(perEpoch)),
                                            totalSteps: config.epochs * perEpoch)
        if replicas.count > 1 { setBLASThreads(1) }   // the parallelism is across replicas
        let queue = DispatchQueue(label: "digitd.augment", qos: .userInitiated)
        let buffers = [Batch(capacity: config.batchSize), Batch(capacity: config.batchSize)]
        while epochsDone < config.epochs {
            let epoch = epochsDone
            let ord = permutation(epoch: epoch)
            let epochStart = Date()
            var lossSum = 0.0, correct = 0, seen = 0
            // Batch 0 first; then batch b+1 is prepared while training on b. With one replica a
            // background thread augments it alongside the compute; with several, each replica
            // augments its share right after its backward pass, which keeps the cores evenly
            // loaded (a third thread would stall whichever replica it displaced).
            let group = DispatchGroup()
            makeBatch(epoch: epoch, index: 0, order: ord, into: buffers[0])
            buffers[0].count = batchCount(index: 0)
            var lr: Float = 0
            for b in 0..<perEpoch {
                var alongside: (@Sendable (Int, Int) -> Void)?
                if b + 1 < perEpoch {
                    let next = buffers[(b + 1) % 2]
                    next.count = batchCount(index: b + 1)
                    if replicas.count > 1 {
                        let total = next.count
                        alongside = { r, parts in
                            self.makeBatch(epoch: epoch, index: b + 1, order: ord, into: next,
                                           range: r * total / parts ..< (r + 1) * total / parts)
                        }
                    } else {
                        queue.async(group: group) { self.makeBatch(epoch: epoch, index: b + 1, order: ord, into: next) }
                    }
                }
                let batch = buffers[b % 2]
                lr = schedule.rate(at: epoch * perEpoch + b)
                let (loss, hits) = computeGradients(images: batch.images, labels: batch.labels, count: batch.count,
                                                    alongside: alongside)
                correct += hits
                network.step(&optimiser, learningRate: lr)
                lossSum += loss * Double(batch.count); seen += batch.count
                group.wait()
                let elapsed = Date().timeIntervalSince(epochStart)
                if b % 10 == 0 || b == perEpoch - 1 {
                    let rate = Double(seen) / max(elapsed, 1e-9)
                    let remaining = Double((config.epochs - epoch) * perEpoch - b - 1) * Double(config.batchSize) / max(rate, 1)
                    progress(TrainingProgress(epoch: epoch + 1, epochs: config.epochs, batch: b + 1, batches: perEpoch,
                                              loss: lossSum / Double(seen), accuracy: Double(correct) / Double(seen),
                                              imagesPerSecond: rate, etaSeconds: remaining))
                }
                if shouldStop() { group.wait(); return false }
            }
            let seconds = Date().timeIntervalSince(epochStart)
            let classifier = NetworkClassifier(network: try network.foldedForInference())
            let val = validation.map { Evaluator.evaluate(classifier, on: $0).accuracy }
            let tst = test.map { Evaluator.evaluate(classifier, on: $0).accuracy }
            let record = EpochRecord(epoch: epoch + 1, trainLoss: lossSum / Double(seen),
                                     trainAccuracy: Double(correct) / Double(seen), validationAccuracy: val,
                                     testAccuracy: tst, learningRate: Double(lr), seconds: seconds,
                                     imagesPerSecond: Double(seen) / seconds)
            history.append(record)
            epochsDone += 1
            try onEpoch(record)
        }
        return true
    }

    // MARK: checkpoints

    /// `DGTCKPT1` | u32 version | JSON length u64 | JSON {config, epochsDone, step, history} |
    /// m (float32 x P) | v (float32 x P). Weights live in the model file beside it.
    public func writeCheckpoint(to path: String) throws {
        struct Header: Codable { var config: TrainingConfiguration; var epochsDone: Int; var step: Int; var history: [EpochRecord] }
        let json = try JSONEncoder().encode(Header(config: config, epochsDone: epochsDone, step: optimiser.state.step, history: history))
        var out = Data("DGTCKPT1".utf8)
        var version = UInt32(1).littleEndian, len = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &version) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: &len) { out.append(contentsOf: $0) }
        out.append(json)
        let st = optimiser.state
        st.m.withUnsafeBufferPointer { out.append($0) }
        st.v.withUnsafeBufferPointer { out.append($0) }
        try out.write(to: URL(fileURLWithPath: path + ".tmp"))
        _ = try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.moveItem(atPath: path + ".tmp", toPath: path)
    }

    /// Starts from the weights (and batch-norm statistics) of the model at `modelPath`, which
    /// must have this run's architecture: fine-tuning. The optimiser and schedule start afresh.
    public func start(from modelPath: String) throws {
        let model = try Model.load(path: modelPath)
        guard model.network.spec == network.spec, model.network.parameterCount == network.parameterCount else {
            throw TrainingError.data("\(modelPath): architecture \(model.network.spec) differs from \(config.architecture)")
        }
        network.copyValues(from: model.network)
    }

    /// Restores weights from `modelPath` and optimiser state, history and epoch from `checkpointPath`.
    public func resume(modelPath: String, checkpointPath: String) throws {
        struct Header: Codable { var config: TrainingConfiguration; var epochsDone: Int; var step: Int; var history: [EpochRecord] }
        guard let data = FileManager.default.contents(atPath: checkpointPath) else {
            throw TrainingError.checkpoint("\(checkpointPath): no checkpoint to resume from")
        }
        let bytes = [UInt8](data)
        guard bytes.count >= 20, String(decoding: bytes[0..<8], as: UTF8.self) == "DGTCKPT1" else {
            throw TrainingError.checkpoint("\(checkpointPath): not a digitd checkpoint")
        }
        var len = 0
        for i in 0..<8 { len |= Int(bytes[12 + i]) << (8 * i) }
        let p = network.parameterCount
        guard len > 0, 20 + len + 8 * p == bytes.count else {
            throw TrainingError.checkpoint("\(checkpointPath): truncated or from another architecture")
        }
        let header: Header
        do { header = try JSONDecoder().decode(Header.self, from: Data(bytes[20 ..< 20 + len])) } catch {
            throw TrainingError.checkpoint("\(checkpointPath): corrupt header")
        }
        guard header.config.architecture == config.architecture else {
            throw TrainingError.checkpoint("\(checkpointPath): architecture \(header.config.architecture) differs from \(config.architecture)")
        }
        let model = try Model.load(path: modelPath)
        guard model.network.parameterCount == p else {
            throw TrainingError.checkpoint("\(modelPath): does not match the checkpoint's architecture")
        }
        network.copyValues(from: model.network)
        var m = [Float](repeating: 0, count: p), v = m
        bytes.withUnsafeBytes { raw in
            let base = raw.baseAddress! + 20 + len
            m.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(start: base, count: 4 * p)) }
            v.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(start: base + 4 * p, count: 4 * p)) }
        }
        optimiser.restore(step: header.step, m: m, v: v)
        history = header.history
        epochsDone = header.epochsDone
    }
}
