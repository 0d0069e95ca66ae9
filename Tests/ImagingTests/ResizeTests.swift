import Testing
@testable import Imaging

/// The plain definition of `downscale`: each output pixel the rounded mean of its block.
private func referenceDownscale(_ g: GrayImage, factor: Int) -> [UInt8] {
    let ow = g.width / factor, oh = g.height / factor, area = factor * factor
    var out = [UInt8](repeating: 0, count: ow * oh)
    for oy in 0..<oh {
        for ox in 0..<ow {
            var s = 0
            for dy in 0..<factor { for dx in 0..<factor { s += Int(g.pixels[(oy * factor + dy) * g.width + ox * factor + dx]) } }
            // Rounded to nearest, halves up: the fast paths' (s + 2) >> 2 and (s * 7282 + 32768) >> 16.
            out[oy * ow + ox] = UInt8((2 * s + area) / (2 * area))
        }
    }
    return out
}

@Test func downscale_matchesTheBlockMeanForEveryFactorAndOddSizes() {
    var state: UInt64 = 0x9E3779B97F4A7C15
    func next() -> UInt8 { state = state &* 6364136223846793005 &+ 1442695040888963407; return UInt8(truncatingIfNeeded: state >> 33) }
    for (w, h) in [(1280, 720), (67, 41), (31, 9), (1921, 1083), (7, 7), (100, 3)] {
        var g = GrayImage(width: w, height: h)
        for i in 0..<g.pixels.count { g.pixels[i] = next() }
        // Extremes too: all-white rows, so the 16-bit sums are at their largest.
        for x in 0..<w { g.pixels[x] = 255; if h > 1 { g.pixels[w + x] = 255 } }
        for factor in 1...5 where w / factor > 0 && h / factor > 0 {
            let d = g.downscaled(by: factor)
            #expect(d.width == w / factor && d.height == h / factor)
            if factor == 1 { #expect(d.pixels == g.pixels); continue }
            #expect(d.pixels == referenceDownscale(g, factor: factor), "\(w)x\(h) by \(factor)")
        }
    }
}
