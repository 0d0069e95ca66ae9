import ArgumentParser
import Foundation
import Imaging
import Recognition
import Training
import Vision

extension Digitd {
    struct Synth: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "synth",
            abstract: "Render photo-like scenes of MNIST test digits with known truth, or score the pipeline on them.",
            discussion: """
            Scenes mix 640x480 and 1280x720 pages, paper and chalkboard, ruled and grid lines, \
            shadows, perspective, blur, noise, JPEG artefacts, distractor letters and scribbles; \
            one in ten has no digits. Scene i uses seed SEED+i, so a seed and count name a set.

              digitd synth --out DIR --count 50    pages and truth.jsonl in DIR
              digitd synth --score 400             F1, precision, recall, ...
              digitd synth --score 400 --digit-height 0.025-0.07 --touching 0.3
                                                   smaller writing, more touching digits
              digitd synth --score 400 --boxes 0.5  half the numbers in printed form boxes
              digitd synth --score 400 --stroke-gamma 1.6-3.5
                                                   thinner, fainter strokes
              digitd synth --score 400 --ink-contrast 0.2-0.5
                                                   faint writing (pencil, worn chalk)
              digitd synth --score 400 --defocus 1-2  a camera out of focus
              digitd synth --training-crops DIR --count 2500 --mnist data/mnist

            The last writes the pipeline's own crops of scenes drawn from the MNIST *training* \
            digits, labelled 0-9 or 10 (not a digit), as IDX files for `digitd train \
            --extra-images/--extra-labels` (README, "The scene model").
            """)

        @Option(help: "Directory to write scenes and truth.jsonl into.")
        var out: String?

        @Option(help: "Number of scenes to write.")
        var count = 20

        @Option(help: "Write the pipeline's labelled crops of --count scenes drawn from MNIST training digits (--mnist DIR holds train-*-ubyte.gz) to this directory, as scene-crops-{images-idx3,labels-idx1}-ubyte.gz.")
        var trainingCrops: String?

        @Option(help: "Score the pipeline on this many scenes (in memory) and print the figures.")
        var score: Int?

        @Option(help: "Seed of the first scene.")
        var seed: UInt64 = 1

        @Option(help: "Directory holding t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (default: the checkout's Tests/Fixtures/mnist).")
        var mnist: String?

        @Option(help: ArgumentHelp("Heights of the digits as fractions of the page height, e.g. 0.025-0.07 for small writing (default: 0.045-0.14).", valueName: "MIN-MAX"))
        var digitHeight: String?

        @Option(help: ArgumentHelp("Fraction of the numbers of two or more digits written with their digits touching (0...1).", valueName: "FRACTION"))
        var touching: Double = SceneGenerator.Options().touchingFraction

        @Option(help: ArgumentHelp("Stroke weight of the digits: the exponent their ink is raised to, drawn per digit from MIN-MAX. Above 1 strokes are thinner and fainter (a fine pen, light chalk), below 1 bolder (a marker); e.g. 1.6-3.5 for thin strokes (default: 0.5-1.6).", valueName: "MIN-MAX"))
        var strokeGamma: String?

        @Option(help: ArgumentHelp("Fraction of the numbers written in printed boxes, as on a form (a rectangle around the number, often with a line between the digits) (0...1).", valueName: "FRACTION"))
        var boxes: Double = SceneGenerator.Options().boxedFraction

        @Option(help: ArgumentHelp("How far the ink stands out from the paper, drawn per page from MIN-MAX: 1 is full strength, lower is fainter; e.g. 0.2-0.5 for faint pencil (default: 0.55-1).", valueName: "MIN-MAX"))
        var inkContrast: String?

        @Option(help: ArgumentHelp("A camera out of focus: a Gaussian blur with sigma drawn per page from MIN-MAX, in pixels per 640 of image width, on top of the usual light blur; e.g. 0.8-2 (default: none).", valueName: "MIN-MAX"))
        var defocus: String?

        @Option(help: ArgumentHelp("The page turned in the picture by up to this many degrees either way, drawn per page, as from a camera held askew (0...45; default: 3.4).", valueName: "DEGREES"))
        var pageRotation: Double?

        @Option(help: ArgumentHelp("How far the page leans away from the camera: the page's projective terms drawn per page from +-this, so that across the page the writing shrinks or grows by up to this fraction (0...0.9; default: 0.15).", valueName: "AMOUNT"))
        var perspective: Double?

        @OptionGroup var modelOptions: ModelOptions

        @Flag(help: "With --score: print the figures as one JSON object.")
        var json = false

        @Flag(help: "With --score: list each scene's misses and false detections.")
        var verbose = false

        @Option(help: "With --score --verbose: write the network input of each missed digit's best candidate (sNNNN-tTRUTH-pREAD-CONF.png) and of each false detection (sNNNN-false-pREAD-CONF.png) here.")
        var missedCrops: String?

        @Option(help: "With --score: least probability for a digit to be reported (0...1).")
        var minConfidence: Float = RecognizerOptions().minimumConfidence

        /// With --score: levelled as `digitd scan` levels.
        @OptionGroup var leveling: LevelingOptions

        func validate() throws {
            if out == nil && score == nil && trainingCrops == nil {
                throw ValidationError("give --out DIR to write scenes, --score N to score the pipeline, or --training-crops DIR")
            }
            if trainingCrops != nil && mnist == nil { throw ValidationError("--training-crops needs --mnist DIR holding MNIST's training files") }
            if let s = score, s <= 0 { throw ValidationError("--score must be positive") }
            if missedCrops != nil && !verbose { throw ValidationError("--missed-crops goes with --score N --verbose") }
            if count <= 0 { throw ValidationError("--count must be positive") }
            if !(0...1).contains(touching) { throw ValidationError("--touching wants a fraction between 0 and 1, not \(touching)") }
            if !(0...1).contains(boxes) { throw ValidationError("--boxes wants a fraction between 0 and 1, not \(boxes)") }
            if let h = digitHeight, SynthSupport.heightRange(h) == nil {
                throw ValidationError("--digit-height wants MIN-MAX, two fractions of the page height with 0 < MIN <= MAX <= 0.8 (e.g. 0.025-0.07), not '\(h)'")
            }
            if let g = strokeGamma, SynthSupport.range(g, upTo: 8) == nil {
                throw ValidationError("--stroke-gamma wants MIN-MAX, two exponents with 0 < MIN <= MAX <= 8 (e.g. 1.6-3.5), not '\(g)'")
            }
            if let c = inkContrast, SynthSupport.range(c, upTo: 1) == nil {
                throw ValidationError("--ink-contrast wants MIN-MAX, two fractions with 0 < MIN <= MAX <= 1 (e.g. 0.2-0.5), not '\(c)'")
            }
            if let r = pageRotation, !(0...45).contains(r) {
                throw ValidationError("--page-rotation wants a number of degrees between 0 and 45, not \(r)")
            }
            if let p = perspective, !(0...0.9).contains(p) {
                throw ValidationError("--perspective wants an amount between 0 and 0.9, not \(p)")
            }
            if let d = defocus, SynthSupport.range(d, upTo: 8) == nil {
                throw ValidationError("--defocus wants MIN-MAX, two blur radii in pixels per 640 of width with 0 < MIN <= MAX <= 8 (e.g. 0.8-2), not '\(d)'")
            }
        }

        /// The scene options for `seed` with this command's digit heights, touching fraction,
        /// stroke weights, boxes, ink contrast, defocus, page rotation and perspective.
        func sceneOptions(seed: UInt64) -> SceneGenerator.Options {
            var o = SynthSupport.options(seed: seed)
            o.digitHeights = digitHeight.flatMap(SynthSupport.heightRange)
            o.touchingFraction = touching
            o.boxedFraction = boxes
            if let g = strokeGamma.flatMap({ SynthSupport.range($0, upTo: 8) }) { o.strokeGamma = g }
            if let c = inkContrast.flatMap({ SynthSupport.range($0, upTo: 1) }) { o.inkContrast = c }
            o.defocus = defocus.flatMap { SynthSupport.range($0, upTo: 8) }
            o.pageRotation = pageRotation.map { $0 * .pi / 180 }
            o.perspective = perspective
            return o
        }

        func run() async throws {
            if let dir = trainingCrops {
                // Training digits only: the scenes scored by --score are drawn from the test set.
                let set = try LabelledImages.load(images: try MNISTFiles.find(in: mnist!, split: "train-images-idx3-ubyte"),
                                                  labels: try MNISTFiles.find(in: mnist!, split: "train-labels-idx1-ubyte"))
                let generator = SceneGenerator(glyphs: DigitGlyphs(count: set.count, pixels: set.images, labels: set.labels))
                let labeller = SceneCropLabeller()
                var images: [UInt8] = [], labels: [UInt8] = []
                for i in 0..<count {
                    let s = seed &+ UInt64(i)
                    labeller.collect(generator.render(seed: s, options: sceneOptions(seed: s)), images: &images, labels: &labels)
                    Terminal.progress("scene \(i + 1)/\(count) \(Terminal.bar(Double(i + 1) / Double(count))) \(labels.count) crops",
                                      force: i + 1 == count, every: 100)
                }
                Terminal.endProgress()
                try ScanSupport.makeDirectory(dir)
                let crops = LabelledImages(count: labels.count, rows: 28, columns: 28, images: images, labels: labels)
                try crops.write(images: (dir as NSString).appendingPathComponent("scene-crops-images-idx3-ubyte.gz"),
                                labels: (dir as NSString).appendingPathComponent("scene-crops-labels-idx1-ubyte.gz"))
                let perClass = (0...10).map { c in labels.lazy.filter { $0 == c }.count }
                ScanSupport.printLine("wrote \(labels.count) crops of \(count) scenes to \(dir) (per class 0-9: "
                                      + perClass[0..<10].map(String.init).joined(separator: " ") + "; not a digit: \(perClass[10]))")
                if out == nil && score == nil { return }
            }
            let generator = SceneGenerator(glyphs: try SynthSupport.loadGlyphs(mnist ?? SynthSupport.defaultMNIST))
            if let dir = out {
                try ScanSupport.makeDirectory(dir)
                var truth = ""
                for i in 0..<count {
                    let scene = generator.render(seed: seed &+ UInt64(i), options: sceneOptions(seed: seed &+ UInt64(i)))
                    let name = String(format: "scene-%04d.png", i)
                    try saveImage(scene.image, path: (dir as NSString).appendingPathComponent(name))
                    truth += SynthSupport.truthLine(name: name, scene: scene) + "\n"
                }
                try writeFileBytes(Array(truth.utf8), path: (dir as NSString).appendingPathComponent("truth.jsonl"))
                ScanSupport.printLine("wrote \(count) scenes and truth.jsonl to \(dir)")
            }
            if let n = score {
                var options = RecognizerOptions()
                options.keepDebugImages = verbose
                options.minimumConfidence = minConfidence
                leveling.apply(to: &options)
                let recognizer = Recognizer(classifier: try modelOptions.loadClassifier(for: .pictures), options: options)
                let result = try SynthSupport.score(generator: generator, recognizer: recognizer, count: n, seed: seed, verbose: verbose,
                                                missedCrops: missedCrops, options: sceneOptions(seed:))
                if json {
                    let t = result.total
                    ScanSupport.printLine("{\"scenes\":\(t.scenes),\"f1\":\(t.f1),\"precision\":\(t.precision),\"recall\":\(t.recall),"
                        + "\"label_accuracy\":\(t.labelAccuracy),\"localisation_recall\":\(t.localisationRecall),"
                        + "\"number_exact_match\":\(t.numberExactMatch),\"empty_pages\":\(t.emptyPages),"
                        + "\"empty_page_detections\":\(t.emptyPageDetections)}")
                } else {
                    ScanSupport.printLine("digitd synth --score \(n) --seed \(seed)")
                    ScanSupport.printLine(result.total.summary)
                    for (name, s) in result.parts.sorted(by: { $0.key < $1.key }) {
                        ScanSupport.printLine(String(format: "  %-10@ scenes %4d  F1 %.4f  precision %.4f  recall %.4f  numbers %.4f",
                                                     name, s.scenes, s.f1, s.precision, s.recall, s.numberExactMatch))
                    }
                }
            }
        }
    }
}

/// The scene mix and scoring loop behind `digitd synth`.
enum SynthSupport {
    /// The MNIST test set of this source checkout (the working directory's, else the one this
    /// binary was built from).
    static var defaultMNIST: String {
        let relative = "Tests/Fixtures/mnist"
        if FileManager.default.fileExists(atPath: relative) { return relative }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(relative).path
    }

    static func loadGlyphs(_ dir: String) throws -> DigitGlyphs {
        // IDXError already names the file and the fault in one line.
        let set = try LabelledImages.load(images: (dir as NSString).appendingPathComponent("t10k-images-idx3-ubyte.gz"),
                                          labels: (dir as NSString).appendingPathComponent("t10k-labels-idx1-ubyte.gz"))
        return DigitGlyphs(count: set.count, pixels: set.images, labels: set.labels)
    }

    /// The scene drawn from `seed`: sizes alternate, every tenth page has no digits.
    static func options(seed: UInt64) -> SceneGenerator.Options {
        let i = Int(truncatingIfNeeded: (seed &- 1) % 1_000_000)
        var o = SceneGenerator.Options()
        if i % 2 == 0 { o.width = 1280; o.height = 720 } else { o.width = 640; o.height = 480 }
        o.withDigits = i % 10 != 9
        return o
    }

    static func truthLine(name: String, scene: Scene) -> String {
        let digits = scene.digits.map { "{\"box\":\(ScanSupport.box($0.box)),\"digit\":\($0.digit)}" }.joined(separator: ",")
        let numbers = scene.numbers.map { "{\"value\":\(ScanSupport.quote($0.value)),\"box\":\(ScanSupport.box($0.box))}" }.joined(separator: ",")
        return "{\"source\":\(ScanSupport.quote(name)),\"width\":\(scene.image.width),\"height\":\(scene.image.height),"
            + "\"conditions\":\(ScanSupport.quote(scene.conditions)),\"digits\":[\(digits)],\"numbers\":[\(numbers)]}"
    }

    /// "0.025-0.07" -> 0.025...0.07 (0 < MIN <= MAX <= 0.8), else nil.
    static func heightRange(_ text: String) -> ClosedRange<Double>? { range(text, upTo: 0.8) }

    /// "MIN-MAX" -> MIN...MAX when 0 < MIN <= MAX <= `limit` (both finite), else nil.
    static func range(_ text: String, upTo limit: Double) -> ClosedRange<Double>? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let a = Double(parts[0]), let b = Double(parts[1]), a > 0, a <= b, b <= limit else { return nil }
        return a...b
    }

    /// Reads `count` scenes from `seed` on, each drawn with `options(seed)` (the command's
    /// `sceneOptions`, so --digit-height and --touching reach every scene scored).
    static func score(generator: SceneGenerator, recognizer: Recognizer, count: Int, seed: UInt64, verbose: Bool = false,
                      missedCrops: String? = nil, options: (UInt64) -> SceneGenerator.Options) throws
        -> (total: SceneScore, parts: [String: SceneScore]) {
        if let dir = missedCrops { try ScanSupport.makeDirectory(dir) }
        var total = SceneScore()
        var parts: [String: SceneScore] = [:]
        for i in 0..<count {
            let scene = generator.render(seed: seed &+ UInt64(i), options: options(seed &+ UInt64(i)))
            let reading = recognizer.read(scene.image)
            var s = SceneScore()
            s.add(truthDigits: scene.digits, truthNumbers: scene.numbers, reading: reading)
            total.add(s)
            if verbose && (s.hits < s.trueDigits || s.hits < s.detections) {
                var line = "scene \(i) seed \(seed &+ UInt64(i)) [\(scene.conditions)]: \(s.hits)/\(s.trueDigits) hit, \(s.detections) detections"
                for t in scene.digits where !reading.detections.contains(where: { $0.box.iou(t.box) >= 0.5 && $0.digit == t.digit }) {
                    let near = reading.detections.max { $0.box.iou(t.box) < $1.box.iou(t.box) }
                    line += "\n    missed \(t.digit) at \(ScanSupport.box(t.box))" + (near.map { " (nearest: \($0.digit) \(ScanSupport.box($0.box)) iou \(String(format: "%.2f", $0.box.iou(t.box))))" } ?? "")
                    if let c = reading.debug?.candidates.filter({ $0.box.iou(t.box) >= 0.5 }).max(by: { $0.confidence < $1.confidence }) {
                        line += " candidate \(c.digit) \(String(format: "%.2f", c.confidence))\(c.accepted ? "" : " rejected")"
                        if let dir = missedCrops {
                            let name = String(format: "s%04d-t%d-p%d-%.2f.png", i, t.digit, c.digit, c.confidence)
                            try saveImage(c.cropImage, path: (dir as NSString).appendingPathComponent(name))
                        }
                    } else if let c = reading.debug?.candidates.max(by: { $0.box.iou(t.box) < $1.box.iou(t.box) }), c.box.iou(t.box) > 0 {
                        line += " no candidate (best overlap: \(c.digit) \(String(format: "%.2f", c.confidence)) at \(ScanSupport.box(c.box)) iou \(String(format: "%.2f", c.box.iou(t.box))))"
                    } else { line += " no candidate" }
                }
                for d in reading.detections where !scene.digits.contains(where: { $0.box.iou(d.box) >= 0.5 }) {
                    line += "\n    false \(d.digit) \(String(format: "%.3f", d.confidence)) at \(ScanSupport.box(d.box))"
                    if let dir = missedCrops, let c = reading.debug?.candidates.first(where: { $0.accepted && $0.box == d.box }) {
                        let name = String(format: "s%04d-false-p%d-%.2f.png", i, c.digit, c.confidence)
                        try saveImage(c.cropImage, path: (dir as NSString).appendingPathComponent(name))
                    }
                }
                ScanSupport.printLine(line)
            }
            let c = scene.conditions.split(separator: " ").map(String.init)
            for key in [c[0], c[1]] + c.dropFirst(2).filter({ ["ruled", "grid", "shadow"].contains($0) }).map({ $0 }) + (c.contains(where: { $0.hasPrefix("noise") }) ? ["noisy"] : []) + (c.contains(where: { $0.hasPrefix("jpeg") }) ? ["jpeg"] : []) + (c.contains(where: { $0.hasPrefix("blur") }) ? ["blurred"] : []) {
                parts[key, default: SceneScore()].add(s)
            }
        }
        return (total, parts)
    }
}
