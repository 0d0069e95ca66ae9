import ArgumentParser
import CBLAS
import Foundation
import NeuralNet
import Training

extension Digitd {
    struct Bench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bench",
            abstract: "Measure speed: training images/s, inference digits/s, and the vision pipeline per frame.",
            discussion: """
            Build with `swift build -c release` first: debug builds are 10-50x slower.
            Every figure is the median of --repeats runs. Training uses all cores (OpenBLAS threads)
            with augmentation on; inference and vision use one thread.
            """)

        enum Part: String, ExpressibleByArgument, CaseIterable { case all, training, inference, vision, layers }

        @OptionGroup var modelOptions: ModelOptions
        @Option(help: "What to measure: \(Part.allCases.map(\.rawValue).joined(separator: ", ")).")
        var part: Part = .all
        @Option(help: "Repetitions; the median is reported.")
        var repeats: Int = 5
        @Option(help: "Training batches per repetition.")
        var trainingBatches: Int = 40
        @Option(help: "Folder with MNIST IDX files for the training benchmark (random pixels if absent).")
        var data: String?
        @Option(help: "Training: measure only this architecture spec (default: the shipped and the reference nets).")
        var arch: String?

        func run() async throws {
            #if DEBUG
            Terminal.warn("this is a debug build; figures are not representative (use swift build -c release)")
            #endif
            if part == .all || part == .training { try trainingBench() }
            if part == .all || part == .inference { try inferenceBench() }
            if part == .all || part == .vision { try visionBench() }
            if part == .layers { try layerBench() }
        }

        static func median(_ xs: [Double]) -> Double {
            let s = xs.sorted()
            return s.isEmpty ? 0 : s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
        }

        func trainingSet() throws -> LabelledImages {
            if let data {
                return try LabelledImages.load(images: try MNISTFiles.find(in: data, split: "train-images-idx3-ubyte"),
                                               labels: try MNISTFiles.find(in: data, split: "train-labels-idx1-ubyte"))
            }
            var rng = RandomSource(seed: 3)
            let n = 8192
            return LabelledImages(count: n, rows: 28, columns: 28,
                                  images: (0..<(n * 784)).map { _ in UInt8(truncatingIfNeeded: rng.next()) },
                                  labels: (0..<n).map { _ in UInt8(rng.next() % 10) })
        }

        func trainingBench() throws {
            let set = try trainingSet()
            print("training (batch 128, augmentation on, \(ProcessInfo.processInfo.activeProcessorCount) cores):")
            var rates: [String: Double] = [:]
            let nets = arch.map { [($0 == Trainer.referenceArchitecture ? "reference" : "custom", $0)] }
                ?? [("shipped", Trainer.shippedArchitecture), ("reference", Trainer.referenceArchitecture)]
            for (name, arch) in nets {
                // baseline in the same process: one network, OpenBLAS threading inside each GEMM.
                // Measured second: OpenBLAS's worker threads keep spinning for a while after a
                // threaded call and would steal the cores from the replicas.
                var perMode: [Double] = []
                for threads in [ProcessInfo.processInfo.activeProcessorCount, 1] {
                    var samples: [Double] = []
                    for r in 0..<max(1, repeats) {
                        var config = TrainingConfiguration()
                        config.architecture = arch; config.epochs = 1; config.holdout = 0; config.seed = UInt64(r + 1)
                        config.threads = threads
                        setBLASThreads(ProcessInfo.processInfo.activeProcessorCount)
                        let trainer = try Trainer(config: config, data: set)
                        var batches = 0, start = Date()
                        _ = try trainer.run(progress: { _ in }, onEpoch: { _ in }, shouldStop: {
                            batches += 1
                            if batches == 5 { start = Date() }  // warm-up: allocations, thread start
                            return batches >= trainingBatches + 5
                        })
                        samples.append(Double(trainingBatches * config.batchSize) / Date().timeIntervalSince(start))
                    }
                    perMode.append(Self.median(samples))
                }
                let m = perMode[0]
                rates[name] = m
                let net = try Network(spec: arch)
                print(String(format: "  %-9@ %7.0f images/s  (%.1f s per 60,000-image epoch; %.2f M multiply-adds, %d parameters)",
                             name, m, 60000 / m, Double(net.multiplyAdds) / 1e6, net.learnableParameterCount))
                print(String(format: "            data-parallel vs one network with threaded BLAS (%.0f images/s): %.2fx",
                             perMode[1], m / perMode[1]))
            }
            if let r = rates["reference"] {
                // TensorFlow 2.21, same network and augmentation, 2-core machine: about 19.5 s/epoch (issue 2).
                print(String(format: "  reference net vs TensorFlow 2.21 (19.5 s/epoch): %.2fx faster", 19.5 / (60000 / r)))
            }
        }

        func inferenceBench() throws {
            openblas_set_num_threads(1)
            let fullPath = try modelOptions.resolvedPath(for: .digits)
            var models = [(name: "model", path: fullPath)]
            if let screen = ModelOptions.screenPath(forFull: fullPath, cascade: modelOptions.cascade.choice) {
                models.append((name: "screen", path: screen))
            }
            var rng = RandomSource(seed: 9)
            let input = (0..<(256 * 784)).map { _ in rng.uniform() }
            print("inference (one thread, folded batch norm):")
            for (name, path) in models {
                let model = try Model.load(path: path)
                let classifier = try model.makeClassifier()
                var out = [Float](repeating: 0, count: 256 * classifier.classCount)
                print(String(format: "  %@ %@: %.2f M multiply-adds, %d parameters", name, path,
                             Double(model.network.multiplyAdds) / 1e6, model.network.learnableParameterCount))
                var perBatch: [Int: Double] = [:]
                for batch in [1, 32] {
                    var samples: [Double] = []
                    let calls = batch == 1 ? 2000 : 200
                    for _ in 0..<max(1, repeats) {
                        let start = DispatchTime.now().uptimeNanoseconds
                        input.withUnsafeBufferPointer { i in
                            out.withUnsafeMutableBufferPointer { o in
                                for _ in 0..<calls { classifier.classify(i, count: batch, into: o) }
                            }
                        }
                        let s = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                        samples.append(Double(calls * batch) / s)
                    }
                    perBatch[batch] = Self.median(samples)
                    print(String(format: "    batch %2d: %8.0f digits/s  (%.1f µs per digit)", batch, perBatch[batch]!, 1e6 / perBatch[batch]!))
                }
                if let a = perBatch[1], let b = perBatch[32] { print(String(format: "    batch 32 vs batch 1: %.2fx", b / a)) }
            }
        }

        /// Where a training step spends its time: each layer's forward and backward, one thread,
        /// one replica's share of a batch (64 images), median over the repeats.
        func layerBench() throws {
            openblas_set_num_threads(1)
            let spec = arch ?? Trainer.shippedArchitecture
            let net = try Network(spec: spec)
            let n = 64
            var rng = RandomSource(seed: 5)
            let images = (0..<(n * 784)).map { _ in rng.uniform() < 0.8 ? 0 : rng.uniform() }
            let labels = (0..<n).map { _ in Int32(rng.next() % UInt64(net.classCount)) }
            let dLogits = Tensor(shape: [0])
            var forward: [[Double]] = Array(repeating: [], count: net.layers.count), backward = forward
            for r in 0..<(max(1, repeats) + 1) {
                net.recordsTimes = true
                for _ in 0..<trainingBatches {
                    images.withUnsafeBufferPointer { im in
                        labels.withUnsafeBufferPointer { lb in
                            net.zeroGradients()
                            let logits = net.forward(im.baseAddress!, count: n, training: true)
                            _ = SoftmaxCrossEntropy.lossAndGradient(logits: logits, labels: lb.baseAddress!, smoothing: 0, gradient: dLogits)
                            net.backward(dLogits)
                        }
                    }
                }
                guard r > 0 else { continue }  // the first round warms up
                for i in net.layers.indices {
                    forward[i].append(Double(net.forwardNanoseconds[i]) / Double(trainingBatches) / 1e6)
                    backward[i].append(Double(net.backwardNanoseconds[i]) / Double(trainingBatches) / 1e6)
                }
            }
            print("training step by layer (one thread, \(n) images, median of \(max(1, repeats)) x \(trainingBatches) steps, CPU ms):")
            print("  layer           forward  backward")
            var total = 0.0
            for (i, l) in net.layers.enumerated() {
                let f = Self.median(forward[i]), b = Self.median(backward[i])
                total += f + b
                print("  " + l.token.padding(toLength: 14, withPad: " ", startingAt: 0) + String(format: " %8.3f  %8.3f", f, b))
            }
            print(String(format: "  total          %8.3f ms per %d images (%.0f images/s on one core)", total, n, Double(n) / total * 1000))
            // augmentation runs beside the compute, on the same cores
            let set = try trainingSet()
            var out = [Float](repeating: 0, count: 784), scratch = out
            var arng = RandomSource(seed: 6)
            var augment: [Double] = []
            let options = TrainingConfiguration().augmentation
            for _ in 0..<max(1, repeats) {
                let t0 = DispatchTime.now().uptimeNanoseconds
                set.images.withUnsafeBufferPointer { src in
                    out.withUnsafeMutableBufferPointer { o in
                        scratch.withUnsafeMutableBufferPointer { sc in
                            for j in 0..<1000 {
                                Augmenter.augment(src.baseAddress! + (j % set.count) * 784, into: o.baseAddress!,
                                                  scratch: sc.baseAddress!, options: options, random: &arng)
                            }
                        }
                    }
                }
                augment.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1000 / 1e6)
            }
            print(String(format: "  augmentation   %8.3f ms per %d images (%.1f µs per image)", Self.median(augment) * Double(n), n, Self.median(augment) * 1000))
        }

        func visionBench() throws {
            openblas_set_num_threads(1)
            let classifier = try modelOptions.loadClassifier(for: .pictures)
            print(try runVisionBench(classifier: classifier, repeats: max(3, repeats * 4)))
        }
    }
}
