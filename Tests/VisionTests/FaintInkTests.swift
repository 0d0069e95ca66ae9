import Foundation
import Imaging
import Testing
@testable import Vision

/// Paper of level `paper` with upright strokes 3 pixels wide of level `ink`, one every 40
/// columns, rows 40-199: about 5 % of the picture is ink.
private func strokes(paper: UInt8, ink: UInt8, width: Int = 320, height: Int = 240) -> GrayImage {
    var g = GrayImage(width: width, height: height)
    for i in 0..<(width * height) { g.pixels[i] = paper }
    for x0 in stride(from: 20, to: width - 3, by: 40) { for y in 40..<200 { for x in x0..<(x0 + 3) { g[x, y] = ink } } }
    return g
}

private func inkContrast(_ g: GrayImage, darkInk: Bool) -> InkContrast {
    var integral = [UInt32](repeating: 0, count: (g.width + 1) * (g.height + 1))
    let r = ThresholdSettings.defaultWindow(width: g.width, height: g.height) / 2
    return g.pixels.withUnsafeBufferPointer { p in
        integral.withUnsafeMutableBufferPointer { i in
            integralImage(p, width: g.width, height: g.height, into: i)
            return estimateInkContrast(p, width: g.width, height: g.height, integral: UnsafeBufferPointer(i), radius: r, darkInk: darkInk)
        }
    }
}

/// The strokes stand out from the window mean (a little below the paper, for the ink in the
/// window) by a little less than paper - ink, in levels and in percent of the mean.
@Test(arguments: [(UInt8(200), UInt8(160), true), (200, 40, true), (50, 90, false), (120, 100, true)])
func estimateInkContrast_measuresHowFarTheStrokesStandOut(paper: UInt8, ink: UInt8, darkInk: Bool) {
    let c = inkContrast(strokes(paper: paper, ink: ink), darkInk: darkInk)
    let difference = abs(Int(paper) - Int(ink))
    #expect(c.levels <= difference && c.levels * 10 >= difference * 8, "\(c) for \(paper) / \(ink)")
    let percent = difference * 100 / Int(paper)
    #expect(abs(c.percent - percent) <= max(3, percent / 8), "\(c) for \(paper) / \(ink), about \(percent) %")
    // The wrong polarity sees only the paper beside the strokes, a little off the mean; blank
    // paper nothing at all.
    #expect(inkContrast(strokes(paper: paper, ink: ink), darkInk: !darkInk).levels * 4 < difference)
    #expect(inkContrast(strokes(paper: paper, ink: paper), darkInk: darkInk) == InkContrast(levels: 0, percent: 0))
}

/// A printed line darker than faint writing: line removal takes it out of the mask, and
/// painting it over in the picture leaves paper where it ran, so a crop's ink level is the
/// writing's, not the line's. Where the stroke crosses the line, line removal kept the ink
/// (thick across), and so does the painting.
@Test func paintOverLines_replacesARemovedLineByWhatIsAboveAndBelowIt() {
    let w = 320, h = 240
    var g = GrayImage(width: w, height: h)
    for i in 0..<(w * h) { g.pixels[i] = 200 }
    for x in 0..<w { g[x, 120] = 90; g[x, 121] = 90 }                 // the printed line
    for y in 95..<145 { for x in 150..<153 { g[x, y] = 160 } }        // a faint stroke across it
    var settings = ThresholdSettings()
    settings.weakContrast = 9
    var (mask, _) = adaptiveThreshold(g, settings: settings)
    let remover = LineRemover()
    _ = mask.pixels.withUnsafeMutableBufferPointer {
        remover.remove($0, width: w, height: h, settings: .forImage(width: w, height: h), keepWeakInk: true)
    }
    let marks = try! #require(remover.lastLines)
    #expect(mask[40, 120] == 0 && mask[280, 121] == 0, "the line is out of the mask")
    let lines = RemovedLines(marks: marks, mask: mask, scale: 1)
    let patch = try! #require(paintOverLines(g, region: Box(x: 100, y: 80, width: 120, height: 80), lines: lines))
    #expect(patch.width == 120 && patch.height == 80)
    // Paper where the line ran (patch rows 40-41 are picture rows 120-121) away from the
    // stroke; the crossing as it was; the stroke above and below and the paper untouched.
    for x in [0, 20, 40, 90, 119] { #expect(patch[x, 40] >= 195 && patch[x, 41] >= 195, "\(x): \(patch[x, 40]) \(patch[x, 41])") }
    #expect(mask[151, 120] != 0 && patch[51, 40] == g[151, 120])
    #expect(patch[51, 20] == 160 && patch[51, 60] == 160 && patch[10, 10] == 200)
    // No removed line in the region: nothing to paint.
    #expect(paintOverLines(g, region: Box(x: 0, y: 0, width: 100, height: 60), lines: lines) == nil)
}

/// The noise estimate: Gaussian noise of a known deviation on flat paper, with and without a
/// few strokes (ink counts little: each deviation is capped at 8 levels).
@Test(arguments: [2.0, 4.0, 6.0])
func estimateInkContrast_measuresTheNoise(sigma: Double) {
    var g = strokes(paper: 120, ink: 120)
    var s: UInt64 = 3
    func uniform() -> Double {
        s = s &* 6364136223846793005 &+ 1442695040888963407
        return (Double(s >> 11) + 0.5) / Double(1 << 53)
    }
    for i in 0..<g.pixels.count {
        let n = (-2 * log(uniform())).squareRoot() * cos(2 * Double.pi * uniform()) * sigma
        g.pixels[i] = UInt8(max(0, min(255, (120 + n).rounded())))
    }
    let c = inkContrast(g, darkInk: true)
    #expect(abs(Double(c.noise) - sigma) <= sigma * 0.2, "noise \(c.noise) for sigma \(sigma)")
}

/// A dim, noisy picture with nothing written on it: the contrast rules are not lowered into the
/// noise (not below 3 times its deviation), so it thresholds into fewer specks. (The fixed rules
/// leave about one blob; 3 deviations still let through several hundred, 4 would let through
/// almost none but cost faint pages 0.007 of F1.)
@Test func detector_doesNotLowerItsRulesIntoTheNoise() {
    var g = GrayImage(width: 1280, height: 720)   // detected at 640x360: the noise halves
    var s: UInt64 = 5
    func uniform() -> Double {
        s = s &* 6364136223846793005 &+ 1442695040888963407
        return (Double(s >> 11) + 0.5) / Double(1 << 53)
    }
    for i in 0..<g.pixels.count {
        let n = (-2 * log(uniform())).squareRoot() * cos(2 * Double.pi * uniform()) * 6
        g.pixels[i] = UInt8(max(0, min(255, (40 + n).rounded())))
    }
    // Blobs in the cleaned mask (every blob costs the labelling and the later stages time).
    func blobs(noiseMultiple: Double, fraction: Double = DetectorSettings().faintInk.fraction) -> Int {
        var settings = DetectorSettings()
        settings.faintInk.noiseMultiple = noiseMultiple
        settings.faintInk.fraction = fraction
        let mask = DigitDetector(settings: settings).detect(g, keepMask: true).mask!
        return ComponentLabeller().label(mask, minimumArea: 1).count
    }
    let guarded = blobs(noiseMultiple: 3), unguarded = blobs(noiseMultiple: 0), fixed = blobs(noiseMultiple: 0, fraction: 0)
    print("a dim noisy page: \(guarded) blobs in the mask with the noise guard, \(unguarded) without, \(fixed) with the rules fixed")
    #expect(guarded * 4 <= unguarded * 3)
    #expect(fixed < guarded)
}
