import Imaging
import Testing
@testable import Vision

/// Runs `isPieceOfLine` on `box` of a mask thresholded from `gray` by hand (ink: darker than 150).
private func pieceOfLine(_ gray: GrayImage, mask: GrayImage, _ box: Box) -> Bool {
    var integral = [UInt32](repeating: 0, count: (gray.width + 1) * (gray.height + 1))
    return gray.pixels.withUnsafeBufferPointer { g in
        integral.withUnsafeMutableBufferPointer { ii in
            integralImage(g, width: gray.width, height: gray.height, into: ii)
            return isPieceOfLine(box, mask: mask, gray: g, integral: UnsafeBufferPointer(ii), radius: 15, darkInk: true)
        }
    }
}

private func paper(_ w: Int, _ h: Int) -> GrayImage {
    var g = GrayImage(width: w, height: h)
    for i in 0..<g.pixels.count { g.pixels[i] = 210 }
    return g
}

@Test func isPieceOfLine_findsADashOfAFaintGridLine() {
    // A vertical grid line (gray 180) down the whole page; 30 rows of it are darker (140),
    // as where a shadow's edge pushes it over the threshold: only those are in the mask.
    var g = paper(120, 160)
    for y in 0..<160 { g[60, y] = 180; g[61, y] = 180 }
    for y in 60..<90 { g[60, y] = 140; g[61, y] = 140 }
    var m = GrayImage(width: 120, height: 160)
    for y in 60..<90 { m[60, y] = 255; m[61, y] = 255 }
    #expect(pieceOfLine(g, mask: m, Box(x: 60, y: 60, width: 2, height: 30)))
}

@Test func isPieceOfLine_keepsAOneOnPaper_andAOneCrossingARuledLine() {
    // A "1" (a 3 px bar, gray 60) on plain paper, and the same crossing a horizontal line.
    var g = paper(120, 160)
    for y in 60..<90 { for x in 59..<62 { g[x, y] = 60 } }
    var m = GrayImage(width: 120, height: 160)
    for y in 60..<90 { for x in 59..<62 { m[x, y] = 255 } }
    let box = Box(x: 59, y: 60, width: 3, height: 30)
    #expect(!pieceOfLine(g, mask: m, box))
    for x in 0..<120 where g[x, 75] != 60 { g[x, 75] = 170 }
    for x in 0..<120 where g[x, 100] != 60 { g[x, 100] = 170 }
    #expect(!pieceOfLine(g, mask: m, box))
}

@Test func isPieceOfLine_followsATiltedLine() {
    // A line leaning one column every 10 rows; the dash in the mask leans with it.
    var g = paper(120, 160)
    for y in 0..<160 { g[40 + y / 10, y] = 175 }
    var m = GrayImage(width: 120, height: 160)
    for y in 70..<100 { g[40 + y / 10, y] = 120; m[40 + y / 10, y] = 255 }
    #expect(pieceOfLine(g, mask: m, Box(x: 47, y: 70, width: 3, height: 30)))
}
