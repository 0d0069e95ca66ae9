import Imaging
import Testing
@testable import Vision

/// The optimised `LineRemover` against `ReferenceLineRemover` (the straightforward version it
/// replaced) on random masks with lines: the masks after removal and the removed counts must be
/// identical, with and without the picture, keeping weak ink or not, on odd and even sizes.
struct LineRemovalEquivalenceTests {
    /// A random ruled "page": horizontal and vertical lines (thin or thick, straight or tilted,
    /// solid or dashed through weak ink), digit-like blobs across them, specks and weak noise;
    /// the gray picture behind it (lines lighter than pen strokes, with some darker ink).
    static func page(seed: UInt64, width w: Int, height h: Int) -> (mask: [UInt8], gray: [UInt8]) {
        var r = LinearCongruential(seed: seed)
        func int(_ n: Int) -> Int { Int(r.unit() * Double(n)) }
        var mask = [UInt8](repeating: 0, count: w * h)
        var gray = [UInt8](repeating: 0, count: w * h)
        let paper = 170 + int(60)
        for i in 0..<(w * h) { gray[i] = UInt8(paper - int(12)) }
        func ink(_ x: Int, _ y: Int, _ v: UInt8, _ g: Int) {
            guard x >= 0, y >= 0, x < w, y < h else { return }
            let i = y * w + x
            if v == 255 || mask[i] == 0 { mask[i] = v }
            gray[i] = UInt8(max(0, min(255, g)))
        }
        for _ in 0..<(1 + int(6)) {   // horizontal lines
            let y0 = int(h), thick = 1 + int(4), slope = r.unit() < 0.4 ? (r.unit() - 0.5) * 0.2 : 0
            let dashed = r.unit() < 0.3, lineGray = paper - 30 - int(40)
            let x0 = r.unit() < 0.7 ? 0 : int(w / 2), x1 = r.unit() < 0.7 ? w : x0 + int(w)
            for x in x0..<min(w, x1) {
                let yc = y0 + Int((Double(x) * slope).rounded())
                for t in 0..<thick {
                    let weak = dashed && (x / 5) % 3 == 2
                    ink(x, yc + t, weak ? weakInk : (r.unit() < 0.03 ? 0 : 255), lineGray + int(10))
                }
            }
        }
        for _ in 0..<(1 + int(4)) {   // vertical lines
            let x0 = int(w), thick = 1 + int(3), slope = r.unit() < 0.4 ? (r.unit() - 0.5) * 0.2 : 0
            let dashed = r.unit() < 0.3, lineGray = paper - 30 - int(40)
            for y in 0..<h {
                let xc = x0 + Int((Double(y) * slope).rounded())
                for t in 0..<thick {
                    let weak = dashed && (y / 4) % 3 == 2
                    ink(xc + t, y, weak ? weakInk : 255, lineGray + int(10))
                }
            }
        }
        for _ in 0..<(2 + int(8)) {   // strokes: upright bars and short bars, some dark, some not
            let bx = int(w), by = int(h), bw = 1 + int(6), bh = 4 + int(30)
            let dark = r.unit() < 0.6 ? 30 + int(40) : paper - 50
            let across = r.unit() < 0.5
            for y in by..<(by + (across ? bw : bh)) {
                for x in bx..<(bx + (across ? bh : bw)) { ink(x, y, 255, dark + int(15)) }
            }
        }
        for _ in 0..<(w * h / 40) {   // specks and weak noise
            let x = int(w), y = int(h)
            ink(x, y, r.unit() < 0.3 ? 255 : weakInk, paper - 20 - int(30))
        }
        return (mask, gray)
    }

    static func run(_ remover: (UnsafeMutableBufferPointer<UInt8>, Int, Int, LineRemovalSettings, Bool, LineInkContrast?) -> Int,
                    mask: [UInt8], gray: [UInt8], width w: Int, height h: Int, settings: LineRemovalSettings,
                    keepWeakInk: Bool, useContrast: Bool, darkInk: Bool, radius: Int) -> ([UInt8], Int) {
        var m = mask
        var integral = [UInt32](repeating: 0, count: (w + 1) * (h + 1))
        let removed = gray.withUnsafeBufferPointer { g in
            integral.withUnsafeMutableBufferPointer { ii in
                integralImage(g, width: w, height: h, into: ii)
                let contrast = LineInkContrast(gray: g, integral: UnsafeBufferPointer(ii), radius: radius, darkInk: darkInk)
                return m.withUnsafeMutableBufferPointer { mb in
                    remover(mb, w, h, settings, keepWeakInk, useContrast ? contrast : nil)
                }
            }
        }
        return (m, removed)
    }

    @Test(arguments: 0..<24)
    func optimisedRemoverMatchesTheReference(seed: Int) {
        var r = LinearCongruential(seed: UInt64(seed) &* 7919 &+ 13)
        let sizes = [(64, 48), (65, 47), (640, 360), (321, 181), (7, 200), (200, 7), (33, 34), (128, 96)]
        let (w, h) = seed < sizes.count ? sizes[seed] : (20 + Int(r.unit() * 300), 20 + Int(r.unit() * 220))
        let (mask, gray) = Self.page(seed: UInt64(seed), width: w, height: h)
        let optimised = LineRemover(), reference = ReferenceLineRemover()
        for variant in 0..<4 {
            var settings = LineRemovalSettings.forImage(width: w, height: h)
            if variant == 3 { settings = LineRemovalSettings(minimumHorizontalLength: 9, minimumVerticalLength: 7, maximumThickness: 2 + seed % 4) }
            let keepWeak = variant & 1 == 1, useContrast = variant >= 2
            let darkInk = seed % 5 != 4, radius = 3 + seed % 9
            let a = Self.run({ optimised.remove($0, width: $1, height: $2, settings: $3, keepWeakInk: $4, contrast: $5) },
                             mask: mask, gray: gray, width: w, height: h, settings: settings,
                             keepWeakInk: keepWeak, useContrast: useContrast, darkInk: darkInk, radius: radius)
            let b = Self.run({ reference.remove($0, width: $1, height: $2, settings: $3, keepWeakInk: $4, contrast: $5) },
                             mask: mask, gray: gray, width: w, height: h, settings: settings,
                             keepWeakInk: keepWeak, useContrast: useContrast, darkInk: darkInk, radius: radius)
            #expect(a.1 == b.1, "\(w)x\(h) variant \(variant): removed \(a.1) vs \(b.1)")
            let differing = zip(a.0, b.0).filter { $0 != $1 }.count
            #expect(differing == 0, "\(w)x\(h) variant \(variant): \(differing) pixels differ")
            // the scenes are not trivial: lines are found and removed
            if variant == 0 && w >= 64 && h >= 40 { #expect(b.1 > 0, "\(w)x\(h): nothing removed") }
        }
    }
}
