import Imaging
import Recognition

/// The heads-up display numbers.
public struct HUD: Sendable, Equatable {
    public var framesPerSecond: Double
    public var latencyMs: Double
    public var dropped: Int
    public var corrupt: Int
    public var frame: Int
    public init(framesPerSecond: Double, latencyMs: Double, dropped: Int, corrupt: Int, frame: Int) {
        self.framesPerSecond = framesPerSecond; self.latencyMs = latencyMs
        self.dropped = dropped; self.corrupt = corrupt; self.frame = frame
    }
}

/// What the window shows: the camera picture, the thresholded picture, or the network's crops.
public enum OverlayMode: Sendable, Equatable {
    case camera, threshold, crops
}

/// Draws the annotated picture the window shows and snapshots save. Pure pixels, no SDL, so it is
/// tested directly; the window only uploads the result and letterboxes it.
public enum OverlayComposer {
    /// Stable (tracked) digits.
    public static let stableColor: RGBColor = (0, 220, 0)
    /// Detections in this frame not yet stable.
    public static let tentativeColor: RGBColor = (255, 200, 0)
    public static let numberColor: RGBColor = (40, 110, 255)
    public static let rejectedColor: RGBColor = (230, 40, 40)

    /// Font pixel size for a picture of this size: legible at 640x480 through 1920x1080.
    static func textScale(_ width: Int, _ height: Int) -> Int { max(1, min(width, height) / 300) }

    public static func compose(mode: OverlayMode, image: GrayImage, reading: FrameReading, tracks: [Track],
                               hud: HUD?, paused: Bool = false) -> RGBImage {
        var out: RGBImage
        switch mode {
        case .camera:
            out = image.rgb()
            annotate(&out, reading: reading, tracks: tracks, divisor: 1)
        case .threshold:
            if let d = reading.debug {
                out = d.binary.rgb()
                annotate(&out, reading: reading, tracks: tracks, divisor: max(1, d.binaryScale))
            } else {
                out = image.rgb()
                out.drawText("no threshold image", x: 8, y: 40, scale: 2, color: (255, 255, 255), background: (0, 0, 0))
            }
        case .crops:
            out = crops(reading)
        }
        if let hud { drawHUD(&out, hud, mode: mode, paused: paused) }
        return out
    }

    /// Boxes, digits, confidences and numbers, with boxes divided by `divisor` (threshold view).
    static func annotate(_ out: inout RGBImage, reading: FrameReading, tracks: [Track], divisor: Int) {
        let s = textScale(out.width, out.height)
        func scaled(_ b: Box) -> Box {
            Box(x: b.x / divisor, y: b.y / divisor, width: max(1, b.width / divisor), height: max(1, b.height / divisor))
        }
        for n in reading.numbers where n.value.count > 1 {
            let b = scaled(n.box)
            let pad = 3 * s
            let framed = Box(x: b.x - pad, y: b.y - pad, width: b.width + 2 * pad, height: b.height + 2 * pad)
            out.drawRectangle(framed, color: numberColor, thickness: s)
            out.drawText(n.value, x: framed.x + s, y: framed.maxY + 2 * s, scale: s + 1, color: (255, 255, 255),
                         background: numberColor)
        }
        // Detections this frame: tentative unless a stable track holds the same place.
        for d in reading.detections {
            let stable = tracks.contains { $0.reportedDigit != nil && $0.box.iou(d.box) > 0.5 }
            if !stable { out.drawRectangle(scaled(d.box), color: tentativeColor, thickness: max(1, s / 2)) }
        }
        for t in tracks {
            guard let digit = t.reportedDigit else { continue }
            let b = scaled(t.box)
            out.drawRectangle(b, color: stableColor, thickness: s)
            let label = "\(digit) " + format(t.probabilities[digit], decimals: 2)
            out.drawText(label, x: b.x, y: b.y - 9 * s - 2, scale: s, color: (0, 0, 0), background: stableColor)
        }
    }

    /// The 28x28 inputs the network saw, 4x enlarged in a grid, each with its top guess.
    static func crops(_ reading: FrameReading) -> RGBImage {
        let candidates = reading.debug?.candidates ?? []
        let cell = 28 * 4, label = 14, gap = 6
        let columns = max(1, min(10, candidates.count))
        let rows = max(1, (candidates.count + columns - 1) / columns)
        var out = RGBImage(width: max(480, columns * (cell + gap) + gap), height: 40 + rows * (cell + label + gap) + gap,
                           fill: (24, 24, 24))
        if candidates.isEmpty {
            out.drawText("no candidates in this frame", x: 12, y: 60, scale: 2, color: (255, 255, 255))
        }
        for (i, c) in candidates.enumerated() {
            let x0 = gap + (i % columns) * (cell + gap), y0 = 40 + (i / columns) * (cell + label + gap)
            for y in 0..<cell {
                for x in 0..<cell {
                    let v = UInt8(max(0, min(255, (c.crop[(y / 4) * 28 + x / 4] * 255).rounded())))
                    out.setPixel(x: x0 + x, y: y0 + y, (v, v, v))
                }
            }
            let colour = c.accepted ? stableColor : rejectedColor
            out.drawRectangle(Box(x: x0, y: y0, width: cell, height: cell), color: colour, thickness: 2)
            out.drawText("\(c.digit) " + format(Double(c.confidence), decimals: 2), x: x0 + 2, y: y0 + cell + 3,
                         scale: 1, color: colour)
        }
        return out
    }

    static func drawHUD(_ out: inout RGBImage, _ hud: HUD, mode: OverlayMode, paused: Bool) {
        let s = textScale(out.width, out.height)
        var text = format(hud.framesPerSecond, decimals: 1) + " fps  " + format(hud.latencyMs, decimals: 1)
            + " ms  dropped \(hud.dropped)"
        if hud.corrupt > 0 { text += "  corrupt \(hud.corrupt)" }
        text += "  #\(hud.frame)"
        switch mode {
        case .camera: break
        case .threshold: text += "  [threshold]"
        case .crops: text += "  [crops]"
        }
        if paused { text += "  PAUSED" }
        out.drawText(text, x: 4 * s, y: 4 * s, scale: s, color: (255, 255, 255), background: (0, 0, 0))
    }

    static func format(_ v: Double, decimals: Int) -> String {
        guard v.isFinite else { return "-" }
        var m = 1.0
        for _ in 0..<decimals { m *= 10 }
        let r = Int((v * m).rounded())
        let whole = r / Int(m), frac = abs(r % Int(m))
        guard decimals > 0 else { return "\(whole)" }
        let f = String(frac)
        return "\(r < 0 && whole == 0 ? "-" : "")\(whole)." + String(repeating: "0", count: decimals - f.count) + f
    }
}
