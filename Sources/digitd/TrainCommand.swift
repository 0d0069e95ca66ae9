import ArgumentParser
import Foundation
import NeuralNet
import Training

extension Digitd {
    struct Train: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "train",
            abstract: "Train the digit network on MNIST (with augmentation and 'not a digit' negatives).",
            discussion: """
            Reads train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz] from --data
            (get them with `digitd fetch`). After every epoch it validates on the held-out images,
            writes the model, a checkpoint (MODEL.ckpt), the history (MODEL.history.json) and the
            curves (MODEL.curves.png). Ctrl-C saves a checkpoint and exits; --resume continues.

            The shipped model was made with:
              digitd train --data data/mnist --holdout 0 --out Models/digitd-default.safetensors
            """)

        @Option(help: "Folder holding the MNIST IDX files.")
        var data: String = "data/mnist"
        @Option(help: "Where to write the model (.safetensors).")
        var out: String = "runs/model.safetensors"
        @Option(help: "Number of passes over the training set.")
        var epochs: Int = 20
        @Option(help: "Images per batch.")
        var batchSize: Int = 128
        @Option(name: .customLong("lr"), help: "Peak learning rate (AdamW, warm-up then cosine decay).")
        var learningRate: Float = 3e-3
        @Option(help: "Decoupled weight decay.")
        var weightDecay: Float = 5e-4
        @Option(help: "Label smoothing (0 = off).")
        var labelSmoothing: Float = 0.1
        @Option(help: "Training images held out (from the end) for validation after each epoch; 0 trains on all.")
        var holdout: Int = 5000
        @Option(help: "Random seed; the same seed gives the same run.")
        var seed: UInt64 = 1
        @Option(help: "Network spec, e.g. the reference net: \(Trainer.referenceArchitecture)")
        var arch: String = Trainer.shippedArchitecture
        @Flag(help: "Turn augmentation (and negatives) off.")
        var noAugment = false
        @Option(help: "Turn some augmentation effects off, comma-separated: \(AugmentationOptions.effectNames.joined(separator: ", ")).")
        var augmentOff: String?
        @Option(help: "Fraction of each batch that is synthetic 'not a digit' crops (11-class nets).")
        var negatives: Float = 0.08
        @Option(help: "MNIST test images to report accuracy on after each epoch (monitoring only, never used to choose).")
        var testImages: String?
        @Option(help: "MNIST test labels, with --test-images.")
        var testLabels: String?
        @Option(help: "Stop after this many epochs in this invocation (the schedule still spans --epochs).")
        var stopAfter: Int?
        @Option(help: "Data-parallel threads (batch split across network replicas); default: one per core, at most 4.")
        var threads: Int?
        @Option(help: ArgumentHelp("Extra 28x28 training crops (IDX, labels 0-10; 10 = not a digit), added to the MNIST training part; repeat for several sets.",
                                   discussion: "`digitd synth --training-crops DIR` writes such a set: the pipeline's own crops of scenes drawn from MNIST training digits."))
        var extraImages: [String] = []
        @Option(help: "Labels of --extra-images (one per --extra-images, in the same order).")
        var extraLabels: [String] = []

        @Option(name: .customLong("init"), help: ArgumentHelp("Start from this model's weights (same --arch) instead of random ones: fine-tuning.",
                                                              valueName: "MODEL"))
        var initialModel: String?

        @Flag(help: "Continue from MODEL and MODEL.ckpt.")
        var resume = false

        func validate() throws {
            guard batchSize >= 8 else { throw ValidationError("--batch-size must be at least 8") }
            guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1") }
            if let threads, threads < 1 || threads > 64 { throw ValidationError("--threads must be in 1...64") }
            guard (0..<1).contains(negatives) else { throw ValidationError("--negatives must be in 0..<1") }
            guard learningRate > 0, learningRate < 1 else { throw ValidationError("--lr must be in (0, 1)") }
            for name in (augmentOff ?? "").split(separator: ",") where !AugmentationOptions.effectNames.contains(String(name)) {
                throw ValidationError("--augment-off: unknown effect '\(name)' (known: \(AugmentationOptions.effectNames.joined(separator: ", ")))")
            }
            if (testImages == nil) != (testLabels == nil) { throw ValidationError("--test-images and --test-labels go together") }
            if extraImages.count != extraLabels.count { throw ValidationError("--extra-images and --extra-labels go together, one of each per set") }
        }

        func run() async throws {
            let images = try MNISTFiles.find(in: data, split: "train-images-idx3-ubyte")
            let labels = try MNISTFiles.find(in: data, split: "train-labels-idx1-ubyte")
            let set = try LabelledImages.load(images: images, labels: labels)
            var test: LabelledImages?
            if let ti = testImages, let tl = testLabels { test = try LabelledImages.load(images: ti, labels: tl) }
            var extra: LabelledImages?
            for (ei, el) in zip(extraImages, extraLabels) {
                let set = try LabelledImages.load(images: ei, labels: el, maximumLabel: 10)
                guard set.rows == 28, set.columns == 28 else {
                    throw TrainingError.data("\(ei): \(set.rows)x\(set.columns) images; the network reads 28x28")
                }
                extra = extra.map { $0.appending(set) } ?? set
            }

            var config = TrainingConfiguration()
            config.architecture = arch; config.epochs = epochs; config.batchSize = batchSize
            config.learningRate = learningRate; config.weightDecay = weightDecay
            config.labelSmoothing = labelSmoothing; config.seed = seed; config.holdout = holdout
            config.threads = threads
            config.augmentation = noAugment ? .none : AugmentationOptions()
            if !noAugment { config.augmentation.negativeFraction = negatives }
            for name in (augmentOff ?? "").split(separator: ",") { _ = config.augmentation.disable(String(name)) }

            let trainer = try Trainer(config: config, data: set, extra: extra, test: test)
            let checkpoint = out + ".ckpt"
            let stem = out.hasSuffix(".safetensors") ? String(out.dropLast(12)) : out
            try FileManager.default.createDirectory(atPath: (out as NSString).deletingLastPathComponent.isEmpty ? "." : (out as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            if let initialModel, !resume {
                try trainer.start(from: initialModel)
                Terminal.warn("starting from the weights of \(initialModel)")
            }
            if resume {
                try trainer.resume(modelPath: out, checkpointPath: checkpoint)
                Terminal.warn("resuming after epoch \(trainer.epochsDone) of \(epochs)")
            }
            let net = trainer.network
            Terminal.warn(String(format: "training %@: %d parameters, %.2f M multiply-adds per digit, %d images (%d held out)%@, %d batches/epoch",
                                 arch, net.learnableParameterCount, Double(net.multiplyAdds) / 1e6, set.count, config.holdout,
                                 extra.map { " + \($0.count) extra" } ?? "", trainer.batchesPerEpoch))
            Interrupt.install()
            let startEpoch = trainer.epochsDone
            let started = Date()
            func save() throws {
                var model = Model(network: net)
                model.metadata["training"] = try TrainingSummary.json(config: config, history: trainer.history,
                                                                       command: CommandLine.arguments.joined(separator: " "))
                try model.write(to: out)
                try trainer.writeCheckpoint(to: checkpoint)
                try TrainingSummary.writeHistory(trainer.history, to: stem + ".history.json")
                try TrainingPlots.writeCurves(trainer.history, to: stem + ".curves.png")
            }
            let finished = try trainer.run(progress: { p in
                Terminal.progress(String(format: "epoch %d/%d %@ %d/%d loss %.4f acc %.2f%% %.0f img/s ETA %@",
                                         p.epoch, p.epochs, Terminal.bar(Double(p.batch) / Double(p.batches)), p.batch, p.batches,
                                         p.loss, 100 * p.accuracy, p.imagesPerSecond, Terminal.duration(p.etaSeconds)))
            }, onEpoch: { r in
                Terminal.endProgress()
                var line = String(format: "epoch %d: loss %.4f train %.2f%%", r.epoch, r.trainLoss, 100 * r.trainAccuracy)
                if let v = r.validationAccuracy { line += String(format: " validation %.2f%%", 100 * v) }
                if let t = r.testAccuracy { line += String(format: " test %.2f%%", 100 * t) }
                line += String(format: " (%.0f s, %.0f img/s)", r.seconds, r.imagesPerSecond)
                Terminal.warn(line)
                try save()
            }, shouldStop: {
                Interrupt.isRequested || (stopAfter.map { trainer.epochsDone - startEpoch >= $0 } ?? false)
            })
            if !finished {
                Terminal.endProgress()
                try save()
                Terminal.warn("stopped after epoch \(trainer.epochsDone); saved \(out) and \(checkpoint); continue with --resume")
                return
            }
            Terminal.warn(String(format: "done in %@; model %@", Terminal.duration(Date().timeIntervalSince(started)), out))
        }
    }
}

/// Finds an MNIST file in a folder, gzip or raw, with a helpful error.
enum MNISTFiles {
    static func find(in dir: String, split: String) throws -> String {
        for name in [split + ".gz", split] {
            let p = (dir as NSString).appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: p) { return p }
        }
        throw CommandError("\(dir): no \(split)[.gz] here; run `digitd fetch --to \(dir)` to download MNIST")
    }
}
