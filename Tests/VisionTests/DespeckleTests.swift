import Imaging
import Testing
@testable import Vision

private func randomImage(width: Int, height: Int, seed: UInt64) -> GrayImage {
    var s = seed
    var g = GrayImage(width: width, height: height)
    for i in 0..<(width * height) {
        s = s &* 6364136223846793005 &+ 1442695040888963407
        g.pixels[i] = UInt8(truncatingIfNeeded: s >> 56)
    }
    return g
}

/// The vector median against sorting each neighbourhood, on widths below, at and past one
/// vector (16) and not a multiple of it; the border is copied.
@Test(arguments: [(3, 3), (10, 7), (17, 5), (18, 9), (33, 12), (100, 40)])
func medianFilter3x3_isTheMedianOfEachNeighbourhood(size: (Int, Int)) {
    let (w, h) = size
    let g = randomImage(width: w, height: h, seed: UInt64(w * 100 + h))
    var out = [UInt8](repeating: 0, count: w * h)
    g.pixels.withUnsafeBufferPointer { src in out.withUnsafeMutableBufferPointer { medianFilter3x3(src, width: w, height: h, into: $0) } }
    var wrong = 0
    for y in 0..<h {
        for x in 0..<w {
            var expected = g[x, y]
            if x > 0 && y > 0 && x < w - 1 && y < h - 1 {
                var n: [UInt8] = []
                for dy in -1...1 { for dx in -1...1 { n.append(g[x + dx, y + dy]) } }
                expected = n.sorted()[4]
            }
            if out[y * w + x] != expected { wrong += 1 }
        }
    }
    #expect(wrong == 0, "\(w)x\(h): \(wrong) pixels differ")
}

@Test func speckleFraction_seesSaltAndPepper_butNotStrokesOrCameraNoise() {
    // Paper with gentle noise and 3-pixel strokes: no isolated extremes.
    var g = GrayImage(width: 320, height: 240)
    var s: UInt64 = 7
    for i in 0..<(320 * 240) {
        s = s &* 6364136223846793005 &+ 1442695040888963407
        g.pixels[i] = UInt8(200 + Int(s >> 61))          // 200...207
    }
    for y in 40..<200 { for x in 100..<103 { g[x, y] = 40 } }
    for x in 60..<260 { for y in 120..<123 { g[x, y] = 40 } }
    #expect(speckleFraction(g) == 0)
    // One pixel in a hundred black, one white: well past the detector's bar (0.001).
    for i in 0..<(320 * 240) {
        s = s &* 6364136223846793005 &+ 1442695040888963407
        let r = s >> 57
        if r == 0 { g.pixels[i] = 0 } else if r == 1 { g.pixels[i] = 255 }
    }
    #expect(speckleFraction(g) > 0.004)
    // The median takes them away: no isolated extremes left.
    var out = GrayImage(width: 320, height: 240)
    g.pixels.withUnsafeBufferPointer { src in out.pixels.withUnsafeMutableBufferPointer { medianFilter3x3(src, width: 320, height: 240, into: $0) } }
    #expect(speckleFraction(out) == 0)
    #expect(out[101, 100] == 40 && out[150, 121] == 40)   // the strokes stay
}
