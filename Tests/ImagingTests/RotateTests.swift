import Foundation
import Testing
@testable import Imaging

/// `Turn.turned` undoes `Turn.source`, and a turn by 0 changes nothing.
@Test func turn_mapsPointsBothWays_andZeroIsTheIdentity() {
    let turn = Turn(angle: 0.3, width: 640, height: 480)
    for (x, y) in [(0.0, 0.0), (320.0, 240.0), (639.5, 12.25), (100.0, 470.0)] {
        let s = turn.source(x, y), back = turn.turned(s.x, s.y)
        #expect(abs(back.x - x) < 1e-9 && abs(back.y - y) < 1e-9)
    }
    // The centre stays put; a point right of it goes down and right in the source (y down).
    let c = turn.source(320, 240)
    #expect(abs(c.x - 320) < 1e-9 && abs(c.y - 240) < 1e-9)
    let r = turn.source(420, 240)
    #expect(abs(r.x - (320 + 100 * cos(0.3))) < 1e-9 && abs(r.y - (240 + 100 * sin(0.3))) < 1e-9)
    var g = GrayImage(width: 37, height: 23)
    for i in 0..<g.pixels.count { g.pixels[i] = UInt8(truncatingIfNeeded: i &* 37) }
    #expect(g.turned(Turn(angle: 0, width: 37, height: 23)) == g)
}

/// A bar drawn at 0.25 rad below the horizontal comes out level: turned by its angle, its ink
/// lies in a band a few rows high; the corners brought in from outside the picture take the
/// edge pixels (paper), not black.
@Test func turned_levelsATiltedBar() {
    let w = 200, h = 120, angle = 0.25
    var g = GrayImage(width: w, height: h, fill: 220)
    for t in stride(from: -70.0, through: 70.0, by: 0.25) {
        for d in stride(from: -2.0, through: 2.0, by: 0.5) {
            let x = 100 + t * cos(angle) - d * sin(angle), y = 60 + t * sin(angle) + d * cos(angle)
            g[Int(x), Int(y)] = 20
        }
    }
    let level = g.turned(Turn(angle: angle, width: w, height: h))
    var rows = Set<Int>()
    for y in 0..<h { for x in 40..<160 where level[x, y] < 120 { rows.insert(y) } }
    #expect(!rows.isEmpty && rows.max()! - rows.min()! <= 7, "ink on rows \(rows.sorted())")
    #expect(level[0, 0] > 200 && level[w - 1, h - 1] > 200)
}

/// The box in the source around a turned box holds the turned box's corners, and is clipped
/// to the picture; `boxWithinSource` tells boxes inside the picture from boxes that reach out.
@Test func turn_boxesInTheSource() {
    let turn = Turn(angle: 0.35, width: 400, height: 300)
    let b = Box(x: 180, y: 130, width: 40, height: 40)
    let s = turn.boxInSource(b)
    for (x, y) in [(b.x, b.y), (b.maxX, b.y), (b.x, b.maxY), (b.maxX, b.maxY)] {
        let p = turn.source(Double(x), Double(y))
        #expect(Double(s.x) <= p.x && p.x <= Double(s.maxX) && Double(s.y) <= p.y && p.y <= Double(s.maxY))
    }
    #expect(turn.boxWithinSource(b))
    #expect(!turn.boxWithinSource(Box(x: 0, y: 0, width: 20, height: 20)))
    let clipped = turn.boxInSource(Box(x: 380, y: 280, width: 20, height: 20))
    #expect(clipped.maxX <= 400 && clipped.maxY <= 300)
}

/// `turned` against the plain definition: each output pixel the bilinear mix, in Double, of
/// the four input pixels around its source point (clamped to the picture); within one level
/// (the fast path steps in 16.16 fixed point with weights in 1/256ths), on sizes that leave
/// odd ends for the eight-pixel runs, at angles either way.
@Test func turned_matchesPlainBilinearSampling() {
    var state: UInt64 = 0x2545F4914F6CDD1D
    func next() -> UInt8 { state = state &* 6364136223846793005 &+ 1442695040888963407; return UInt8(truncatingIfNeeded: state >> 33) }
    for (w, h) in [(101, 67), (64, 48), (13, 9)] {
        var g = GrayImage(width: w, height: h)
        for i in 0..<g.pixels.count { g.pixels[i] = next() }
        for angle in [-0.5, -0.1, 0.23, 0.6] {
            let turn = Turn(angle: angle, width: w, height: h)
            let out = g.turned(turn)
            var worst = 0.0
            for y in 0..<h {
                for x in 0..<w {
                    let s = turn.source(Double(x) + 0.5, Double(y) + 0.5)
                    let fx = min(max(s.x - 0.5, 0), Double(w - 1)), fy = min(max(s.y - 0.5, 0), Double(h - 1))
                    let x0 = Int(fx), y0 = Int(fy), x1 = min(x0 + 1, w - 1), y1 = min(y0 + 1, h - 1)
                    let ax = fx - Double(x0), ay = fy - Double(y0)
                    func at(_ x: Int, _ y: Int) -> Double { Double(g[x, y]) }
                    let v = (at(x0, y0) * (1 - ax) + at(x1, y0) * ax) * (1 - ay) + (at(x0, y1) * (1 - ax) + at(x1, y1) * ax) * ay
                    worst = max(worst, abs(v - Double(out[x, y])))
                }
            }
            // Random pixels are the worst case for rounding the weights (steps of up to 255
            // levels between neighbours): measured at most 1.58.
            #expect(worst <= 2, "\(w)x\(h) at \(angle): off by \(worst)")
        }
    }
}
