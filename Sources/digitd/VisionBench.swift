import Foundation
import Imaging
import NeuralNet
import Recognition
import Vision

/// Times the per-frame pipeline (`Recognizer.read`, model included) by stage on synthetic
/// scenes of about 20 digits at 640x480, 1280x720 and 1920x1080, one thread, and JPEG decoding
/// of the same scenes separately. Returns a printable report of medians in milliseconds.
/// Digits are MNIST test digits when the fixture is found, else the built-in font's.
func runVisionBench(classifier: DigitClassifier, repeats: Int) throws -> String {
    let glyphs = (try? SynthSupport.loadGlyphs(SynthSupport.defaultMNIST)) ?? DigitGlyphs.fromFont()
    let generator = SceneGenerator(glyphs: glyphs)
    let recognizer = Recognizer(classifier: classifier)
    let cascade = classifier as? CascadeClassifier
    var report = "vision pipeline, one thread, median ms per frame (\(glyphs.count == 10 ? "font" : "MNIST") digits, \(max(1, repeats)) repeats x 5 scenes)\n"
    if let cascade {
        report += String(format: "classify = the cascade: screen network on every crop, full model on crops with screen top probability < %.2f\n",
                         cascade.threshold)
    } else {
        report += "classify = the model alone on every crop\n"
    }
    for (w, h) in [(640, 480), (1280, 720), (1920, 1080)] {
        var stageSamples: [String: [Double]] = [:]
        var stageOrder: [String] = []
        var totals: [Double] = [], decodes: [Double] = []
        var digits = 0, found = 0, crops = 0, escalated = 0
        for scene in 0..<5 {
            var options = SceneGenerator.Options()
            options.width = w; options.height = h
            options.chalkboard = scene == 4
            options.targetDigits = 20
            let s = generator.render(seed: 1000 + UInt64(scene), options: options)
            digits += s.digits.count
            let jpeg = encodeJPEG(s.image, quality: 85)
            _ = recognizer.read(s.image)   // warm-up: buffers sized for this frame
            cascade?.resetCounts()
            for _ in 0..<max(1, repeats) {
                let t0 = StageClock.nowMilliseconds()
                let decoded = try jpeg.withUnsafeBytes { try decodeJPEGGray($0) }
                decodes.append(StageClock.nowMilliseconds() - t0)
                let t1 = StageClock.nowMilliseconds()
                let reading = recognizer.read(decoded)
                totals.append(StageClock.nowMilliseconds() - t1)
                for (stage, ms) in reading.timings {
                    if stageSamples[stage] == nil { stageOrder.append(stage) }
                    stageSamples[stage, default: []].append(ms)
                }
                found = reading.detections.count
            }
            crops += cascade?.screenedCount ?? 0
            escalated += cascade?.escalatedCount ?? 0
        }
        _ = found
        report += String(format: "  %4dx%-4d  %5.2f ms total (decode excluded), ~%d digits/scene;  JPEG decode %5.2f ms\n",
                         w, h, median(totals), digits / 5, median(decodes))
        if cascade != nil {
            report += String(format: "             cascade: %.1f crops/frame, %.1f%% escalated to the full model\n",
                             Double(crops) / Double(5 * max(1, repeats)), crops == 0 ? 0 : 100 * Double(escalated) / Double(crops))
        }
        report += "             " + stageOrder.map { String(format: "%@ %.3f", $0, median(stageSamples[$0]!)) }.joined(separator: ", ") + "\n"
    }
    return report
}

private func median(_ v: [Double]) -> Double {
    guard !v.isEmpty else { return 0 }
    let s = v.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}
