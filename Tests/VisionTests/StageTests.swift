import Imaging
import Testing
@testable import Vision

/// Paper at `paper` with a lighting ramp, and dark bars drawn at `ink`.
private func page(width: Int = 120, height: Int = 80, paper: Int = 200, ramp: Int = 0, ink: UInt8 = 40,
                  bars: [Box]) -> GrayImage {
    var g = GrayImage(width: width, height: height)
    for y in 0..<height { for x in 0..<width { g[x, y] = UInt8(max(0, min(255, paper - ramp * x / width))) } }
    for b in bars { g.fill(b, value: ink) }
    return g
}

@Test func adaptiveThreshold_marksExactlyTheInk_underALightingRamp() {
    let bars = [Box(x: 10, y: 10, width: 4, height: 30), Box(x: 90, y: 40, width: 20, height: 4)]
    // Paper falls from 220 to 100 across the page; ink stays 60 darker than the paper under it.
    var g = page(paper: 220, ramp: 120, bars: [])
    for b in bars { for y in b.y..<b.maxY { for x in b.x..<b.maxX { g[x, y] = g[x, y] - 60 } } }
    var settings = ThresholdSettings(); settings.window = 31
    let (mask, polarity) = adaptiveThreshold(g, settings: settings)
    #expect(polarity == .darkOnLight)
    var expected = GrayImage(width: 120, height: 80)
    for b in bars { expected.fill(b, value: 255) }
    #expect(mask == expected)
}

@Test func adaptiveThreshold_findsLightInkOnADarkBoard_automatically() {
    var g = GrayImage(width: 100, height: 60, fill: 40)
    g.fill(Box(x: 30, y: 10, width: 5, height: 40), value: 220)
    g.fill(Box(x: 60, y: 20, width: 20, height: 5), value: 200)
    let (mask, polarity) = adaptiveThreshold(g)
    #expect(polarity == .lightOnDark)
    #expect(mask.pixels.filter { $0 == 255 }.count == 5 * 40 + 20 * 5)
    #expect(mask[32, 30] == 255 && mask[10, 10] == 0)
    // The same picture inverted is dark ink on light paper, and gives the same mask.
    let (inverted, p2) = adaptiveThreshold(g.inverted())
    #expect(p2 == .darkOnLight)
    #expect(inverted == mask)
}

@Test func adaptiveThreshold_ignoresNoiseBelowTheContrastFloor() {
    var g = GrayImage(width: 64, height: 64, fill: 180)
    var seed: UInt64 = 7
    for i in 0..<g.pixels.count {
        seed = seed &* 6364136223846793005 &+ 1442695040888963407
        g.pixels[i] = UInt8(180 + Int(seed >> 61) - 4)     // +-4 levels
    }
    #expect(adaptiveThreshold(g).mask.pixels.allSatisfy { $0 == 0 })
}

@Test func connectedComponents_countsEightConnectedBlobs_withBoxesAreasAndMoments() {
    var m = GrayImage(width: 20, height: 10)
    m.fill(Box(x: 1, y: 1, width: 3, height: 2), value: 255)       // 6 px
    m[4, 3] = 255                                                   // diagonal neighbour: same blob
    m.fill(Box(x: 10, y: 5, width: 4, height: 4), value: 255)      // 16 px
    m[18, 0] = 255                                                  // a speck
    // A U shape: its arms only join at the bottom, found through union-find.
    for y in 0..<5 { m[15, y + 4] = 255; m[17, y + 4] = 255 }; m[16, 8] = 255
    let all = connectedComponents(m)
    #expect(all.count == 4)
    let first = all.first { $0.box.x == 1 }!
    #expect(first.box == Box(x: 1, y: 1, width: 4, height: 3) && first.area == 7)
    let square = all.first { $0.box.x == 10 }!
    #expect(square.area == 16 && square.centroid.x == 11.5 && square.centroid.y == 6.5)
    #expect(square.sumXX == 4 * (100 + 121 + 144 + 169))
    let u = all.first { $0.box.x == 15 }!
    #expect(u.area == 11 && u.box == Box(x: 15, y: 4, width: 3, height: 5))
    #expect(connectedComponents(m, minimumArea: 2).count == 3)
}

@Test func connectedComponents_hysteresisKeepsWeakPixelsTouchingStrongOnes() {
    var m = GrayImage(width: 20, height: 5)
    for x in 0..<8 { m[x, 2] = x < 2 ? 255 : weakInk }     // strong seed with a weak tail
    for x in 12..<18 { m[x, 2] = weakInk }                  // weak only: noise
    let c = ComponentLabeller().label(m, minimumStrongFraction: 0.2)
    #expect(c.count == 1 && c[0].area == 8 && c[0].strongArea == 2)
}

@Test func mnistNormalizer_fitsTwentyPixels_andCentresTheMass() {
    // A 10x40 dark bar on paper: fits to 5x20 (aspect kept), centred at (14, 14).
    let g = page(width: 100, height: 80, paper: 220, bars: [Box(x: 40, y: 20, width: 10, height: 40)])
    let n = MNISTNormalizer()
    var out = [Float](repeating: 0, count: 784)
    let box = out.withUnsafeMutableBufferPointer {
        n.normalize(g, box: Box(x: 38, y: 18, width: 14, height: 44), polarity: .darkOnLight, into: $0)
    }
    #expect(box == Box(x: 40, y: 20, width: 10, height: 40))
    let inked = (0..<784).filter { out[$0] > 0.5 }
    let xs = Set(inked.map { $0 % 28 }), ys = Set(inked.map { $0 / 28 })
    #expect(xs.count == 5 && ys.count == 20)
    let c = out.withUnsafeBufferPointer { centreOfMass($0) }
    #expect(abs(c.x - 14) <= 0.5 && abs(c.y - 14) <= 0.5)
    #expect(out.max()! <= 1 && out.min()! >= 0)
}

@Test func mnistNormalizer_readsLightInkTheSameAsDarkInk() {
    let dark = page(width: 80, height: 80, paper: 210, ink: 30, bars: [Box(x: 20, y: 20, width: 30, height: 6), Box(x: 44, y: 20, width: 6, height: 40)])
    let light = dark.inverted()
    let n = MNISTNormalizer()
    let a = n.normalize(dark, box: Box(x: 20, y: 20, width: 30, height: 40), polarity: .darkOnLight)
    let b = n.normalize(light, box: Box(x: 20, y: 20, width: 30, height: 40), polarity: .lightOnDark)
    #expect(zip(a, b).map { abs($0 - $1) }.max()! < 0.05)
    #expect(a.reduce(0, +) > 20)
}

@Test func areaResample_preservesTheMean() {
    let input: [Float] = [0, 1, 1, 0, 1, 1, 0]
    var out = [Float](repeating: 0, count: 3)
    input.withUnsafeBufferPointer { i in out.withUnsafeMutableBufferPointer { o in
        areaResample(i, stride: 1, count: 7, into: o.baseAddress!, stride: 1, count: 3)
    } }
    let meanOut: Float = out.reduce(0, +) / 3
    let meanIn: Float = input.reduce(0, +) / 7
    #expect(abs(meanOut - meanIn) < 1e-5)
    let first: Float = (1 + 1.0 / 3) / (7.0 / 3)
    #expect(abs(out[0] - first) < 1e-5)
}

@Test func deskew_straightensASlantedBar() {
    var img = [Float](repeating: 0, count: 784)
    for y in 4..<24 { let x = 10 + (y - 4) / 3; img[y * 28 + x] = 1; img[y * 28 + x + 1] = 1 }
    func spread(_ v: [Float]) -> Int { Set((0..<784).filter { v[$0] > 0.5 }.map { $0 % 28 }).count }
    let before = spread(img)
    img.withUnsafeMutableBufferPointer { deskewMNIST($0) }
    #expect(spread(img) < before)
}

@Test func groupIntoNumbers_readsLinesLeftToRight_andKeepsSeparateNumbersApart() {
    let h = 40
    let boxes = [
        Box(x: 150, y: 12, width: 25, height: h),   // "2024": 4 digits, given out of order
        Box(x: 100, y: 10, width: 25, height: h),
        Box(x: 130, y: 11, width: 15, height: h),
        Box(x: 180, y: 10, width: 25, height: h),
        Box(x: 400, y: 10, width: 25, height: h),   // far to the right: another number
        Box(x: 100, y: 100, width: 25, height: h),  // next line
        Box(x: 130, y: 102, width: 25, height: h),
    ]
    let groups = groupIntoNumbers(boxes)
    #expect(groups == [[1, 2, 0, 3], [4], [5, 6]])
}

@Test func groupIntoNumbers_splitsAtASpaceOfMoreThanHalfADigitHeight() {
    // 40 px tall digits: gaps of 16 px (0.4 heights) within a number, 24 px (0.6) between two.
    let boxes = [Box(x: 0, y: 0, width: 25, height: 40), Box(x: 41, y: 0, width: 25, height: 40),
                 Box(x: 90, y: 0, width: 25, height: 40), Box(x: 131, y: 0, width: 25, height: 40)]
    #expect(groupIntoNumbers(boxes) == [[0, 1], [2, 3]])
    #expect(groupIntoNumbers(boxes, maximumGap: 0.75) == [[0, 1, 2, 3]])
}

@Test func splitTouchingDigits_cutsAtTheThinnestColumn() {
    // Two 12x30 blocks joined by a 2 px bridge at columns 12-13.
    var m = GrayImage(width: 40, height: 40)
    m.fill(Box(x: 0, y: 5, width: 12, height: 30), value: 255)
    m.fill(Box(x: 12, y: 20, width: 2, height: 2), value: 255)
    m.fill(Box(x: 14, y: 5, width: 12, height: 30), value: 255)
    let pieces = splitTouchingDigits(Box(x: 0, y: 5, width: 26, height: 30), mask: m)
    #expect(pieces.count == 2)
    #expect(abs(pieces[0].maxX - 13) <= 1 && pieces[0].height == 30)
}

@Test func mergeFragments_joinsADetachedTopStroke_butNotTheNeighbour() {
    let body = Component(box: Box(x: 10, y: 20, width: 18, height: 25), area: 200)
    let top = Component(box: Box(x: 12, y: 14, width: 16, height: 4), area: 50)
    let neighbour = Component(box: Box(x: 40, y: 20, width: 18, height: 25), area: 210)
    let merged = mergeFragments([body, top, neighbour], minimumArea: 4)
    #expect(merged.count == 2)
    #expect(merged.contains { $0.box == Box(x: 10, y: 14, width: 18, height: 31) && $0.area == 250 })
}

@Test func filterCandidates_dropsSpecksAndSlivers_andKeepsDigitShapes() {
    let mask = GrayImage(width: 200, height: 200)
    var settings = CandidateSettings(minimumHeight: 10)
    settings.maximumHeightFraction = 0.8
    let digit = Component(box: Box(x: 10, y: 10, width: 14, height: 24), area: 120)
    let speck = Component(box: Box(x: 50, y: 50, width: 3, height: 3), area: 9)
    let dash = Component(box: Box(x: 80, y: 80, width: 40, height: 2), area: 80)
    let slab = Component(box: Box(x: 120, y: 10, width: 20, height: 24), area: 470)
    let tall = Component(box: Box(x: 150, y: 0, width: 10, height: 190), area: 900)
    let kept = filterCandidates([digit, speck, dash, slab, tall], mask: mask, settings: settings)
    #expect(kept.map { $0.box } == [digit.box])
}

@Test func thickenIfThin_growsHairlines_andLeavesMNISTWeightStrokesAlone() {
    var hair = [Float](repeating: 0, count: 784)
    for y in 4..<24 { hair[y * 28 + 10] = 1 }
    for x in 10..<20 { hair[23 * 28 + x] = 1 }
    let before = hair.withUnsafeBufferPointer { strokeWidth($0) }
    #expect(before < 1.2)
    hair.withUnsafeMutableBufferPointer { thickenIfThin($0) }
    #expect(hair.withUnsafeBufferPointer { strokeWidth($0) } > before + 0.5)

    var bold = [Float](repeating: 0, count: 784)
    for y in 4..<24 { for x in 10..<13 { bold[y * 28 + x] = 1 } }
    let copy = bold
    bold.withUnsafeMutableBufferPointer { thickenIfThin($0) }
    #expect(bold == copy)
}

@Test func mergeFragments_joinsTwoHalvesOfADigitCutAcross_butNotTwoStackedDigits() {
    // A 3 cut across its middle: top and bottom halves of the same size, 2 px apart.
    let top = Component(box: Box(x: 10, y: 10, width: 16, height: 12), area: 80)
    let bottom = Component(box: Box(x: 11, y: 24, width: 16, height: 12), area: 82)
    let merged = mergeFragments([top, bottom], minimumArea: 4)
    #expect(merged.count == 1 && merged[0].box == Box(x: 10, y: 10, width: 17, height: 26) && merged[0].area == 162)
    // Two whole digits one above the other, a quarter of their height apart, stay two.
    let upper = Component(box: Box(x: 10, y: 10, width: 16, height: 24), area: 150)
    let lower = Component(box: Box(x: 10, y: 40, width: 16, height: 24), area: 150)
    #expect(mergeFragments([upper, lower], minimumArea: 4).count == 2)
}

@Test func clusterFragments_joinsThePiecesOfABrokenDigit_andNothingElse() {
    let settings = CandidateSettings(minimumHeight: 10)
    // A 0 broken at its corners into four bars 2 px apart; a blob far off; a digit already read.
    let ring = [Component(box: Box(x: 65, y: 30, width: 20, height: 3), area: 60),
                Component(box: Box(x: 65, y: 57, width: 20, height: 3), area: 60),
                Component(box: Box(x: 60, y: 35, width: 3, height: 20), area: 60),
                Component(box: Box(x: 87, y: 35, width: 3, height: 20), area: 60)]
    let far = Component(box: Box(x: 200, y: 40, width: 4, height: 12), area: 30)
    let read = Component(box: Box(x: 120, y: 30, width: 18, height: 30), area: 200)
    let clusters = clusterFragments(ring + [far, read], digits: [read.box], settings: settings, frameHeight: 200, growing: false)
    #expect(clusters == [FragmentCluster(box: Box(x: 60, y: 30, width: 30, height: 30), grows: nil)])
    // Pieces 6 px apart (more than a quarter of the taller one's height) stay apart.
    let apart = [Component(box: Box(x: 60, y: 30, width: 3, height: 20), area: 60),
                 Component(box: Box(x: 69, y: 30, width: 3, height: 20), area: 60)]
    #expect(clusterFragments(apart, digits: [], settings: settings, frameHeight: 200, growing: false).isEmpty)
    // A cluster on a digit's box, or too wide for one digit, is left out.
    #expect(clusterFragments(ring, digits: [Box(x: 70, y: 35, width: 14, height: 20)], settings: settings,
                             frameHeight: 200, growing: false).isEmpty)
    let row = (0..<6).map { Component(box: Box(x: 10 + 8 * $0, y: 10, width: 6, height: 12), area: 40) }
    #expect(clusterFragments(row, digits: [], settings: settings, frameHeight: 200, growing: false).isEmpty)
}

@Test func clusterFragments_growsADigitByTheStrokeBesideIt() {
    let settings = CandidateSettings(minimumHeight: 10)
    // A 5's body read as a digit, and its long top bar left apart 2 px to its right.
    let body = Component(box: Box(x: 60, y: 30, width: 20, height: 30), area: 180)
    let bar = Component(box: Box(x: 82, y: 30, width: 12, height: 3), area: 36)
    let grown = clusterFragments([body, bar], digits: [body.box], settings: settings, frameHeight: 200, growing: true)
    #expect(grown == [FragmentCluster(box: Box(x: 60, y: 30, width: 34, height: 30), grows: 0)])
    // A speck beside it (shorter every way than the smallest digit) does not grow it.
    let speck = Component(box: Box(x: 82, y: 40, width: 3, height: 3), area: 9)
    #expect(clusterFragments([body, speck], digits: [body.box], settings: settings, frameHeight: 200, growing: true).isEmpty)
    // Not as loose blobs (the body is a digit), and not two digits together.
    #expect(clusterFragments([body, bar], digits: [body.box], settings: settings, frameHeight: 200, growing: false).isEmpty)
    let other = Component(box: Box(x: 96, y: 30, width: 18, height: 30), area: 170)
    #expect(clusterFragments([body, bar, other], digits: [body.box, other.box], settings: settings,
                             frameHeight: 200, growing: true).isEmpty)
}
