import Imaging
import Vision

/// The network inputs the pipeline cuts from a scene, labelled from the scene's truth: training
/// data that looks exactly like what the network sees at run time (lighting, blur, noise, JPEG,
/// neighbours' ink at the crop edges, fragments, distractors, grid remnants).
///
/// A crop whose box overlaps a true digit with IoU >= `digitIoU` is that digit. One that
/// overlaps every true digit with IoU < `notDigitIoU` and lies mostly outside every digit is
/// "not a digit" (class 10): a letter, a scribble, a stain, a piece of a line — all false
/// detections if read as digits. So is a crop that holds two or more whole digits (touching
/// digits read as one: a "1" against a "3" read as an "8" is a miss of both and a false
/// detection; as "not a digit" it gets the second look, which cuts it). Left out: crops in
/// between (a digit with part of its neighbour) and fragments of a digit (a "1"-like stroke of a 4, once
/// scaled to 20x20, is a 1: calling it "not a digit" would teach the network to reject 1s).
/// Except: a *piece cut* from a wide blob (the whole-or-split alternatives and the second
/// look) that lies within one digit is "not a digit" — half of a wide 0 read as a "0" is a
/// false detection and a missed 0 at once, and the whole-or-split choice needs the network to
/// say so.
public struct SceneCropLabeller {
    public var digitIoU = 0.5
    public var notDigitIoU = 0.2
    /// A crop with at least this fraction of its box inside one true digit is a fragment.
    public var fragmentCover = 0.5
    /// Also cut wide blobs into touching digits as the recogniser's second look does, and keep
    /// up to this many of those pieces per scene.
    public var secondLookCrops = 12
    private let detector: DigitDetector

    public init(options: RecognizerOptions = .init()) {
        detector = DigitDetector()
        options.configure(&detector.settings)   // the crops the recogniser's network sees
    }

    /// A cut piece with at least this fraction of its box inside one true digit is part of it.
    public var pieceCover = 0.8
    /// A true digit with at least this fraction of its box inside a crop's box is whole in it.
    public var wholeDigitCover = 0.8

    /// Label of a crop with box `box`: 0-9, 10 (not a digit) or nil (ambiguous). `cutPiece`:
    /// the crop is a piece the detector cut from a wider blob.
    public func label(_ box: Box, truth: [(box: Box, digit: Int)], cutPiece: Bool = false) -> UInt8? {
        var best = 0.0, digit = -1, cover = 0.0, wholeDigits = 0
        for t in truth {
            let iou = t.box.iou(box)
            if iou > best { best = iou; digit = t.digit }
            let common = Double(box.intersectionArea(t.box))
            cover = max(cover, common / Double(max(1, box.area)))
            if common >= wholeDigitCover * Double(max(1, t.box.area)) { wholeDigits += 1 }
        }
        if best >= digitIoU { return UInt8(digit) }
        if wholeDigits >= 2 { return 10 }
        if cutPiece && cover >= pieceCover { return 10 }
        return best < notDigitIoU && cover < fragmentCover ? 10 : nil
    }

    /// Appends the scene's labelled crops (28x28 bytes, 0 = background, 255 = ink) and labels.
    /// Returns how many were added.
    @discardableResult
    public func collect(_ scene: Scene, images: inout [UInt8], labels: inout [UInt8]) -> Int {
        let found = detector.detect(scene.image)
        var added = 0
        func add(_ box: Box, _ crops: [Float], _ row: Int, cutPiece: Bool) {
            guard let l = label(box, truth: scene.digits, cutPiece: cutPiece) else { return }
            images += networkInputBytes(crops[(row * 784)..<((row + 1) * 784)])
            labels.append(l)
            added += 1
        }
        for (i, c) in found.candidates.enumerated() { add(c.box, found.crops, i, cutPiece: c.alternative > 0) }
        if secondLookCrops > 0 {
            let blobs = found.candidates.filter { $0.group < 0 && $0.maskBox.width * 10 >= $0.maskBox.height * 9 }.map { $0.maskBox }
            if !blobs.isEmpty {
                var extra: [Float] = []
                let hypotheses = detector.splitAgain(blobs, image: scene.image, maximumCrops: secondLookCrops, crops: &extra)
                var row = 0
                for blob in hypotheses { for pieces in blob { for p in pieces { add(p.box, extra, row, cutPiece: true); row += 1 } } }
            }
        }
        return added
    }
}
