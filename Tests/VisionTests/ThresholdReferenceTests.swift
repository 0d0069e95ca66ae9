import Imaging
import Testing
@testable import Vision

/// The adaptive threshold's rule written plainly, pixel by pixel, with the window clipped at the
/// borders: the fast path (integral image, 32-bit lanes, border loops) must give the same mask.
private func referenceThreshold(_ g: GrayImage, window: Int, minC: Int, rel: Int, weakC: Int, dark: Bool) -> [UInt8] {
    let r = window / 2
    let weakRel = minC > 0 ? rel * weakC / minC : 0
    var out = [UInt8](repeating: 0, count: g.width * g.height)
    for y in 0..<g.height {
        for x in 0..<g.width {
            var sum = 0, count = 0
            for yy in max(0, y - r)...min(g.height - 1, y + r) {
                for xx in max(0, x - r)...min(g.width - 1, x + r) { sum += Int(g[xx, yy]); count += 1 }
            }
            let p = Int(g[x, y]) * count
            let d = dark ? sum - p : p - sum
            var v: UInt8 = 0
            if d > 0 && d >= weakC * count {
                if d >= minC * count && d * 100 >= rel * sum { v = 255 }
                else if weakC > 0 && d * 100 >= weakRel * sum { v = weakInk }
            }
            out[y * g.width + x] = v
        }
    }
    return out
}

/// A page with a lighting ramp, noise, strokes of both polarities' worth of contrast.
private func noisyPage(width: Int, height: Int, seed: UInt64) -> GrayImage {
    var s = seed
    func next() -> Int { s = s &* 6364136223846793005 &+ 1442695040888963407; return Int(s >> 33) }
    var g = GrayImage(width: width, height: height)
    for y in 0..<height {
        for x in 0..<width {
            g[x, y] = UInt8(max(0, min(255, 60 + 140 * x / max(1, width) + next() % 21 - 10)))
        }
    }
    for _ in 0..<(width * height / 200) {
        let x = next() % width, y = next() % height, len = 3 + next() % 12
        let level = UInt8(next() % 256)
        for k in 0..<len where x + k < width { g[x + k, y] = level; if y + 1 < height { g[x + k, y + 1] = level } }
    }
    return g
}

@Test(arguments: [(97, 61), (160, 90), (33, 200), (211, 120)])
func adaptiveThreshold_matchesThePlainRule(size: (Int, Int)) {
    let g = noisyPage(width: size.0, height: size.1, seed: UInt64(size.0 * 1000 + size.1))
    for window in [0, 15, 31] {
        for weak in [0, 9] {
            for polarity in [InkPolarity.darkOnLight, .lightOnDark, .automatic] {
                var settings = ThresholdSettings()
                settings.window = window; settings.weakContrast = weak; settings.polarity = polarity
                let (mask, used) = adaptiveThreshold(g, settings: settings)
                if polarity != .automatic { #expect(used == polarity) }
                let w = window > 0 ? window : ThresholdSettings.defaultWindow(width: g.width, height: g.height)
                let expected = referenceThreshold(g, window: w, minC: settings.minimumContrast, rel: settings.relativeContrast,
                                                  weakC: weak, dark: used == .darkOnLight)
                #expect(mask.pixels == expected, "\(g.width)x\(g.height) window \(w) weak \(weak) \(polarity)")
            }
        }
    }
}

/// The probe line removal's look-back uses answers pixel by pixel what the threshold marked.
@Test(arguments: [(97, 61), (211, 120)])
func thresholdProbe_answersAsTheMaskSays(size: (Int, Int)) {
    let g = noisyPage(width: size.0, height: size.1, seed: UInt64(size.0 * 7 + size.1))
    for weak in [0, 9] {
        for polarity in [InkPolarity.darkOnLight, .lightOnDark] {
            var settings = ThresholdSettings()
            settings.weakContrast = weak; settings.polarity = polarity
            var integral = [UInt32](repeating: 0, count: (g.width + 1) * (g.height + 1))
            var mask = [UInt8](repeating: 0, count: g.width * g.height)
            var disagree = 0, inked = 0
            g.pixels.withUnsafeBufferPointer { p in
                integral.withUnsafeMutableBufferPointer { ii in
                    mask.withUnsafeMutableBufferPointer { m in
                        _ = adaptiveThreshold(p, width: g.width, height: g.height, settings: settings, integral: ii, mask: m)
                    }
                    let probe = ThresholdProbe(pixels: p, integral: UnsafeBufferPointer(ii), width: g.width, height: g.height,
                                               settings: settings, polarity: polarity)
                    for y in 0..<g.height { for x in 0..<g.width {
                        if probe.isInk(x, y) != (mask[y * g.width + x] != 0) { disagree += 1 }
                        if mask[y * g.width + x] != 0 { inked += 1 }
                    } }
                }
            }
            #expect(disagree == 0 && inked > 0, "\(size) weak \(weak) \(polarity): \(disagree) pixels differ, \(inked) ink")
        }
    }
}
