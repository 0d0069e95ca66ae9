import Foundation
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

/// A dash of a line slanted 20 degrees off the vertical (a grid seen askew or in perspective)
/// has a box wider than a third of its height, but its ink lies on its axis: it is a piece of
/// a line. A ring (a "0") on a line is not, though the line runs on beyond it along its axis.
@Test func isPieceOfLine_findsASlantedDash_butNotARingOnTheLine() {
    let lean = 0.364  // tan 20 degrees: columns per row
    var g = paper(160, 200)
    for y in 0..<200 { let x = Int(30 + lean * Double(y)); g[x, y] = 175; g[x + 1, y] = 175 }
    var m = GrayImage(width: 160, height: 200)
    for y in 80..<115 { let x = Int(30 + lean * Double(y)); for dx in 0...1 { g[x + dx, y] = 120; m[x + dx, y] = 255 } }
    let dash = Box(x: Int(30 + lean * 80), y: 80, width: Int(lean * 34) + 2, height: 35)
    #expect(dash.width * 3 > dash.height)
    #expect(pieceOfLine(g, mask: m, dash))
    // A ring 15 wide and 36 tall on a vertical grid line that runs on above and below it: its
    // axis is the line, but its ink spreads far from the axis.
    var h = paper(160, 200)
    for y in 0..<200 { h[80, y] = 175; h[81, y] = 175 }
    var r = GrayImage(width: 160, height: 200)
    for t in stride(from: 0.0, to: 2 * Double.pi, by: 0.02) {
        let x = Int(80.5 + 7 * cos(t)), y = Int(97.5 + 17.5 * sin(t))
        h[x, y] = 60; r[x, y] = 255
    }
    let ring = Box(x: 73, y: 80, width: 15, height: 36)
    #expect(!pieceOfLine(h, mask: r, ring))
}
