import Imaging
import Testing
@testable import Vision

private struct LCG {
    var s: UInt64
    mutating func next() -> Int { s = s &* 6364136223846793005 &+ 1442695040888963407; return Int(s >> 33) }
}

/// `paperAndInk` written plainly: one histogram, one scan per percentile.
private func referencePaperAndInk(_ image: GrayImage, _ region: Box, lightInk: Bool) -> (Float, Float, Float) {
    var hist = [Int](repeating: 0, count: 256)
    let step = max(1, min(region.width, region.height) / 40)
    var total = 0
    var y = region.y
    while y < region.maxY {
        var x = region.x
        while x < region.maxX { hist[Int(image[x, y])] += 1; total += 1; x += step }
        y += step
    }
    func percentile(_ q: Double) -> Float {
        let target = Int(Double(total) * q)
        var seen = 0
        for v in 0..<256 { seen += hist[v]; if seen > target { return Float(v) } }
        return 255
    }
    return lightInk ? (percentile(0.30), percentile(0.98), percentile(0.30) - percentile(0.10))
                    : (percentile(0.70), percentile(0.02), percentile(0.90) - percentile(0.70))
}

/// `deskewMNIST` as first written: moments and shear over all 28 rows.
private func referenceDeskew(_ image: inout [Float]) {
    var m: Float = 0, mx: Float = 0, my: Float = 0
    for y in 0..<28 { for x in 0..<28 { let v = image[y * 28 + x]; m += v; mx += v * Float(x); my += v * Float(y) } }
    guard m > 0 else { return }
    let cx = mx / m, cy = my / m
    var mu11: Float = 0, mu02: Float = 0
    for y in 0..<28 { for x in 0..<28 {
        let v = image[y * 28 + x]; let dx = Float(x) - cx, dy = Float(y) - cy
        mu11 += v * dx * dy; mu02 += v * dy * dy
    } }
    guard mu02 > 1e-3 else { return }
    let skew = mu11 / mu02
    guard abs(skew) > 0.05 else { return }
    let t = image
    for y in 0..<28 {
        let shift = skew * (Float(y) - cy)
        for x in 0..<28 {
            let sx = Float(x) + shift
            let x0 = Int(sx.rounded(.down)), f = sx - Float(x0)
            var v: Float = 0
            if x0 >= 0 && x0 < 28 { v += (1 - f) * t[y * 28 + x0] }
            if x0 + 1 >= 0 && x0 + 1 < 28 { v += f * t[y * 28 + x0 + 1] }
            image[y * 28 + x] = v
        }
    }
}

@Test func paperAndInk_matchesThePlainPercentiles() {
    var rng = LCG(s: 42)
    var g = GrayImage(width: 300, height: 200)
    for i in 0..<g.pixels.count { g.pixels[i] = UInt8(clamping: 180 + rng.next() % 30 - 15) }
    for _ in 0..<400 { g.pixels[rng.next() % g.pixels.count] = UInt8(rng.next() % 80) }   // ink
    for _ in 0..<60 { g.pixels[rng.next() % g.pixels.count] = UInt8(220 + rng.next() % 36) }  // glare
    let n = MNISTNormalizer()
    for _ in 0..<300 {
        let x = rng.next() % 290, y = rng.next() % 190
        let region = Box(x: x, y: y, width: 1 + rng.next() % (300 - x), height: 1 + rng.next() % (200 - y))
        for light in [false, true] {
            let fast = n.paperAndInk(g, region, lightInk: light)
            let ref = referencePaperAndInk(g, region, lightInk: light)
            #expect(fast.paper == ref.0 && fast.ink == ref.1 && fast.spread == ref.2, "\(region) light \(light)")
        }
    }
    // Flat paper: every percentile is the one level.
    let flat = GrayImage(width: 50, height: 50, fill: 201)
    let r = n.paperAndInk(flat, Box(x: 0, y: 0, width: 50, height: 50), lightInk: false)
    #expect(r.paper == 201 && r.ink == 201 && r.spread == 0)
}

@Test func deskew_matchesTheAllRowsVersion() {
    var rng = LCG(s: 7)
    for trial in 0..<200 {
        var image = [Float](repeating: 0, count: 784)
        // A slanted stroke of random slope and extent, plus some specks.
        let y0 = rng.next() % 10, y1 = 18 + rng.next() % 10, slope = Float(rng.next() % 200 - 100) / 100
        for y in y0..<y1 {
            let x = 14 + Int(slope * Float(y - 14))
            for dx in 0..<2 where x + dx >= 0 && x + dx < 28 { image[y * 28 + x + dx] = Float(rng.next() % 100) / 100 }
        }
        if trial % 3 == 0 { image[(rng.next() % 28) * 28 + rng.next() % 28] = 1 }
        var expected = image
        referenceDeskew(&expected)
        image.withUnsafeMutableBufferPointer { deskewMNIST($0) }
        #expect(image == expected, "trial \(trial)")
    }
    var empty = [Float](repeating: 0, count: 784)
    empty.withUnsafeMutableBufferPointer { deskewMNIST($0) }
    #expect(empty.allSatisfy { $0 == 0 })
}
