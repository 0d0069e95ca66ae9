import Foundation
import Imaging
import NeuralNet
import Testing
import Vision
@testable import Recognition

/// A stand-in network: answers `digit` with probability `confidence` for every crop, the rest
/// spread evenly; with 11 classes, "not a digit" gets `notDigit`.
final class FixedClassifier: DigitClassifier {
    let classCount: Int
    let digit: Int, confidence: Float, notDigit: Float
    private(set) var calls = 0, crops = 0
    init(digit: Int, confidence: Float, classCount: Int = 10, notDigit: Float = 0) {
        self.digit = digit; self.confidence = confidence; self.classCount = classCount; self.notDigit = notDigit
    }
    func classify(_ inputs: UnsafeBufferPointer<Float>, count: Int, into p: UnsafeMutableBufferPointer<Float>) {
        calls += 1; crops += count
        for i in 0..<count {
            let rest = (1 - confidence - notDigit) / Float(classCount - 1 - (classCount > 10 ? 1 : 0))
            for k in 0..<classCount { p[i * classCount + k] = rest }
            p[i * classCount + digit] = confidence
            if classCount > 10 { p[i * classCount + 10] = notDigit }
        }
    }
}

/// A 320x200 page with "2024" written in the bitmap font at scale 7 (35x49 glyphs) at (40, 60)
/// and "7" alone at (250, 120); returns the page and the glyphs' ink boxes.
func fontPage(inverted: Bool = false) -> (GrayImage, [Box]) {
    var g = GrayImage(width: 320, height: 200, fill: 215)
    g.drawText("2024", x: 40, y: 60, scale: 7, value: 30)
    g.drawText("7", x: 250, y: 120, scale: 7, value: 30)
    var boxes: [Box] = []
    for (i, c) in "2024".enumerated() { boxes.append(inkBox(c, x: 40 + i * 42, y: 60, scale: 7)) }
    boxes.append(inkBox("7", x: 250, y: 120, scale: 7))
    return (inverted ? g.inverted() : g, boxes)
}

func inkBox(_ c: Character, x: Int, y: Int, scale: Int) -> Box {
    let rows = BitmapFont.rows(c)!
    var x0 = 5, x1 = -1, y0 = 7, y1 = -1
    for (r, bits) in rows.enumerated() { for col in 0..<5 where bits & (0x10 >> UInt8(col)) != 0 {
        x0 = min(x0, col); x1 = max(x1, col); y0 = min(y0, r); y1 = max(y1, r)
    } }
    return Box(x: x + x0 * scale, y: y + y0 * scale, width: (x1 - x0 + 1) * scale, height: (y1 - y0 + 1) * scale)
}

@Test(arguments: [false, true])
func recognizer_findsEachGlyph_inOneBatch_andGroupsTheNumber(inverted: Bool) {
    let (page, truth) = fontPage(inverted: inverted)
    let stub = FixedClassifier(digit: 3, confidence: 0.9)
    let reading = Recognizer(classifier: stub).read(page)
    #expect(stub.calls == 1)
    #expect(reading.detections.count == 5)
    for t in truth {
        #expect(reading.detections.contains { $0.box.iou(t) >= 0.8 && $0.digit == 3 }, "no detection at \(t)")
    }
    #expect(reading.numbers.map { $0.value } == ["3333", "3"])
    let number = reading.numbers[0]
    #expect(number.box.iou(truth[0].union(truth[3])) > 0.9)
    #expect(abs(number.confidence - 0.9 * 0.9 * 0.9 * 0.9) < 1e-4)
    #expect(reading.timings.map { $0.stage }.contains("classify"))
}

@Test func recognizer_rejectsUnsureReadings_andTheNotADigitClass() {
    let (page, _) = fontPage()
    #expect(Recognizer(classifier: FixedClassifier(digit: 3, confidence: 0.3)).read(page).detections.isEmpty)
    let notDigit = FixedClassifier(digit: 3, confidence: 0.35, classCount: 11, notDigit: 0.6)
    var options = RecognizerOptions(); options.minimumConfidence = 0.3
    #expect(Recognizer(classifier: notDigit, options: options).read(page).detections.isEmpty)
    let sure = FixedClassifier(digit: 3, confidence: 0.9, classCount: 11, notDigit: 0.05)
    #expect(Recognizer(classifier: sure).read(page).detections.count == 5)
}

@Test func recognizer_keepsTheMaskAndCropsForTheDebugView_whenAsked() {
    let (page, _) = fontPage()
    var options = RecognizerOptions(); options.keepDebugImages = true
    let reading = Recognizer(classifier: FixedClassifier(digit: 1, confidence: 0.99), options: options).read(page)
    let debug = try! #require(reading.debug)
    #expect(debug.binary.width == page.width / debug.binaryScale)
    #expect(debug.binary.pixels.contains(255))
    #expect(debug.candidates.count == 5 && debug.candidates.allSatisfy { $0.crop.count == 784 && $0.accepted })
    #expect(Recognizer(classifier: FixedClassifier(digit: 1, confidence: 0.99)).read(page).debug == nil)
}

@Test func recognizer_survivesEmptyTinyAndFlatImages() {
    let r = Recognizer(classifier: FixedClassifier(digit: 1, confidence: 0.99))
    #expect(r.read(GrayImage(width: 0, height: 0)).detections.isEmpty)
    #expect(r.read(GrayImage(width: 3, height: 2, fill: 9)).detections.isEmpty)
    #expect(r.read(GrayImage(width: 640, height: 480, fill: 128)).detections.isEmpty)
    // Sizes change from frame to frame without trouble (buffers are reused).
    #expect(r.read(fontPage().0).detections.count == 5)
    #expect(r.read(GrayImage(width: 1920, height: 1080, fill: 200)).detections.isEmpty)
}

@Test func sceneScore_countsHitsFindsAndNumbers() {
    var s = SceneScore()
    let truth: [(box: Box, digit: Int)] = [(Box(x: 0, y: 0, width: 10, height: 20), 1), (Box(x: 20, y: 0, width: 10, height: 20), 2)]
    var reading = FrameReading(width: 100, height: 100, detections: [
        Detection(box: Box(x: 1, y: 0, width: 10, height: 20), digit: 1, confidence: 0.9, probabilities: []),
        Detection(box: Box(x: 20, y: 1, width: 10, height: 20), digit: 7, confidence: 0.9, probabilities: []),
        Detection(box: Box(x: 60, y: 60, width: 10, height: 20), digit: 4, confidence: 0.9, probabilities: []),
    ], numbers: [NumberReading(value: "17", box: Box(x: 0, y: 0, width: 30, height: 20), confidence: 0.8)], timings: [])
    s.add(truthDigits: truth, truthNumbers: [(Box(x: 0, y: 0, width: 30, height: 20), "12")], reading: reading)
    #expect(s.found == 2 && s.hits == 1 && s.detections == 3 && s.trueDigits == 2)
    #expect(abs(s.precision - 1.0 / 3) < 1e-9 && s.recall == 0.5 && s.labelAccuracy == 0.5)
    #expect(s.numbersExact == 0)
    reading.numbers[0].value = "12"
    var t = SceneScore()
    t.add(truthDigits: [], truthNumbers: [], reading: reading)
    #expect(t.emptyPages == 1 && t.emptyPageDetections == 3)
    t.add(truthDigits: truth, truthNumbers: [(Box(x: 0, y: 0, width: 30, height: 20), "12")], reading: reading)
    #expect(t.numbersExact == 1)
}

/// Width and height of the ink (> 0.3) of crop `i` of a batch.
func inkExtent(_ inputs: UnsafeBufferPointer<Float>, crop i: Int) -> (width: Int, height: Int) {
    var x0 = 28, x1 = -1, y0 = 28, y1 = -1
    for y in 0..<28 { for x in 0..<28 where inputs[i * 784 + y * 28 + x] > 0.3 {
        x0 = min(x0, x); x1 = max(x1, x); y0 = min(y0, y); y1 = max(y1, y)
    } }
    return (x1 - x0 + 1, y1 - y0 + 1)
}

/// A stand-in network that answers from the extent of the ink in each crop: `answer(width,
/// height)` gives the digit, its probability and the "not a digit" probability; the other
/// digits share the rest evenly.
final class ExtentClassifier: DigitClassifier {
    let classCount = 11
    let answer: (Int, Int) -> (digit: Int, confidence: Float, notDigit: Float)
    init(_ answer: @escaping (Int, Int) -> (digit: Int, confidence: Float, notDigit: Float)) { self.answer = answer }
    func classify(_ inputs: UnsafeBufferPointer<Float>, count: Int, into p: UnsafeMutableBufferPointer<Float>) {
        for i in 0..<count {
            let ink = inkExtent(inputs, crop: i)
            let (digit, c, n) = answer(ink.width, ink.height)
            for k in 0..<10 { p[i * 11 + k] = (1 - c - n) / 9 }
            p[i * 11 + digit] = c
            p[i * 11 + 10] = n
        }
    }
}

/// Wide ink (a blob read whole) reads as a 0 with probability `whole`, upright ink (a piece of
/// it) with `piece`; the rest spread evenly over the other ten classes.
func shapeClassifier(whole: Float, piece: Float) -> ExtentClassifier {
    ExtentClassifier { w, h in
        let c = w > h ? whole : piece
        return (0, c, (1 - c) / 10)
    }
}

@Test(arguments: [(Float(0.8), Float(0.75), 1), (Float(0.8), Float(0.85), 2)])
func recognizer_splitsAWideBlobOnlyWhenThePiecesReadBetterThanTheWhole(whole: Float, piece: Float, expected: Int) {
    // A wide ring (aspect 1.6, tried whole and split): two pieces at 0.75 each do not outvote
    // the whole at 0.8; at 0.85 each they do (per digit: the geometric mean of the pieces).
    var page = GrayImage(width: 320, height: 200, fill: 220)
    for y in 0..<200 { for x in 0..<320 {
        let r = pow(Double(x - 150) / 48, 2) + pow(Double(y - 100) / 30, 2)
        if r > 0.72 && r < 1 { page[x, y] = 30 }
    } }
    var options = RecognizerOptions(); options.keepDebugImages = true
    let reading = Recognizer(classifier: shapeClassifier(whole: whole, piece: piece), options: options).read(page)
    #expect(reading.detections.count == expected, "\(reading.debug!.candidates.map { ($0.box, $0.confidence, $0.accepted) })")
}

/// Reads narrow ink (a "1") as the digit 1 with `narrow` probability and "not a digit" with
/// `narrowNotDigit`; anything wider as a sure 0.
func narrowClassifier(narrow: Float, narrowNotDigit: Float) -> ExtentClassifier {
    ExtentClassifier { w, h in w * 10 < h * 6 ? (1, narrow, narrowNotDigit) : (0, 0.9, 0.02) }
}

@Test func recognizer_reportsAnUnsureDigitBesideSureOnes_butNotAlone() {
    // "101" and a lone "1": the 1s read at 0.4, the 0s surely.
    var page = GrayImage(width: 360, height: 200, fill: 215)
    page.drawText("101", x: 40, y: 60, scale: 7, value: 30)
    page.drawText("1", x: 280, y: 120, scale: 7, value: 30)
    let unsure = narrowClassifier(narrow: 0.4, narrowNotDigit: 0.2)
    let read = Recognizer(classifier: unsure).read(page)
    #expect(read.numbers.map { $0.value } == ["101"], "\(read.detections.map { ($0.box, $0.digit) })")
    var off = RecognizerOptions(); off.minimumNeighbourConfidence = 1
    #expect(Recognizer(classifier: unsure, options: off).read(page).detections.map { $0.digit } == [0])
    // more likely "not a digit" than a 1: not pulled in
    let notDigit = narrowClassifier(narrow: 0.35, narrowNotDigit: 0.45)
    #expect(Recognizer(classifier: notDigit).read(page).numbers.map { $0.value } == ["0"])
    // the rule itself
    let a = Box(x: 100, y: 100, width: 30, height: 50)
    #expect(besideADigit(Box(x: 140, y: 104, width: 12, height: 46), a))      // the next digit
    #expect(besideADigit(Box(x: 60, y: 98, width: 32, height: 52), a))        // the one before
    #expect(!besideADigit(Box(x: 175, y: 100, width: 30, height: 50), a))     // 45 px apart: too far
    #expect(!besideADigit(Box(x: 140, y: 130, width: 30, height: 50), a))     // the line below
    #expect(!besideADigit(Box(x: 140, y: 110, width: 15, height: 20), a))     // much smaller
}

@Test func recognizer_readsADigitTheMaskBrokeIntoPieces_asOne() {
    // A 0 drawn as four bars that do not touch (a faint stroke thresholded into pieces): the
    // upright bars alone read as no digit; together the pieces read as a sure 0.
    var page = GrayImage(width: 320, height: 200, fill: 215)
    page.fill(Box(x: 125, y: 60, width: 40, height: 4), value: 30)
    page.fill(Box(x: 125, y: 120, width: 40, height: 4), value: 30)
    page.fill(Box(x: 118, y: 68, width: 4, height: 48), value: 30)
    page.fill(Box(x: 168, y: 68, width: 4, height: 48), value: 30)
    let bars = narrowClassifier(narrow: 0.2, narrowNotDigit: 0.7)
    let read = Recognizer(classifier: bars).read(page)
    #expect(read.detections.count == 1)
    #expect(read.detections.first.map { $0.digit == 0 && $0.box.iou(Box(x: 118, y: 60, width: 54, height: 64)) > 0.8 } == true,
            "\(read.detections.map { ($0.box, $0.digit) })")
    var off = RecognizerOptions(); off.maximumRegroupCrops = 0
    #expect(Recognizer(classifier: bars, options: off).read(page).detections.isEmpty)
}

@Test(arguments: [(Float(0.95), true), (Float(0.7), false)])
func recognizer_growsADigitByAStrokeBesideIt_onlyWhenItReadsAsSurely(withBar: Float, grows: Bool) {
    // A ring read as a 0 at 0.8, and a short bar 7 px to its right at its top (a 5's long top
    // bar): read together (wider than tall) the 0 has `withBar`.
    var page = GrayImage(width: 320, height: 200, fill: 215)
    for y in 0..<200 { for x in 0..<320 {
        let r = pow(Double(x - 140) / 20, 2) + pow(Double(y - 100) / 30, 2)
        if r > 0.7 && r < 1 { page[x, y] = 30 }
    } }
    page.fill(Box(x: 167, y: 72, width: 24, height: 8), value: 30)
    let read = Recognizer(classifier: shapeClassifier(whole: withBar, piece: 0.8)).read(page)
    #expect(read.detections.count == 1)
    let width = read.detections.first?.box.width ?? 0
    #expect(grows ? width >= 55 : width <= 42, "\(read.detections.map { ($0.box, $0.confidence) })")
}

@Test(arguments: [(Float(0.85), 2), (Float(0.95), 1)])
func recognizer_cutsABlobReadUnsurelyAsOneDigit_intoTheTwoItHolds(whole: Float, expected: Int) {
    // A "1" touching a "0" (one blob about as wide as tall) reads as one 0 with `whole`; the
    // pieces read surely (1 and 0 at 0.9). Read unsurely, the blob is cut; surely, it is not.
    var page = GrayImage(width: 200, height: 160, fill: 215)
    page.fill(Box(x: 60, y: 50, width: 6, height: 60), value: 30)      // the 1
    page.fill(Box(x: 66, y: 78, width: 8, height: 4), value: 30)       // where they touch
    page.fill(Box(x: 74, y: 50, width: 48, height: 6), value: 30)      // the 0
    page.fill(Box(x: 74, y: 104, width: 48, height: 6), value: 30)
    page.fill(Box(x: 74, y: 50, width: 6, height: 60), value: 30)
    page.fill(Box(x: 116, y: 50, width: 6, height: 60), value: 30)
    let stub = ExtentClassifier { w, h in
        w * 10 < h * 6 ? (1, 0.9, 0.02) : (w > h ? (0, whole, 0.02) : (0, 0.9, 0.02))
    }
    let read = Recognizer(classifier: stub).read(page)
    #expect(read.detections.count == expected, "\(read.detections.map { ($0.box, $0.digit, $0.confidence) })")
    if expected == 2 {
        #expect(read.numbers.map { $0.value } == ["10"])
        var off = RecognizerOptions(); off.secondLookBelowConfidence = 0
        #expect(Recognizer(classifier: stub, options: off).read(page).detections.count == 1)
    }
}

@Test func recognizer_dropsUnsureDigitsAmongLettersOrAlone_butNotInANumber() {
    // Upright bars read as a "1" at 0.7, hollow wide boxes as "not a digit" (letters), hollow
    // upright boxes as a sure 0. A bar between two letters is a letter in a word; a bar alone,
    // or between a letter and a sure digit, is a 1.
    var page = GrayImage(width: 400, height: 300, fill: 215)
    func ring(_ x: Int, _ y: Int, _ w: Int) {
        page.fill(Box(x: x, y: y, width: w, height: 4), value: 30)
        page.fill(Box(x: x, y: y + 36, width: w, height: 4), value: 30)
        page.fill(Box(x: x, y: y, width: 4, height: 40), value: 30)
        page.fill(Box(x: x + w - 4, y: y, width: 4, height: 40), value: 30)
    }
    func bar(_ x: Int, _ y: Int) { page.fill(Box(x: x, y: y, width: 6, height: 40), value: 30) }
    ring(30, 40, 46); bar(88, 40); ring(106, 40, 46)        // "X1X"
    bar(300, 40)                                            // "1"
    ring(30, 180, 46); bar(88, 180); ring(106, 180, 30)     // "X10"
    let stub = ExtentClassifier { w, h in
        w * 10 < h * 6 ? (1, 0.7, 0.05) : (w > h ? (0, 0.05, 0.9) : (0, 0.95, 0.02))
    }
    let read = Recognizer(classifier: stub).read(page)
    #expect(read.detections.map { $0.digit } == [1, 1, 0], "\(read.detections.map { ($0.box, $0.digit) })")
    #expect(read.numbers.map { $0.value } == ["1", "10"])
    var off = RecognizerOptions(); off.minimumConfidenceAmongLetters = 0
    #expect(Recognizer(classifier: stub, options: off).read(page).detections.count == 4)
    // read surely, the bar between the letters stays
    let sure = ExtentClassifier { w, h in
        w * 10 < h * 6 ? (1, 0.95, 0.02) : (w > h ? (0, 0.05, 0.9) : (0, 0.95, 0.02))
    }
    #expect(Recognizer(classifier: sure).read(page).detections.contains { $0.digit == 1 && $0.box.iou(Box(x: 88, y: 40, width: 6, height: 40)) > 0.7 })
    // read at 0.55, the bar alone is dropped too (a lone mark needs 0.6); the one beside the 0 stays
    let faint = ExtentClassifier { w, h in
        w * 10 < h * 6 ? (1, 0.55, 0.05) : (w > h ? (0, 0.05, 0.9) : (0, 0.95, 0.02))
    }
    #expect(Recognizer(classifier: faint).read(page).numbers.map { $0.value } == ["10"])
    var alone = RecognizerOptions(); alone.minimumConfidenceAlone = 0
    #expect(Recognizer(classifier: faint, options: alone).read(page).numbers.map { $0.value } == ["1", "10"])
}

/// `writingTilt`: digit boxes along lines at a known angle give that angle; boxes in level
/// rows give about 0; a lone digit or two give nil; digits of the next line down do not pair
/// across the lines.
@Test func writingTilt_isTheMedianAngleOfNeighbouringDigits() throws {
    func line(_ angle: Double, x: Double, y: Double, count: Int, height: Int = 40) -> [Box] {
        (0..<count).map { i in
            let t = Double(i) * 32
            // Widths vary as digits' do; the centres lie on the line.
            let w = [22, 14, 26, 20, 24][i % 5]
            let cx = x + t * cos(angle), cy = y + t * sin(angle)
            return Box(x: Int(cx) - w / 2, y: Int(cy) - height / 2, width: w, height: height)
        }
    }
    for angle in [-0.35, -0.15, 0.2, 0.4] {
        let boxes = line(angle, x: 100, y: 300, count: 5) + line(angle, x: 120, y: 400, count: 4)
        let tilt = try #require(writingTilt(boxes))
        #expect(abs(tilt - angle) < 0.03, "\(tilt) for \(angle)")
    }
    let level = line(0, x: 50, y: 100, count: 6) + line(0, x: 60, y: 150, count: 6)
    #expect(abs(try #require(writingTilt(level))) < 0.03)
    #expect(writingTilt(line(0.3, x: 100, y: 100, count: 2)) == nil)
    #expect(writingTilt([Box(x: 10, y: 10, width: 20, height: 40)]) == nil)
}
