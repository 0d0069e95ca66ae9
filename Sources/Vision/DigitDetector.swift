import Imaging

/// Settings of the detection half of the pipeline (everything before the network).
public struct DetectorSettings: Sendable {
    public var polarity: InkPolarity = .automatic
    /// Detection runs on a copy shrunk by a whole factor until its long side is at most this;
    /// crops are still cut from the full-resolution gray image.
    public var maximumWorkingSide: Int = 800
    /// Contrast rules; the window is chosen from the working image unless set.
    public var threshold = ThresholdSettings()
    public var removeLines = true
    /// Line marks must run on along the line for this share of their neighbourhood, in percent
    /// (`LineRemovalSettings.runOnPercent`); 0 turns the rule off.
    public var linesRunOnPercent = LineRemovalSettings.defaultRunOnPercent
    /// A picture strewn with salt-and-pepper specks (at least this share of isolated extreme
    /// pixels, see `speckleFraction`) is read through a 3x3 median (`medianFilter3x3`); 0 turns
    /// this off. Clean pictures, camera noise and JPEG artefacts stay far below it.
    public var despeckleAbove = 0.001
    /// Printed boxes of forms (a rectangle around a number, a comb of cells) are removed from the
    /// mask after the components are found, and the digits inside labelled again (see
    /// `FrameRemover`).
    public var removeFrames = true
    /// Line removal keeps pixels on a line that are much darker (light ink: lighter) than the
    /// lines are, i.e. ink written on or across the line (see `LineInkContrast`).
    public var keepDarkInkOnLines = true
    /// Thin upright blobs that continue as a line in the picture beyond their ends are pieces of
    /// grid or ruled lines, not "1"s, and are dropped before the network (see `isPieceOfLine`).
    public var dropPiecesOfLines = true
    /// Hysteresis: faint ink (half the contrast) joins the strokes it touches, so broken
    /// strokes (chalk, pencil, shadow) stay whole; faint specks alone are dropped.
    public var hysteresis = true
    /// Faint ink (pencil, worn chalk, a dim picture): how the contrast rules of `threshold`
    /// follow a page whose strongest ink stands out little (see `FaintInkRule`).
    public var faintInk = FaintInkRule()
    /// When to paint over the removed lines in the picture before a crop is normalised (see
    /// `paintOverLines`), so that printed lines darker than the writing do not set its ink level
    /// or show in the network's input: on faint pages only (where the contrast rules were
    /// lowered), always, or never.
    public var paintOverLines = LinePainting.faintPages
    /// Keep only gray ink that the cleaned mask also holds (see `MNISTNormalizer.normalize`).
    /// Off: on the synthetic scenes it cost 0.3-0.6 points of F1 (strokes under removed lines go too).
    public var gateCrops = false
    /// Shear each crop upright by its second moments (see `deskewMNIST`).
    public var deskew = false
    /// When the image is small enough to detect at full resolution, detect on a 3x3 box-blurred
    /// copy: shrinking averages sensor noise away, and this does the same for small frames.
    public var smoothFullResolution = true
    /// Digits at least this tall in the shrunk image are cropped from it rather than from the
    /// full-resolution picture (same result through area averaging, fewer pixels to read).
    public var workingCropHeight = 40
    /// At most this many candidates per image (the largest are kept).
    public var maximumCandidates = 256
    public init() {}
}

/// When the detector paints over removed lines before normalising crops.
public enum LinePainting: Sendable { case never, faintPages, always }

/// Candidates found in one image and their network inputs.
public struct DetectorOutput: Sendable {
    /// Boxes in input pixels, tightened to the ink; alternatives share a `group`.
    public var candidates: [Candidate]
    /// `candidates.count * 784` floats: the 28x28 inputs, in candidate order.
    public var crops: [Float]
    public var polarity: InkPolarity
    /// The cleaned ink mask at working resolution (only when asked for).
    public var mask: GrayImage?
    /// Input pixels per mask pixel.
    public var scale: Int
    /// The picture the candidates were read from when it is not the one given: the median of a
    /// picture strewn with specks (later looks at the same frame should cut crops from it).
    public var despeckled: GrayImage? = nil
}

/// Stages 1-5 of the pipeline: shrink, adaptive threshold, line removal, connected components,
/// fragment merging, candidate filtering and splitting, MNIST normalisation.
/// Keeps its buffers between frames: one detector per thread.
public final class DigitDetector {
    public var settings: DetectorSettings
    private var working = GrayImage(width: 0, height: 0)
    private var mask = GrayImage(width: 0, height: 0)
    private var integral: [UInt32] = []
    private let lineRemover = LineRemover()
    private let labeller = ComponentLabeller()
    private let frameRemover = FrameRemover()
    /// The median of the last picture strewn with specks (reused from frame to frame).
    private var despeckled = GrayImage(width: 0, height: 0)
    private let normalizer = MNISTNormalizer()
    private var lastScale = 1
    private var lastPolarity = InkPolarity.darkOnLight
    /// Where the last `detect` removed lines (see `LineRemover.lastLines`).
    private var lastLines: LineMarks?
    /// The blobs of the last `detect` after fragment merging, for `regroupFragments`.
    private var lastFragments: [Component] = []

    public init(settings: DetectorSettings = .init()) { self.settings = settings }

    /// The cleaned ink mask of the last `detect` (non-zero = ink) and input pixels per mask pixel.
    public var lastMask: (mask: GrayImage, scale: Int) { (mask, lastScale) }

    /// The whole factor the detector shrinks an image of this size by.
    public func scale(width: Int, height: Int) -> Int {
        max(1, (max(width, height) + settings.maximumWorkingSide - 1) / settings.maximumWorkingSide)
    }

    public func detect(_ image: GrayImage, keepMask: Bool = false) -> DetectorOutput {
        var clock = StageClock()
        return detect(image, keepMask: keepMask, clock: &clock)
    }

    /// Finds candidates; records stage times in `clock` ("despeckle", "downscale", "threshold", "lines",
    /// "components", "candidates", "normalise").
    public func detect(_ image: GrayImage, keepMask: Bool, clock: inout StageClock) -> DetectorOutput {
        var cleaned: GrayImage? = nil
        if settings.despeckleAbove > 0 && speckleFraction(image) >= settings.despeckleAbove {
            if despeckled.width != image.width || despeckled.height != image.height {
                despeckled = GrayImage(width: image.width, height: image.height)
            }
            image.pixels.withUnsafeBufferPointer { src in
                despeckled.pixels.withUnsafeMutableBufferPointer { medianFilter3x3(src, width: image.width, height: image.height, into: $0) }
            }
            cleaned = despeckled
        }
        clock.mark("despeckle")
        var output = detectClean(cleaned ?? image, keepMask: keepMask, clock: &clock)
        output.despeckled = cleaned
        return output
    }

    private func detectClean(_ image: GrayImage, keepMask: Bool, clock: inout StageClock) -> DetectorOutput {
        lastLines = nil
        let s = scale(width: image.width, height: image.height)
        let w = image.width / s, h = image.height / s
        guard w >= 8, h >= 8 else {
            return DetectorOutput(candidates: [], crops: [], polarity: settings.polarity == .lightOnDark ? .lightOnDark : .darkOnLight,
                                  mask: keepMask ? GrayImage(width: w, height: h) : nil, scale: s)
        }
        if working.width != w || working.height != h {
            working = GrayImage(width: w, height: h)
            mask = GrayImage(width: w, height: h)
            integral = [UInt32](repeating: 0, count: (w + 1) * (h + 1))
        }
        if s > 1 {
            image.pixels.withUnsafeBufferPointer { src in
                working.pixels.withUnsafeMutableBufferPointer { dst in
                    downscale(src, width: image.width, height: image.height, factor: s, into: dst)
                }
            }
        } else if settings.smoothFullResolution {
            image.pixels.withUnsafeBufferPointer { src in
                working.pixels.withUnsafeMutableBufferPointer { dst in
                    boxBlur3x3(src, width: w, height: h, into: dst)
                }
            }
        }
        clock.mark("downscale")

        var threshold = settings.threshold
        var faint = false
        let source = s > 1 || settings.smoothFullResolution ? working : image
        let window = threshold.window > 0 ? threshold.window : ThresholdSettings.defaultWindow(width: w, height: h)
        source.pixels.withUnsafeBufferPointer { p in
            integral.withUnsafeMutableBufferPointer { i in
                integralImage(p, width: w, height: h, into: i)
                let ii = UnsafeBufferPointer(i)
                threshold.polarity = settings.polarity != .automatic ? settings.polarity
                    : detectPolarity(p, width: w, height: h, integral: ii, radius: window / 2, minimumContrast: threshold.minimumContrast)
                guard settings.faintInk.fraction > 0 else { return }
                let c = estimateInkContrast(p, width: w, height: h, integral: ii, radius: window / 2,
                                            darkInk: threshold.polarity == .darkOnLight, quantile: settings.faintInk.quantile,
                                            lineReach: settings.faintInk.lineReach(width: w, height: h))
                faint = settings.faintInk.lower(&threshold, for: c)
            }
        }
        let polarity = threshold.polarity
        if (settings.removeLines || settings.hysteresis) && threshold.weakContrast == 0 {
            threshold.weakContrast = max(4, threshold.minimumContrast * 2 / 3)
        }
        source.pixels.withUnsafeBufferPointer { p in
            integral.withUnsafeBufferPointer { i in
                mask.pixels.withUnsafeMutableBufferPointer { m in
                    applyThreshold(p, width: w, height: h, settings: threshold, integral: i, mask: m)
                }
            }
        }
        clock.mark("threshold")

        if settings.removeLines {
            var lineSettings = LineRemovalSettings.forImage(width: w, height: h)
            lineSettings.runOnPercent = settings.linesRunOnPercent
            _ = source.pixels.withUnsafeBufferPointer { g in
                integral.withUnsafeBufferPointer { ii in
                    mask.pixels.withUnsafeMutableBufferPointer { m in
                        let contrast = settings.keepDarkInkOnLines
                            ? LineInkContrast(gray: g, integral: ii, radius: window / 2, darkInk: polarity == .darkOnLight) : nil
                        return lineRemover.remove(m, width: w, height: h, settings: lineSettings, keepWeakInk: settings.hysteresis,
                                                  contrast: contrast)
                    }
                }
            }
        }
        lastLines = settings.removeLines && (settings.paintOverLines == .always || (settings.paintOverLines == .faintPages && faint))
            ? lineRemover.lastLines : nil
        clock.mark("lines")

        let candidateSettings = CandidateSettings.forImage(width: w, height: h)
        var components = labeller.label(mask, minimumArea: max(4, candidateSettings.minimumHeight / 2),
                                        minimumStrongFraction: settings.hysteresis ? 0.25 : 0)
        clock.mark("components")
        if settings.removeFrames {
            let frameSettings = FrameSettings.forImage(width: w, height: h)
            let frames = mask.pixels.withUnsafeMutableBufferPointer {
                frameRemover.remove($0, width: w, height: h, components: components, settings: frameSettings)
            }
            if !frames.isEmpty {
                components = labeller.label(mask, minimumArea: max(4, candidateSettings.minimumHeight / 2),
                                            minimumStrongFraction: settings.hysteresis ? 0.25 : 0)
            }
            if settings.removeLines {
                // The mask before line removal, asked pixel by pixel of the threshold.
                let bars = source.pixels.withUnsafeBufferPointer { g in
                    integral.withUnsafeBufferPointer { ii in
                        let before = ThresholdProbe(pixels: g, integral: ii, width: w, height: h, settings: threshold, polarity: polarity)
                        return frameRemover.barsOfFrames(inkBefore: before.isInk, width: w, height: h, components: components,
                                                         settings: frameSettings)
                    }
                }
                for i in bars.reversed() {
                    mask.pixels.withUnsafeMutableBufferPointer { erase(components[i], from: $0, width: w) }
                    components.remove(at: i)
                }
            }
        }
        clock.mark("frames")

        let merged = mergeFragments(components, minimumArea: max(4, candidateSettings.minimumHeight / 2))
        lastFragments = merged
        var candidates = filterCandidates(merged, mask: mask, settings: candidateSettings)
        if settings.dropPiecesOfLines {
            source.pixels.withUnsafeBufferPointer { g in
                integral.withUnsafeBufferPointer { ii in
                    candidates.removeAll { c in
                        c.group < 0 && c.box.width <= c.box.height
                            && isPieceOfLine(c.box, mask: mask, gray: g, integral: ii, radius: window / 2, darkInk: polarity == .darkOnLight)
                    }
                }
            }
        }
        if candidates.count > settings.maximumCandidates {
            candidates.sort { $0.box.area > $1.box.area }
            candidates.removeLast(candidates.count - settings.maximumCandidates)
        }
        clock.mark("candidates")

        var crops = [Float](repeating: 0, count: candidates.count * 784)
        var kept: [Candidate] = []
        kept.reserveCapacity(candidates.count)
        lastScale = s
        lastPolarity = polarity
        crops.withUnsafeMutableBufferPointer { out in
            for c in candidates {
                let slot = UnsafeMutableBufferPointer(rebasing: out[(kept.count * 784)..<((kept.count + 1) * 784)])
                guard let box = normalize(image, maskBox: c.box, into: slot) else { continue }
                var k = c
                k.box = box
                k.maskBox = c.box
                kept.append(k)
            }
        }
        crops.removeLast(crops.count - kept.count * 784)
        clock.mark("normalise")
        return DetectorOutput(candidates: kept, crops: crops, polarity: polarity, mask: keepMask ? mask : nil, scale: s)
    }

    /// The network input for `maskBox` (mask pixels) of the image last passed to `detect`, and
    /// the box tightened to its ink in input pixels (nil: no ink).
    private func normalize(_ image: GrayImage, maskBox b: Box, into slot: UnsafeMutableBufferPointer<Float>) -> Box? {
        let s = lastScale
        if s > 1 && b.height >= settings.workingCropHeight {
            // (Only a shrunk copy: a blurred full-size one would soften the strokes.)
            // Tall enough in the shrunk image (itself area-averaged) to fit 20x20 from it.
            return normalizer.normalize(working, box: b, polarity: lastPolarity, padding: 1,
                                        deskew: settings.deskew, gate: settings.gateCrops ? mask : nil,
                                        gateScale: 1, lines: removedLines(scale: 1), into: slot)
                .map { Box(x: $0.x * s, y: $0.y * s, width: $0.width * s, height: $0.height * s) }
        }
        let full = Box(x: b.x * s, y: b.y * s, width: b.width * s, height: b.height * s)
        return normalizer.normalize(image, box: full, polarity: lastPolarity, padding: s,
                                    deskew: settings.deskew, gate: settings.gateCrops ? mask : nil,
                                    gateScale: s, lines: removedLines(scale: s), into: slot)
    }

    /// The lines the last `detect` removed, for painting over in crops (see `paintOverLines`).
    private func removedLines(scale: Int) -> RemovedLines? {
        guard let marks = lastLines else { return nil }
        return RemovedLines(marks: marks, mask: mask, scale: scale)
    }

    /// Second look at blobs the network did not read (or read unsurely) as one digit: other ways
    /// to cut each into touching digits (see `splitHypotheses`), from the mask of the last
    /// `detect` on `image`.
    /// Returns, per blob, its hypotheses as candidates (boxes in input pixels) with their crops
    /// appended to `crops`, all crops of a hypothesis or none. At most `maximumCrops` crops, and
    /// for blob i at most `hypotheses[i]` hypotheses (all of `splitHypotheses` when not given).
    public func splitAgain(_ blobs: [Box], image: GrayImage, maximumCrops: Int, hypotheses limits: [Int] = [],
                           crops: inout [Float]) -> [[[Candidate]]] {
        let minimumHeight = CandidateSettings.forImage(width: mask.width, height: mask.height).minimumHeight
        var budget = maximumCrops
        var result: [[[Candidate]]] = []
        var slot = [Float](repeating: 0, count: 784)
        for (index, blob) in blobs.enumerated() {
            var hypotheses: [[Candidate]] = []
            let limit = index < limits.count ? limits[index] : 3
            for pieces in splitHypotheses(blob, mask: mask, minimumHeight: minimumHeight, maximum: limit) where pieces.count <= budget {
                var made: [Candidate] = []
                var added: [Float] = []
                for p in pieces {
                    guard let box = slot.withUnsafeMutableBufferPointer({ normalize(image, maskBox: p, into: $0) }) else { break }
                    var c = Candidate(box: box)
                    c.maskBox = p
                    made.append(c)
                    added += slot
                }
                guard made.count == pieces.count else { continue }
                crops += added
                budget -= made.count
                hypotheses.append(made)
            }
            result.append(hypotheses)
        }
        return result
    }
}

extension DigitDetector {
    /// Whether the blob `box` (in the mask of the last `detect`) may be digits touching (see
    /// `mayBeTouchingDigits`).
    public func mayBeTouchingDigits(_ box: Box) -> Bool {
        Vision.mayBeTouchingDigits(box, mask: mask)
    }

    /// Another look at ink the network did not read as digits: clusters of nearby blobs of the
    /// last `detect` on `image` (see `clusterFragments`; `digits` are the boxes of the digits
    /// read, in the detector's mask as `Candidate.maskBox`), each read as one digit. Returns at
    /// most `maximumCrops` candidates (boxes in input pixels) with the digit each would grow,
    /// their crops appended to `crops`.
    public func regroupFragments(digits: [Box], image: GrayImage, maximumCrops: Int,
                                 crops: inout [Float]) -> [(candidate: Candidate, grows: Int?)] {
        guard maximumCrops > 0 else { return [] }
        let settings = CandidateSettings.forImage(width: mask.width, height: mask.height)
        var out: [(candidate: Candidate, grows: Int?)] = []
        var slot = [Float](repeating: 0, count: 784)
        // Clusters of loose blobs first, then digits grown by the blobs beside them.
        let clusters = clusterFragments(lastFragments, digits: digits, settings: settings, frameHeight: mask.height, growing: false)
            + clusterFragments(lastFragments, digits: digits, settings: settings, frameHeight: mask.height, growing: true)
        for cluster in clusters {
            guard out.count < maximumCrops else { break }
            guard let box = slot.withUnsafeMutableBufferPointer({ normalize(image, maskBox: cluster.box, into: $0) }) else { continue }
            var c = Candidate(box: box)
            c.maskBox = cluster.box
            out.append((c, cluster.grows))
            crops += slot
        }
        return out
    }
}

/// 3x3 mean of `source` (`width x height`) into `destination`; edge pixels average the
/// neighbours that exist.
public func boxBlur3x3(_ source: UnsafeBufferPointer<UInt8>, width w: Int, height h: Int,
                       into destination: UnsafeMutableBufferPointer<UInt8>) {
    precondition(source.count >= w * h && destination.count >= w * h)
    guard w > 0, h > 0 else { return }
    withUnsafeTemporaryAllocation(of: UInt16.self, capacity: 3 * w) { rows in
        // rows holds the horizontal 3-sums of three consecutive source rows, cyclically.
        func horizontal(_ y: Int, into slot: Int) {
            let r = source.baseAddress! + y * w, o = rows.baseAddress! + slot * w
            if w == 1 { o[0] = UInt16(r[0]) * 3; return }
            o[0] = UInt16(r[0]) * 2 + UInt16(r[1])     // edge: the missing neighbour repeats
            for x in 1..<(w - 1) { o[x] = UInt16(r[x - 1]) + UInt16(r[x]) + UInt16(r[x + 1]) }
            o[w - 1] = UInt16(r[w - 2]) + UInt16(r[w - 1]) * 2
        }
        for y in 0..<h {
            if y == 0 {
                horizontal(0, into: 0)
                horizontal(min(1, h - 1), into: 1)
            } else if y + 1 < h {
                horizontal(y + 1, into: (y + 1) % 3)
            }
            let above = rows.baseAddress! + (max(0, y - 1) % 3) * w
            let here = rows.baseAddress! + (y % 3) * w
            let below = rows.baseAddress! + (min(h - 1, y + 1) % 3) * w
            let out = destination.baseAddress! + y * w
            for x in 0..<w {
                let s = UInt32(above[x]) + UInt32(here[x]) + UInt32(below[x])
                out[x] = UInt8(truncatingIfNeeded: (s * 7282 + 32768) >> 16)   // / 9, rounded
            }
        }
    }
}
