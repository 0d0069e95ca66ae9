import Imaging
import Testing
@testable import Vision

/// A "1" (a 3x30 bar) touching a "0" (a 24x30 ring, 3 px strokes) 4 px to its right through a
/// 2 px bridge: 31x30, too narrow for `filterCandidates` to split it as a wide blob.
private func oneTouchingZero() -> GrayImage {
    var m = GrayImage(width: 60, height: 50)
    m.fill(Box(x: 10, y: 10, width: 3, height: 30), value: 255)          // the 1
    m.fill(Box(x: 13, y: 24, width: 4, height: 2), value: 255)           // where they touch
    m.fill(Box(x: 17, y: 10, width: 24, height: 3), value: 255)          // the 0: top,
    m.fill(Box(x: 17, y: 37, width: 24, height: 3), value: 255)          // bottom,
    m.fill(Box(x: 17, y: 10, width: 3, height: 30), value: 255)          // left,
    m.fill(Box(x: 38, y: 10, width: 3, height: 30), value: 255)          // right
    return m
}

@Test func splitHypotheses_cutsANarrowDigitOffItsTouchingNeighbour() {
    let m = oneTouchingZero()
    let blob = Box(x: 10, y: 10, width: 31, height: 30)
    #expect(Double(blob.width) / Double(blob.height) <= CandidateSettings(minimumHeight: 8).maximumAspect)
    let hypotheses = splitHypotheses(blob, mask: m, minimumHeight: 8)
    #expect(!hypotheses.isEmpty)
    // Every piece is as tall as the blob; the first hypothesis cuts in the bridge.
    #expect(hypotheses.allSatisfy { $0.count >= 2 && $0.allSatisfy { $0.height == 30 } })
    #expect(hypotheses[0].count == 2)
    #expect((13...16).contains(hypotheses[0][0].maxX))
    #expect(hypotheses[0][1].maxX == 41)
}

@Test func splitHypotheses_dropsCutsThatLeaveAShortPiece() {
    // A 30 px tall bar with a 12 px tall hook on its right: a piece of one stroke, not a digit
    // beside it; no hypothesis may make the hook a piece of its own.
    var m = GrayImage(width: 60, height: 50)
    m.fill(Box(x: 10, y: 10, width: 4, height: 30), value: 255)
    m.fill(Box(x: 14, y: 28, width: 22, height: 3), value: 255)
    m.fill(Box(x: 33, y: 28, width: 3, height: 12), value: 255)
    let hypotheses = splitHypotheses(Box(x: 10, y: 10, width: 26, height: 30), mask: m, minimumHeight: 8)
    #expect(hypotheses.isEmpty)
}

@Test func detectorSplitAgain_returnsCropsForEveryPieceOfEachHypothesis() {
    // The same blob as dark ink on a page; the detector cuts it again from its own mask.
    var page = GrayImage(width: 160, height: 120)
    for i in 0..<page.pixels.count { page.pixels[i] = 210 }
    let ink = oneTouchingZero()
    for y in 0..<50 { for x in 0..<60 where ink[x, y] != 0 { page[x + 50, y + 35] = 30 } }
    let detector = DigitDetector()
    let found = detector.detect(page)
    #expect(found.candidates.count == 1)
    let blob = found.candidates[0].maskBox
    var crops: [Float] = []
    let result = detector.splitAgain([blob], image: page, maximumCrops: 6, crops: &crops)
    #expect(result.count == 1 && !result[0].isEmpty)
    let pieces = result[0].reduce(0) { $0 + $1.count }
    #expect(pieces <= 6 && crops.count == pieces * 784)
    // First hypothesis: the 1 alone, then the 0 (input pixels).
    let first = result[0][0]
    #expect(first.count == 2 && first[0].box.maxX <= 50 + 17 && first[1].box.x >= 50 + 13)
    var none: [Float] = []
    #expect(detector.splitAgain([blob], image: page, maximumCrops: 1, crops: &none)[0].isEmpty && none.isEmpty)
}

@Test func mayBeTouchingDigits_seesTheOneStrokeJoin_butNotADigitsOwnStrokes() {
    // "10" touching through a bridge: the columns at the bridge cross one stroke.
    #expect(mayBeTouchingDigits(Box(x: 10, y: 10, width: 31, height: 30), mask: oneTouchingZero()))
    // A 0 alone (a ring about as wide as tall): every middle column crosses two strokes.
    var ring = GrayImage(width: 60, height: 50)
    ring.fill(Box(x: 10, y: 10, width: 30, height: 3), value: 255)
    ring.fill(Box(x: 10, y: 37, width: 30, height: 3), value: 255)
    ring.fill(Box(x: 10, y: 10, width: 3, height: 30), value: 255)
    ring.fill(Box(x: 37, y: 10, width: 3, height: 30), value: 255)
    #expect(!mayBeTouchingDigits(Box(x: 10, y: 10, width: 30, height: 30), mask: ring))
}
