import Testing
@testable import Vision

/// The sliding band-count straightness test used by line removal against the plain rule.
struct LineRuleReferenceTests {
    @Test(arguments: [0.2, 0.5, 0.8])
    func bandBasedStraightnessAgreesWithThePlainRule(density: Double) {
        let (w, h) = (23, 17)
        var generator = LinearCongruential(seed: UInt64(density * 1000))
        var mask = [UInt8](repeating: 0, count: w * h)
        for i in mask.indices { mask[i] = generator.unit() < density ? 1 : 0 }
        var band = [UInt8](repeating: 0, count: w * h)
        for y in 0..<h {
            for x in 0..<w {
                var any: UInt8 = 0
                for xx in max(0, x - 1)...min(w - 1, x + 1) { any |= mask[y * w + xx] }
                band[y * w + x] = any
            }
        }
        var window = [UInt8](repeating: 0, count: w)
        mask.withUnsafeMutableBufferPointer { m in
            band.withUnsafeMutableBufferPointer { b in
                window.withUnsafeMutableBufferPointer { win in
                    for reach in [1, 3, 4, 6] {
                        // bottom up, as line removal slides it
                        startStraightnessWindow(win.baseAddress!, band: b.baseAddress!, w, h, reach: reach)
                        for y in stride(from: h - 1, through: 0, by: -1) {
                            let need = straightNeed(y, height: h, reach: reach)
                            for x in 0..<w {
                                let plain = straightAcross(m.baseAddress!, w, h, x, y, vertical: true, reach: reach)
                                #expect(plain == (win[x] >= need), "(\(x), \(y)) reach \(reach)")
                            }
                            if y > 0 { slideStraightnessWindow(win.baseAddress!, band: b.baseAddress!, w, h, y: y, reach: reach) }
                        }
                    }
                }
            }
        }
    }
}

/// A tiny deterministic generator so the masks are the same on every run.
struct LinearCongruential {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E3779B97F4A7C15 }
    mutating func unit() -> Double {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Double(state >> 11) / Double(1 << 53)
    }
}
