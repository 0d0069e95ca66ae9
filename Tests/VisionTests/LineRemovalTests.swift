import Imaging
import Testing
@testable import Vision

/// A 200x60 mask with a horizontal line 2 px thick at rows 30-31 across the whole width, and a
/// "digit" (a vertical bar 4 px wide, rows 10-50, plus a short horizontal stroke) crossing it.
private func ruledMaskWithDigit() -> GrayImage {
    var m = GrayImage(width: 200, height: 60)
    for x in 0..<200 { m[x, 30] = 255; m[x, 31] = 255 }
    for y in 10..<50 { for x in 100..<104 { m[x, y] = 255 } }
    for x in 92..<112 { for y in 10..<13 { m[x, y] = 255 } }
    return m
}

@Test func removeLines_deletesALongThinHorizontalLine_andKeepsTheDigitCrossingIt() {
    var m = ruledMaskWithDigit()
    let removed = removeLines(&m, settings: LineRemovalSettings(minimumHorizontalLength: 60, minimumVerticalLength: 60, maximumThickness: 3))
    // The line is gone except where the bar crosses it.
    #expect(removed == 2 * 200 - 2 * 4)
    #expect(m[20, 30] == 0 && m[180, 31] == 0)
    // The digit is whole: its bar (including the crossing) and its top stroke.
    for y in 10..<50 { #expect(m[101, y] == 255) }
    #expect(m[95, 11] == 255)
    #expect(connectedComponents(m).count == 1)
}

@Test func removeLines_followsALineBrokenIntoDashes_throughWeakInk() {
    var m = GrayImage(width: 200, height: 40)
    for x in 0..<200 { m[x, 20] = x % 10 < 4 ? 255 : weakInk }
    let removed = removeLines(&m, settings: LineRemovalSettings(minimumHorizontalLength: 60, minimumVerticalLength: 60, maximumThickness: 3))
    #expect(removed == 80)     // the strong dashes; the weak ink between them is cleared too
    #expect(m.pixels.allSatisfy { $0 == 0 })
}

@Test func removeLines_removesAnUnderline_butKeepsTheStrokesStandingOnIt() {
    // Ten 4x20 bars 6 px apart standing on a 2 px underline, 94 px long.
    var m = GrayImage(width: 200, height: 40)
    for k in 0..<10 { for y in 10..<32 { for x in (10 + k * 10)..<(14 + k * 10) { m[x, y] = 255 } } }
    for x in 10..<104 { m[x, 30] = 255; m[x, 31] = 255 }
    removeLines(&m, settings: LineRemovalSettings(minimumHorizontalLength: 60, minimumVerticalLength: 60, maximumThickness: 3))
    #expect(connectedComponents(m).count == 10)
    #expect(m.pixels.filter { $0 != 0 }.count == 10 * 4 * 22)
}

@Test func removeLines_followsATiltedLine() {
    // A 1 px line climbing one row every 12 columns (about 5 degrees).
    var m = GrayImage(width: 240, height: 60)
    for x in 0..<240 { m[x, 45 - x / 12] = 255 }
    removeLines(&m, settings: LineRemovalSettings(minimumHorizontalLength: 80, minimumVerticalLength: 80, maximumThickness: 3))
    #expect(m.pixels.allSatisfy { $0 == 0 })
}

@Test func removeLines_keepsShortStrokes() {
    var m = GrayImage(width: 200, height: 60)
    for x in 20..<70 { m[x, 30] = 255; m[x, 31] = 255 }    // 50 px: shorter than a line
    removeLines(&m, settings: LineRemovalSettings(minimumHorizontalLength: 60, minimumVerticalLength: 60, maximumThickness: 3))
    #expect(m.pixels.filter { $0 == 255 }.count == 100)
}

@Test func removeLines_deletesVerticalGridLines() {
    var m = GrayImage(width: 60, height: 200)
    for y in 0..<200 { m[30, y] = 255 }
    removeLines(&m, settings: LineRemovalSettings(minimumHorizontalLength: 60, minimumVerticalLength: 60, maximumThickness: 3))
    #expect(m.pixels.allSatisfy { $0 == 0 })
}

/// A 200x60 page (gray 220) with a faint 1 px ruled line (gray 185) on row 30, and a pen
/// stroke (gray 50) as thin as the line running along it over columns 80..<120, with a short
/// upright stroke standing on it. Returns the picture and its ink mask.
private func faintLineUnderDarkStroke() -> (gray: GrayImage, mask: GrayImage) {
    var g = GrayImage(width: 200, height: 60)
    for i in 0..<g.pixels.count { g.pixels[i] = 220 }
    for x in 0..<200 { g[x, 30] = 185 }
    for x in 80..<120 { g[x, 30] = 50 }
    for y in 18..<30 { g[80, y] = 50; g[81, y] = 50 }
    var m = GrayImage(width: 200, height: 60)
    for i in 0..<g.pixels.count where g.pixels[i] < 200 { m.pixels[i] = 255 }
    return (g, m)
}

private func removeLines(_ mask: inout GrayImage, gray: GrayImage, useContrast: Bool) {
    var integral = [UInt32](repeating: 0, count: (gray.width + 1) * (gray.height + 1))
    let (w, h) = (mask.width, mask.height)
    gray.pixels.withUnsafeBufferPointer { g in
        integral.withUnsafeMutableBufferPointer { ii in
            integralImage(g, width: w, height: h, into: ii)
            let contrast = LineInkContrast(gray: g, integral: UnsafeBufferPointer(ii), radius: 7, darkInk: true)
            _ = mask.pixels.withUnsafeMutableBufferPointer { m in
                LineRemover().remove(m, width: w, height: h,
                                     settings: LineRemovalSettings(minimumHorizontalLength: 60, minimumVerticalLength: 60, maximumThickness: 3),
                                     contrast: useContrast ? contrast : nil)
            }
        }
    }
}

@Test func removeLines_withThePicture_keepsADarkStrokeRunningAlongAFaintLine() {
    var (g, m) = faintLineUnderDarkStroke()
    removeLines(&m, gray: g, useContrast: true)
    // The faint line is gone on both sides of the stroke...
    #expect(m[20, 30] == 0 && m[150, 30] == 0)
    // ...and the stroke along it is whole, still joined to the upright stroke.
    for x in 80..<120 { #expect(m[x, 30] == 255) }
    #expect(connectedComponents(m).count == 1)
    #expect(m.pixels.filter { $0 != 0 }.count == 40 + 24)
}

@Test func removeLines_maskOnly_cannotTellAThinStrokeFromTheLineItRunsAlong() {
    // The reference for the test above: from the mask alone the stroke goes with the line.
    var (g, m) = faintLineUnderDarkStroke()
    removeLines(&m, gray: g, useContrast: false)
    #expect(m[100, 30] == 0 && m[119, 30] == 0)
}

@Test func keepLinesThatRunOn_keepsLinesAndDashedLines_andClearsShortMarkedStrokes() {
    let (w, h) = (40, 100)
    var marks = [UInt8](repeating: 0, count: w * h)
    for y in 0..<h { marks[y * w + 5] = 2 }                       // a line down the page
    for y in 0..<h where y % 6 < 3 { marks[y * w + 20] = 2 }      // a dashed one: half its cells
    for y in 40..<50 { marks[y * w + 30] = 2 | 1 }                // a 10-cell stroke, also marked as horizontal
    var sums = [UInt16](repeating: 0, count: (h + 1) * w)
    marks.withUnsafeMutableBufferPointer { m in
        sums.withUnsafeMutableBufferPointer { keepLinesThatRunOn(m.baseAddress!, width: w, height: h, bit: 2, reach: 24, percent: 30, sums: $0.baseAddress!) }
    }
    #expect((0..<h).allSatisfy { marks[$0 * w + 5] == 2 })
    #expect((0..<h).filter { $0 % 6 < 3 }.allSatisfy { marks[$0 * w + 20] == 2 })
    // 10 of the 49 rows around it (20 %) are marked: not a line; its other bit stays.
    #expect((40..<50).allSatisfy { marks[$0 * w + 30] == 1 })
}
