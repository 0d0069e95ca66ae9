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

        enum Part: String, ExpressibleByArgument, CaseIterable { case all, training, inference, vision }

        @OptionGroup var modelOptions: ModelOptions
        @Option(help: "What to measure: \(Part.allCases.map(\.rawValue).joined(separator: ", ")).")
        var part: Part = .all
        @Option(help: "Repetitions; the median is reported.")
        var repeats: Int = 5
        @Option(help: "Training batches per repetition.")
        var trainingBatches: Int = 40
        @Option(help: "Folder with MNIST IDX files for the training benchmark (random pixels if absent).")
        var data: String?

        func run() async throws {
            #if DEBUG
            Terminal.warn("this is a debug build; figures are not representative (use swift build -c release)")
            #endif
            if part == .all || part == .training { try trainingBench() }
            if part == .all || part == .inference { try inferenceBench() }
            if part == .all || part == .vision { try visionBench() }
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
            for (name, arch) in [("shipped", Trainer.shippedArchitecture), ("reference", Trainer.referenceArchitecture)] {
                // baseline in the same process: one network, OpenBLAS threading inside each GEMM
                var perMode: [Double] = []
                for threads in [1, ProcessInfo.processInfo.activeProcessorCount] {
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
                let m = perMode.last!
                rates[name] = m
                let net = try Network(spec: arch)
                print(String(format: "  %-9@ %7.0f images/s  (%.1f s per 60,000-image epoch; %.2f M multiply-adds, %d parameters)",
                             name, m, 60000 / m, Double(net.multiplyAdds) / 1e6, net.learnableParameterCount))
                print(String(format: "            data-parallel vs one network with threaded BLAS (%.0f images/s): %.2fx",
                             perMode[0], m / perMode[0]))
            }
            if let r = rates["reference"] {
                // TensorFlow 2.21, same network and augmentation, 2-core machine: about 19.5 s/epoch (issue 2).
                print(String(format: "  reference net vs TensorFlow 2.21 (19.5 s/epoch): %.2fx faster", 19.5 / (60000 / r)))
            }
        }

        func inferenceBench() throws {
            openblas_set_num_threads(1)
            let fullPath = try modelOptions.resolvedPath()
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

        func visionBench() throws {
            openblas_set_num_threads(1)
            let classifier = try modelOptions.loadClassifier()
            print(try runVisionBench(classifier: classifier, repeats: max(3, repeats * 4)))
        }
    }
}
