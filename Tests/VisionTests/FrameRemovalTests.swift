import Imaging
import Testing
@testable import Vision

/// A 2-pixel rectangle outline with corners (x0, y0) and (x1 - 1, y1 - 1) drawn into `m`.
private func drawFrame(_ m: inout GrayImage, _ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, dividers: [Int] = []) {
    for x in x0..<x1 { for t in 0..<2 { m[x, y0 + t] = 255; m[x, y1 - 1 - t] = 255 } }
    for y in y0..<y1 { for t in 0..<2 { m[x0 + t, y] = 255; m[x1 - 1 - t, y] = 255 } }
    for d in dividers { for y in y0..<y1 { m[d, y] = 255; m[d + 1, y] = 255 } }
}

/// A "digit": a 4-pixel upright bar and a bar across its top, standing in a box.
private func drawDigit(_ m: inout GrayImage, x: Int, y: Int, height: Int) {
    for yy in y..<(y + height) { for xx in x..<(x + 4) { m[xx, yy] = 255 } }
    for yy in y..<(y + 4) { for xx in (x - 8)..<(x + 4) { m[xx, yy] = 255 } }
}

private func removeFrames(_ m: inout GrayImage) -> [Box] {
    let settings = FrameSettings(minimumHeight: 10, maximumThickness: 3)
    let components = connectedComponents(m)
    let (w, h) = (m.width, m.height)
    return m.pixels.withUnsafeMutableBufferPointer {
        FrameRemover().remove($0, width: w, height: h, components: components, settings: settings)
    }
}

private func ink(_ m: GrayImage, in b: Box) -> Int {
    var n = 0
    for y in b.y..<b.maxY { for x in b.x..<b.maxX where m[x, y] != 0 { n += 1 } }
    return n
}

@Test func frameRemover_takesABoxAway_andKeepsTheDigitTouchingItFromInside() {
    var m = GrayImage(width: 120, height: 90)
    drawFrame(&m, 20, 10, 80, 80)
    drawDigit(&m, x: 50, y: 12, height: 50)          // its top bar touches the box's top side
    let digit = Box(x: 42, y: 14, width: 12, height: 48)
    let before = ink(m, in: digit)
    let frames = removeFrames(&m)
    #expect(frames.count == 1)
    // The sides are gone (a corner pixel or two may stay), the digit is as it was below the line.
    #expect(m[60, 10] == 0 && m[60, 78] == 0 && m[20, 40] == 0 && m[79, 40] == 0)
    #expect(ink(m, in: digit) == before)
    let left = connectedComponents(m, minimumArea: 6)
    #expect(left.count == 1, "\(left.map { $0.box })")
    #expect(left.first.map { $0.box.height >= 48 && $0.box.width <= 14 } == true, "\(left.map { $0.box })")
}

@Test func frameRemover_takesACombFieldApart_intoOneBlobPerCell() {
    var m = GrayImage(width: 200, height: 80)
    drawFrame(&m, 10, 10, 190, 70, dividers: [70, 130])
    for cell in 0..<3 { drawDigit(&m, x: 40 + cell * 60, y: 20, height: 40) }
    #expect(removeFrames(&m).count == 1)
    let blobs = connectedComponents(m, minimumArea: 6)
    #expect(blobs.count == 3, "\(blobs.map { $0.box })")
    for b in blobs { #expect(b.box.height == 40 && b.box.width == 12, "\(b.box)") }
}

@Test func frameRemover_leavesDigitsAlone() {
    // A ring (a "0"), a thick bar ("1") and a 7 are not frames: nothing is removed.
    var m = GrayImage(width: 160, height: 80)
    for y in 0..<80 { for x in 0..<60 {
        let dx = Double(x - 30) / 22, dy = Double(y - 40) / 32
        let r = dx * dx + dy * dy
        if r >= 0.75 && r <= 1 { m[x, y] = 255 }
    } }
    drawDigit(&m, x: 90, y: 10, height: 60)
    for x in 110..<150 { for y in 10..<14 { m[x, y] = 255 } }
    for y in 14..<70 { let x = 146 - (y - 14) / 3; for t in 0..<4 { m[x + t, y] = 255 } }
    let before = m
    #expect(removeFrames(&m).isEmpty)
    #expect(m.pixels == before.pixels)
}

@Test func barsOfFrames_findsWhatLineRemovalLeftOfAWideComb_butNotAOneBetweenRuledLines() {
    // Before line removal: a comb 180 px wide (its long sides would go as lines), and a "1"
    // standing between two ruled lines that run across the page.
    var before = GrayImage(width: 300, height: 140)
    drawFrame(&before, 10, 10, 190, 60, dividers: [70, 130])
    for x in 0..<300 { before[x, 80] = 255; before[x, 120] = 255 }
    for y in 80..<121 { before[250, y] = 255; before[251, y] = 255; before[252, y] = 255 }
    // After: the long lines gone, the uprights left.
    var after = before
    for x in 0..<300 { for y in [10, 11, 58, 59, 80, 120] { after[x, y] = 0 } }
    let components = connectedComponents(after, minimumArea: 6)
    let bars = FrameRemover().barsOfFrames(inkBefore: { before[$0, $1] != 0 }, width: 300, height: 140, components: components,
                                           settings: FrameSettings(minimumHeight: 10, maximumThickness: 3))
    let xs = bars.map { components[$0].box.x }.sorted()
    #expect(xs == [10, 70, 130, 188], "\(bars.map { components[$0].box })")
}

@Test func erase_clearsOneComponent_andLeavesTheInkInItsBoxThatIsNotPartOfIt() {
    var m = GrayImage(width: 40, height: 40)
    for y in 5..<35 { m[10, y] = 255; m[11, y] = 255 }     // an L...
    for x in 10..<31 { m[x, 33] = 255; m[x, 34] = 255 }
    m[25, 10] = 255; m[26, 10] = 255                         // ...and a speck inside its box
    let components = connectedComponents(m)
    #expect(components.count == 2)
    let l = try! #require(components.first { $0.box.height == 30 })
    m.pixels.withUnsafeMutableBufferPointer { erase(l, from: $0, width: 40) }
    #expect(m[10, 20] == 0 && m[30, 34] == 0)
    #expect(m[25, 10] == 255 && m[26, 10] == 255)
    #expect(m.pixels.filter { $0 != 0 }.count == 2)
}
