import Glibc
import Imaging
import NeuralNet
import Vision

/// One digit read in one image: where, what, how sure.
public struct Detection: Sendable, Equatable {
    public var box: Box
    public var digit: Int
    public var confidence: Float
    /// Class probabilities from the network (10 digits, then "not a digit" if the model has it).
    public var probabilities: [Float]
    public init(box: Box, digit: Int, confidence: Float, probabilities: [Float]) {
        self.box = box; self.digit = digit; self.confidence = confidence; self.probabilities = probabilities
    }
}

/// Neighbouring digits on one line, read left to right.
public struct NumberReading: Sendable, Equatable {
    public var value: String
    public var box: Box
    public var confidence: Float
    public init(value: String, box: Box, confidence: Float) {
        self.value = value; self.box = box; self.confidence = confidence
    }
}

/// What the network saw, kept only when `RecognizerOptions.keepDebugImages` is set.
public struct RecognizerDebug: Sendable {
    /// The ink mask the detector worked on (255 = ink), at detection resolution.
    public var binary: GrayImage
    /// Input pixels per `binary` pixel (1 = full resolution, 2 = half, ...).
    public var binaryScale: Int
    /// Every candidate sent to the network, accepted or not.
    public var candidates: [RecognizerCandidate]
}

/// One candidate crop and the network's answer.
public struct RecognizerCandidate: Sendable {
    /// Box in input pixels.
    public var box: Box
    /// The 28x28 network input, row-major, 0 = background, 1 = ink.
    public var crop: [Float]
    /// The most probable digit and its probability.
    public var digit: Int
    public var confidence: Float
    /// Whether it became a `Detection`.
    public var accepted: Bool
    /// `crop` as a picture (0 = background, 255 = ink).
    public var cropImage: GrayImage { GrayImage(width: 28, height: 28, pixels: networkInputBytes(crop)) }
}

/// Everything read in one image.
public struct FrameReading: Sendable {
    public var width: Int
    public var height: Int
    public var detections: [Detection]
    public var numbers: [NumberReading]
    /// Stage name -> milliseconds, in pipeline order.
    public var timings: [(stage: String, ms: Double)]
    /// Binary mask and crops, when asked for (see `RecognizerOptions.keepDebugImages`).
    public var debug: RecognizerDebug? = nil
    public init(width: Int, height: Int, detections: [Detection], numbers: [NumberReading],
                timings: [(stage: String, ms: Double)]) {
        self.width = width; self.height = height; self.detections = detections
        self.numbers = numbers; self.timings = timings
    }
}

/// Settings of the per-frame pipeline. The defaults are what `digitd scan` and `digitd run` use.
public struct RecognizerOptions: Sendable {
    /// A candidate becomes a detection only if its best digit has at least this probability.
    /// 0.5 for the scene model (synth seed 1 F1 at 0.4 / 0.45 / 0.5 / 0.6: 0.9591 / 0.9583 /
    /// 0.9596 / 0.9567); the default model alone, which has seen no scene crops, did best at 0.75.
    public var minimumConfidence: Float = 0.5
    /// ...and (11-class models) the "not a digit" class has less than this.
    public var maximumNotDigitProbability: Float = 0.5
    /// Ink polarity; `.automatic` decides per image.
    public var polarity: InkPolarity = .automatic
    /// Try a second-moment deskew of each crop and keep it when the network is surer.
    public var deskew: Bool = true
    /// At most this many candidates per frame go to the network (largest-first beyond it).
    public var maximumCandidates: Int = 256
    /// Blobs at least 0.9 times as wide as tall that read as no digit are cut into touching
    /// digits and read again (see `DigitDetector.splitAgain`), and after them those read as one
    /// digit below `secondLookBelowConfidence` that may be two touching (see
    /// `mayBeTouchingDigits`), widest first; at most this many crops per frame (each costs a
    /// network input); 0 turns it off. The pieces replace the blob only if every one passes the
    /// rules above and has at least `minimumSecondLookConfidence`. (Synth seed 1 F1 0.9366 ->
    /// 0.9379, seed 500001 0.9208 -> 0.9228 with 6 crops, rejected blobs only. Least
    /// confidence 0.85 -> 0.8: seeds 1 / 500001 / 1000 0.9673 / 0.9576 / 0.9552 -> 0.9677 /
    /// 0.9578 / 0.9557; and the blobs read as digits: 0.9684 / 0.9586 / 0.9566, one crop
    /// more per 1280x720 frame. Their every cut and no confidence limit, 12 crops: 0.9680 /
    /// 0.9588 / 0.9566 at 7 crops more; 8 crops: +0.0001 at most.)
    public var maximumSecondLookCrops: Int = 6
    public var minimumSecondLookConfidence: Float = 0.8
    /// Blobs read as one digit below this are cut too (one cut each, the best); 0 turns that off.
    /// (0.95 on seeds 1 / 1000: -0.0002 / +0.0001.)
    public var secondLookBelowConfidence: Float = 0.9
    /// Least width / height of a blob for the second look. (0.7 changed synth seed 1 F1 by
    /// -0.0002 to -0.0009 when only rejected blobs had one.)
    public var secondLookMinimumAspect: Float = 0.9
    /// A candidate that reads as a digit, only not surely enough (best digit at least this
    /// probable, and more probable than "not a digit"), is reported anyway when it stands beside
    /// a sure digit on the same line, as the digits of a number do (`besideADigit`); 1 turns
    /// this off.
    public var minimumNeighbourConfidence: Float = 0.3
    /// Clusters of nearby blobs in which no digit was read are read again as one digit each,
    /// and digits read with the blobs beside them (see `DigitDetector.regroupFragments`), at
    /// most this many crops per frame; 0 turns it off. A cluster is reported if it passes the
    /// rules above with at least `minimumRegroupConfidence` (or stands beside a sure digit, see
    /// below); a grown digit replaces the digit if it reads the same digit more surely
    /// (another digit: also at least `minimumRegroupConfidence`). Synth F1 without / with
    /// clusters / with grown digits too: seed 1 0.9669 / 0.9671 / 0.9673, seed 500001 0.9558 /
    /// 0.9574 / 0.9576, seed 1000 0.9525 / 0.9549 / 0.9552 (12 crops: the same; least
    /// confidence 0.5 / 0.7 / 0.95 on seed 1000: +0.0001 / 0 / -0.0002). Digits grow only by
    /// strokes, not specks (`clusterFragments`): 0.4 network inputs per 1280x720 frame in all
    /// instead of 1.0, seed 1000 -0.0002; the stage takes about 0.02 ms at 1280x720.
    public var maximumRegroupCrops: Int = 6
    public var minimumRegroupConfidence: Float = 0.85
    /// A digit read below this is dropped when it stands beside something the rules call not a
    /// digit and beside no digit (`besideADigit` geometry): a letter in a word, an "S" read as
    /// an unsure 5 between other letters; 0 turns this off. Digits of a number keep each
    /// other ("B12": the 1 and the 2 stand beside a digit). Synth F1 seeds 1 / 500001 / 1000
    /// 0.9684 / 0.9586 / 0.9566 -> 0.9693 / 0.9603 / 0.9578, false detections on the pages
    /// without digits 14 / 19 / 20 -> 13 / 12 / 15 (0.8: 0.9688 on seed 1; 0.85: 0.9581 on
    /// seed 1000; 0.95: 0.9684 / 0.9593 / 0.9573; two such neighbours needed: 0.9691 / 0.9583
    /// / 0.9572).
    public var minimumConfidenceAmongLetters: Float = 0.9
    /// A digit read below this is dropped when it stands beside nothing that may be a digit (no
    /// candidate beside it that the rules did not call "not a digit"): digits come in numbers,
    /// a lone mark is more often a scribble or a stray stroke; 0 turns this off. Synth F1 seeds
    /// 1 / 500001 / 1000 0.9693 / 0.9603 / 0.9578 -> 0.9705 / 0.9610 / 0.9580, false
    /// detections on the pages without digits 13 / 12 / 15 -> 10 / 11 / 13 (0.65: 0.9707 /
    /// - / 0.9579; 0.7: 0.9701 / 0.9613 / 0.9580).
    public var minimumConfidenceAlone: Float = 0.6
    /// Keep the binary mask and the 28x28 crops in `FrameReading.debug`.
    public var keepDebugImages: Bool = false
    /// A page whose lines of digits run at a tilt of at least `minimumTilt` (radians) and at
    /// most `maximumTilt` (0.6, 34 degrees) is turned level and read again (see `writingTilt`);
    /// the second reading replaces the first if its digits' summed confidence is higher. The
    /// network learned upright MNIST digits, and the detector's merging of fragments, its
    /// column cuts and its number grouping expect lines that run across the picture.
    public var levelTiltedPages: Bool = true
    /// `cameraLevelFrom` degrees by default: for the frames of a camera a second reading costs
    /// the frame budget. Pictures read one at a time level from `picturesLevelFrom`.
    public var minimumTilt: Double = RecognizerOptions.cameraLevelFrom * .pi / 180
    public static let cameraLevelFrom = 5.7
    /// What `digitd scan` levels from, in degrees. Even pages turned a degree or two read better
    /// level (synth seeds 1 / 500001 / 1000 from 5.7 / 3.4 / 2.3 / 1.4 / 0.7 / 0 degrees: F1
    /// 0.9704 / 0.9622 / 0.9606, 0.9709 / - / 0.9611, 0.9715 / 0.9638 / 0.9616, 0.9714 / 0.9645
    /// / 0.9624, 0.9718 / 0.9646 / 0.9631, 0.9719 / 0.9645 / 0.9638), at a second reading for
    /// most pages.
    public static let picturesLevelFrom = 1.4
    public var maximumTilt: Double = 0.6
    /// Frames of one camera: after a frame was read levelled, read the next turned the same way
    /// first, and only if its lines of digits no longer run level (or it has too few to tell)
    /// read it as it is (`digitd run`; off for unrelated pictures, as `digitd scan` reads).
    public var carryTiltBetweenFrames: Bool = false
    public init() {}

    /// Sets the detector settings these options govern (polarity, deskew, candidate cap).
    func configure(_ settings: inout DetectorSettings) {
        settings.polarity = polarity
        settings.deskew = deskew
        settings.maximumCandidates = maximumCandidates
    }
}

/// The per-frame pipeline: Vision finds candidate digits, the network reads them in one batch,
/// non-digits are rejected and digits grouped into numbers.
/// Not thread-safe: one Recognizer per thread (it reuses its buffers between frames).
/// `b` sits beside `a` as the next or previous digit of a number would: on the same line
/// (vertical extents overlapping by at least half the shorter), of a similar height (within
/// 1.5x), at most 0.75 of the taller height apart and not mostly on top of each other.
func besideADigit(_ b: Box, _ a: Box) -> Bool {
    let overlapY = min(a.maxY, b.maxY) - max(a.y, b.y)
    let shorter = min(a.height, b.height), taller = max(a.height, b.height)
    guard overlapY * 2 >= shorter, taller * 2 <= shorter * 3 else { return false }
    let gap = max(a.x, b.x) - min(a.maxX, b.maxX)
    return gap * 4 <= taller * 3 && gap * 2 >= -min(a.width, b.width)
}

/// How far the lines of writing run off the horizontal (radians, y down: positive falls to
/// the right), from the boxes of the digits read: each digit paired with its nearest neighbour
/// to the right that is about as tall (within 1.5x) and as far away as the next digit of a
/// number would be (centres 0.3-1.6 mean heights apart, at most 35 degrees off the
/// horizontal); the median angle of the pairs. nil with fewer than 3 pairs.
public func writingTilt(_ boxes: [Box]) -> Double? {
    var angles: [Double] = []
    for a in boxes {
        let ax = Double(a.x) + Double(a.width) / 2, ay = Double(a.y) + Double(a.height) / 2
        var best: (distance: Double, angle: Double)? = nil
        for b in boxes {
            let bx = Double(b.x) + Double(b.width) / 2, by = Double(b.y) + Double(b.height) / 2
            let dx = bx - ax, dy = by - ay
            guard dx > 0, max(a.height, b.height) * 2 <= min(a.height, b.height) * 3 else { continue }
            let d = (dx * dx + dy * dy).squareRoot(), mean = Double(a.height + b.height) / 2
            guard d >= 0.3 * mean, d <= 1.6 * mean, abs(dy) <= dx * 0.7 else { continue }
            if best == nil || d < best!.distance { best = (d, atan2(dy, dx)) }
        }
        if let best { angles.append(best.angle) }
    }
    guard angles.count >= 3 else { return nil }
    angles.sort()
    let m = angles.count / 2
    return angles.count % 2 == 1 ? angles[m] : (angles[m - 1] + angles[m]) / 2
}

public final class Recognizer {
    public let classifier: DigitClassifier
    public var options: RecognizerOptions
    private let detector = DigitDetector()
    private var probabilities: [Float] = []

    public init(classifier: DigitClassifier, options: RecognizerOptions = .init()) {
        self.classifier = classifier
        self.options = options
    }

    /// Reads every digit in `image`. Boxes are in `image` pixels. Timings: the detector's stages,
    /// then "classify" (the network) and "numbers" (rejection, alternatives and grouping). On a
    /// tilted page (see `RecognizerOptions.levelTiltedPages`) the stages are those of the reading
    /// of the levelled picture, after "tilt": the first reading and the turn. Its debug images
    /// are those of the levelled picture (the candidates' boxes are in `image` pixels).
    public func read(_ image: GrayImage) -> FrameReading {
        guard options.levelTiltedPages else { carriedTilt = nil; return readAsItIs(image) }
        // A camera held askew stays askew: read the frame turned as the last one was, and keep
        // that reading if its lines of digits run level (one reading instead of two).
        if options.carryTiltBetweenFrames, let tilt = carriedTilt {
            let (reading, residual) = readTurned(image, by: tilt, firstMs: 0)
            if let r = residual, abs(r) < options.minimumTilt { return reading }
            carriedTilt = nil
        }
        let first = readAsItIs(image)
        guard let tilt = writingTilt(first.detections.map(\.box)),
              abs(tilt) >= options.minimumTilt, abs(tilt) <= options.maximumTilt else { return first }
        let (second, _) = readTurned(image, by: tilt, firstMs: first.timings.reduce(0) { $0 + $1.ms })
        let confidence = { (r: FrameReading) in r.detections.reduce(Float(0)) { $0 + $1.confidence } }
        guard confidence(second) > confidence(first) else { return first }
        carriedTilt = tilt
        return second
    }

    /// The tilt the last frame was turned level by, if its levelled reading was kept (see
    /// `RecognizerOptions.carryTiltBetweenFrames`).
    private var carriedTilt: Double? = nil

    /// Reads `image` turned level by `tilt`; boxes in `image` pixels. Also returns the tilt of
    /// the lines of digits in the turned picture (nil with too few). Timings: "tilt" (`firstMs`
    /// and the turn), then the stages of the reading.
    private func readTurned(_ image: GrayImage, by tilt: Double, firstMs: Double) -> (FrameReading, Double?) {
        var clock = StageClock()
        let turn = Turn(angle: tilt, width: image.width, height: image.height)
        let level = image.turned(turn)
        clock.mark("tilt")
        var second = readAsItIs(level)
        // What the turn brought in from outside the picture (edge pixels drawn out into streaks)
        // is not writing: digits that reach into it are dropped.
        second.detections.removeAll { !turn.boxWithinSource($0.box) }
        second.numbers.removeAll { n in !turn.boxWithinSource(n.box) }
        let (mask, scale) = detector.lastMask
        let levelBoxes = second.detections.map(\.box)
        for i in second.detections.indices { second.detections[i].box = inkBoxInSource(levelBoxes[i], turn: turn, mask: mask, scale: scale) }
        for i in second.numbers.indices {
            let n = second.numbers[i].box
            let members = levelBoxes.indices.filter { n.intersectionArea(levelBoxes[$0]) == levelBoxes[$0].area }
            second.numbers[i].box = members.dropFirst().reduce(members.first.map { second.detections[$0].box } ?? turn.boxInSource(n)) {
                $0.union(second.detections[$1].box)
            }
        }
        if second.debug != nil {
            for i in second.debug!.candidates.indices { second.debug!.candidates[i].box = turn.boxInSource(second.debug!.candidates[i].box) }
        }
        second.timings.insert(("tilt", firstMs + clock.stages[0].ms), at: 0)
        return (second, writingTilt(levelBoxes))
    }

    /// The box around the ink of `box` (in the turned picture) in the input picture: the input
    /// pixels that show a pixel of `box` that `mask` (of the turned picture, `scale` input pixels
    /// per mask pixel) holds as ink. The turned box's own corners would give a box far too wide
    /// for a slanted stroke such as a 1.
    private func inkBoxInSource(_ box: Box, turn: Turn, mask: GrayImage, scale: Int) -> Box {
        let region = turn.boxInSource(box)
        var x0 = Int.max, y0 = Int.max, x1 = Int.min, y1 = Int.min
        mask.pixels.withUnsafeBufferPointer { m in
            for y in region.y..<region.maxY {
                for x in region.x..<region.maxX {
                    let q = turn.turned(Double(x) + 0.5, Double(y) + 0.5)
                    guard q.x >= Double(box.x), q.y >= Double(box.y), q.x < Double(box.maxX), q.y < Double(box.maxY) else { continue }
                    let mx = Int(q.x) / scale, my = Int(q.y) / scale
                    guard mx < mask.width, my < mask.height, m[my * mask.width + mx] != 0 else { continue }
                    x0 = min(x0, x); y0 = min(y0, y); x1 = max(x1, x); y1 = max(y1, y)
                }
            }
        }
        return x0 <= x1 ? Box(x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1) : region
    }

    private func readAsItIs(_ image: GrayImage) -> FrameReading {
        var clock = StageClock()
        options.configure(&detector.settings)
        let found = detector.detect(image, keepMask: options.keepDebugImages, clock: &clock)
        let picture = found.despeckled ?? image    // what later looks cut their crops from

        let n = found.candidates.count
        let classes = classifier.classCount
        if probabilities.count < n * classes { probabilities = [Float](repeating: 0, count: n * classes) }
        if n > 0 {
            found.crops.withUnsafeBufferPointer { input in
                probabilities.withUnsafeMutableBufferPointer { out in
                    classifier.classify(input, count: n, into: UnsafeMutableBufferPointer(rebasing: out[0..<(n * classes)]))
                }
            }
        }
        clock.mark("classify")

        // Best digit of each candidate, and whether it passes the rejection rules.
        var candidates = found.candidates
        var crops = options.keepDebugImages ? found.crops : []
        var scores = Array(probabilities[0..<(n * classes)])
        var best = [Int](repeating: 0, count: n), confidence = [Float](repeating: 0, count: n)
        var accepted = [Bool](repeating: false, count: n)
        for i in 0..<n { (best[i], confidence[i], accepted[i]) = judge(scores, row: i * classes, classes: classes) }
        resolveAlternatives(candidates, confidence: confidence, accepted: &accepted)
        // A candidate found after the first batch: row `row` of `more` (its probabilities) and
        // of `moreCrops` (its network input).
        func add(_ c: Candidate, row: Int, of more: [Float], crops moreCrops: [Float], accepted ok: Bool) {
            candidates.append(c)
            scores += more[(row * classes)..<((row + 1) * classes)]
            if options.keepDebugImages { crops += moreCrops[(row * 784)..<((row + 1) * 784)] }
            let (d, conf, _) = judge(more, row: row * classes, classes: classes)
            best.append(d); confidence.append(conf); accepted.append(ok)
        }

        // Second look: a blob about as wide as tall or wider that reads as no digit, or as one
        // only unsurely, may be two touching digits (a "1" against a "3" is not wide enough to
        // be split above): cut it where the ink is thinnest and read the pieces; keep them if
        // every piece is a sure digit.
        if options.maximumSecondLookCrops > 0 {
            var blobs: [Box] = [], members: [[Int]] = []
            func wide(_ i: Int) -> Bool {
                candidates[i].group < 0
                    && Float(candidates[i].maskBox.width) >= Float(candidates[i].maskBox.height) * options.secondLookMinimumAspect
            }
            func aspect(_ i: Int) -> Float { Float(candidates[i].maskBox.width) / Float(candidates[i].maskBox.height) }
            for i in 0..<n where !accepted[i] && wide(i) { blobs.append(candidates[i].maskBox); members.append([i]) }
            var limits = [Int](repeating: 3, count: blobs.count)
            let unsure = (0..<n).filter {
                accepted[$0] && confidence[$0] < options.secondLookBelowConfidence && wide($0)
                    && detector.mayBeTouchingDigits(candidates[$0].maskBox)
            }
            for i in unsure.sorted(by: { aspect($0) > aspect($1) }) {
                blobs.append(candidates[i].maskBox); members.append([i]); limits.append(1)
            }
            if !blobs.isEmpty {
                var extra: [Float] = []
                let hypotheses = detector.splitAgain(blobs, image: picture, maximumCrops: options.maximumSecondLookCrops,
                                                     hypotheses: limits, crops: &extra)
                if !extra.isEmpty {
                    let extraScores = classify(extra)
                    var k = 0
                    for (b, blobHypotheses) in hypotheses.enumerated() {
                        var bestPieces: [(Candidate, Int)] = [], bestScore: Float = -1
                        for pieces in blobHypotheses {
                            var score: Float = 1
                            for j in 0..<pieces.count {
                                let (_, conf, ok) = judge(extraScores, row: (k + j) * classes, classes: classes)
                                score = ok ? min(score, conf) : -1
                            }
                            if score > bestScore { bestScore = score; bestPieces = pieces.enumerated().map { ($0.element, k + $0.offset) } }
                            k += pieces.count
                        }
                        guard bestScore >= options.minimumSecondLookConfidence else { continue }
                        for i in members[b] { accepted[i] = false }
                        for (c, row) in bestPieces {
                            var piece = c
                            piece.group = -1
                            add(piece, row: row, of: extraScores, crops: extra, accepted: true)
                        }
                    }
                }
            }
        }
        clock.mark("second look")

        // Regroup: ink the mask broke into pieces (a faint stroke, a stroke along a removed
        // grid line) is read once more as clusters of nearby blobs that no digit was read in.
        if options.maximumRegroupCrops > 0 {
            let sure = (0..<candidates.count).filter { accepted[$0] }
            var extra: [Float] = []
            let clusters = detector.regroupFragments(digits: sure.map { candidates[$0].maskBox }, image: picture,
                                                     maximumCrops: options.maximumRegroupCrops, crops: &extra)
            if !clusters.isEmpty {
                let extraScores = classify(extra)
                for (j, (c, grows)) in clusters.enumerated() {
                    let (d, conf, ok) = judge(extraScores, row: j * classes, classes: classes)
                    var take = ok && conf >= options.minimumRegroupConfidence
                    if let g = grows.map({ sure[$0] }) {
                        // A digit with more of its ink: the same digit, read more surely.
                        take = ok && accepted[g] && conf > confidence[g] && (d == best[g] || conf >= options.minimumRegroupConfidence)
                        if take { accepted[g] = false }
                    }
                    add(c, row: j, of: extraScores, crops: extra, accepted: take)
                }
            }
        }
        clock.mark("regroup")
        suppressOverlaps(candidates, confidence: confidence, accepted: &accepted)
        if options.minimumNeighbourConfidence < 1 {
            rescueNeighbours(candidates, scores: scores, classes: classes, confidence: confidence, accepted: &accepted)
        }
        dropByContext(candidates, scores: scores, classes: classes, confidence: confidence, accepted: &accepted)

        var detections: [Detection] = []
        for i in 0..<candidates.count where accepted[i] {
            let row = i * classes
            detections.append(Detection(box: candidates[i].box, digit: best[i], confidence: confidence[i],
                                        probabilities: Array(scores[row..<(row + classes)])))
        }
        detections.sort { ($0.box.y, $0.box.x) < ($1.box.y, $1.box.x) }
        let numbers = groupIntoNumbers(detections.map { $0.box }).map { group -> NumberReading in
            var box = detections[group[0]].box
            var value = "", confidence: Float = 1
            for i in group {
                box = box.union(detections[i].box)
                value += String(detections[i].digit)
                confidence *= detections[i].confidence
            }
            return NumberReading(value: value, box: box, confidence: confidence)
        }
        clock.mark("numbers")

        var reading = FrameReading(width: image.width, height: image.height, detections: detections,
                                   numbers: numbers, timings: clock.stages)
        if options.keepDebugImages {
            var list: [RecognizerCandidate] = []
            for i in 0..<candidates.count {
                list.append(RecognizerCandidate(box: candidates[i].box,
                                                crop: Array(crops[(i * 784)..<((i + 1) * 784)]),
                                                digit: best[i], confidence: confidence[i], accepted: accepted[i]))
            }
            reading.debug = RecognizerDebug(binary: found.mask ?? GrayImage(width: 0, height: 0),
                                            binaryScale: found.scale, candidates: list)
        }
        return reading
    }

    /// The network's probabilities for `crops` (784 floats each), one row of `classCount` per crop.
    private func classify(_ crops: [Float]) -> [Float] {
        let m = crops.count / 784
        var out = [Float](repeating: 0, count: m * classifier.classCount)
        guard m > 0 else { return out }
        crops.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { classifier.classify(input, count: m, into: $0) }
        }
        return out
    }

    /// The best digit in row `row` of `scores`, its probability, and whether it passes the
    /// rejection rules.
    private func judge(_ scores: [Float], row: Int, classes: Int) -> (digit: Int, confidence: Float, accepted: Bool) {
        var d = 0
        for k in 1..<10 where scores[row + k] > scores[row + d] { d = k }
        let c = scores[row + d]
        return (d, c, c >= options.minimumConfidence && notDigit(scores, row: row, classes: classes) < options.maximumNotDigitProbability)
    }

    /// The "not a digit" probability in row `row` of `scores` (0 for a 10-class model).
    private func notDigit(_ scores: [Float], row: Int, classes: Int) -> Float {
        classes > 10 ? scores[row + 10] : 0
    }

    /// A wide blob is read both whole and split into pieces. The split wins only if every piece
    /// is an accepted digit and the pieces read more surely per digit (the geometric mean of
    /// their confidences) than the whole: two halves of a wide 0 each read as a middling "0" do
    /// not outvote a surer 0. (The least sure piece against the whole: F1 0.9542 -> 0.9545
    /// with the first scene model; the product of the pieces' confidences, which a pair of
    /// digits at most 0.91 sure under label smoothing can hardly win with, against the geometric
    /// mean: synth seeds 1 / 500001 / 1000 0.9705 / 0.9610 / 0.9578 -> 0.9711 / 0.9616 /
    /// 0.9583, and with three times as many touching numbers 0.9526 -> 0.9539.)
    private func resolveAlternatives(_ candidates: [Candidate], confidence: [Float], accepted: inout [Bool]) {
        var groups: [Int: (whole: [Int], pieces: [Int])] = [:]
        for (i, c) in candidates.enumerated() where c.group >= 0 {
            if c.alternative == 0 { groups[c.group, default: ([], [])].whole.append(i) }
            else { groups[c.group, default: ([], [])].pieces.append(i) }
        }
        for (_, g) in groups {
            let wholeScore: Float = g.whole.isEmpty ? -1 : g.whole.map { confidence[$0] }.reduce(1, *)
            let splitOK = !g.pieces.isEmpty && g.pieces.allSatisfy { accepted[$0] }
            let splitScore: Float = splitOK ? powf(g.pieces.map { confidence[$0] }.reduce(1, *), 1 / Float(g.pieces.count)) : -1
            if splitScore > wholeScore {
                for i in g.whole { accepted[i] = false }
            } else if !g.whole.isEmpty && g.whole.allSatisfy({ accepted[$0] }) {
                for i in g.pieces { accepted[i] = false }
            } else {
                // Neither reads cleanly: keep the pieces that do read (digits touching a scribble).
                // (Dropping them when the whole reads as a digit, only not surely enough, cost
                // more recall than it gained precision: synth seed 1 F1 0.9545 -> 0.9531.)
                for i in g.whole { accepted[i] = false }
            }
        }
    }

    /// Accepts the unsure candidates that stand beside a sure digit (see
    /// `RecognizerOptions.minimumNeighbourConfidence`), surest first, none overlapping an
    /// accepted box. Only the digits accepted by the rules count as neighbours, so a row of
    /// letters cannot pull itself in one by one.
    private func rescueNeighbours(_ candidates: [Candidate], scores: [Float], classes: Int,
                                  confidence: [Float], accepted: inout [Bool]) {
        let sure = (0..<candidates.count).filter { accepted[$0] }
        guard !sure.isEmpty else { return }
        var taken = sure.map { candidates[$0].box }
        let unsure = (0..<candidates.count).filter { i in
            !accepted[i] && confidence[i] >= options.minimumNeighbourConfidence
                && confidence[i] > notDigit(scores, row: i * classes, classes: classes)
        }.sorted { confidence[$0] > confidence[$1] }
        for i in unsure {
            let b = candidates[i].box
            guard sure.contains(where: { besideADigit(b, candidates[$0].box) }),
                  !taken.contains(where: { $0.intersectionArea(b) * 10 >= min($0.area, b.area) * 2 }) else { continue }
            accepted[i] = true
            taken.append(b)
        }
    }

    /// Drops the unsure digits that stand among letters or alone (see
    /// `RecognizerOptions.minimumConfidenceAmongLetters` and `minimumConfidenceAlone`): beside
    /// an accepted digit a reading stays; beside only candidates read as not a digit it needs
    /// the first; beside nothing that may be a digit, the second.
    private func dropByContext(_ candidates: [Candidate], scores: [Float], classes: Int,
                               confidence: [Float], accepted: inout [Bool]) {
        let strictest = max(options.minimumConfidenceAmongLetters, options.minimumConfidenceAlone)
        let before = accepted
        for i in 0..<candidates.count where before[i] && confidence[i] < strictest {
            let b = candidates[i].box
            var letter = false, digit = false, maybeDigit = false
            for j in 0..<candidates.count where j != i && besideADigit(candidates[j].box, b) {
                if before[j] { digit = true; break }
                if notDigit(scores, row: j * classes, classes: classes) >= options.maximumNotDigitProbability {
                    letter = true
                } else {
                    maybeDigit = true
                }
            }
            if digit { continue }
            if letter && confidence[i] < options.minimumConfidenceAmongLetters { accepted[i] = false }
            if !letter && !maybeDigit && confidence[i] < options.minimumConfidenceAlone { accepted[i] = false }
        }
    }

    /// Of two accepted boxes covering mostly the same ink, keep the surer.
    private func suppressOverlaps(_ candidates: [Candidate], confidence: [Float], accepted: inout [Bool]) {
        let order = (0..<candidates.count).filter { accepted[$0] }.sorted { confidence[$0] > confidence[$1] }
        var kept: [Int] = []
        for i in order {
            let b = candidates[i].box
            var clash = false
            for k in kept {
                let o = candidates[k].box
                if b.intersectionArea(o) * 10 >= min(b.area, o.area) * 6 { clash = true; break }
            }
            if clash { accepted[i] = false } else { kept.append(i) }
        }
    }
}
