import Foundation
import Imaging

/// Pictures people would rather look at than read: training curves and the confusion matrix.
public enum TrainingPlots {
    static let white: RGBColor = (255, 255, 255), black: RGBColor = (0, 0, 0), grey: RGBColor = (200, 200, 200)
    static let colours: [RGBColor] = [(31, 119, 180), (214, 39, 40), (44, 160, 44)]

    /// Two panels side by side: training loss, and accuracy (train / validation / test) per epoch.
    public static func writeCurves(_ history: [EpochRecord], to path: String) throws {
        var img = RGBImage(width: 900, height: 360, fill: (255, 255, 255))
        guard !history.isEmpty else { return try saveImage(img, path: path) }
        let epochs = history.map { Double($0.epoch) }
        panel(&img, origin: (50, 30), size: (380, 280), title: "training loss",
              series: [("train", epochs, history.map(\.trainLoss))], yRange: nil, percent: false)
        var acc: [(String, [Double], [Double])] = [("train", epochs, history.map { 100 * $0.trainAccuracy })]
        let val = history.compactMap { r in r.validationAccuracy.map { (Double(r.epoch), 100 * $0) } }
        if !val.isEmpty { acc.append(("validation", val.map(\.0), val.map(\.1))) }
        let tst = history.compactMap { r in r.testAccuracy.map { (Double(r.epoch), 100 * $0) } }
        if !tst.isEmpty { acc.append(("test", tst.map(\.0), tst.map(\.1))) }
        let lows = acc.flatMap(\.2).sorted()
        let low = max(90, (lows.first ?? 90) - 0.2)
        panel(&img, origin: (510, 30), size: (370, 280), title: "accuracy %", series: acc, yRange: (low, 100), percent: true)
        try saveImage(img, path: path)
    }

    static func panel(_ img: inout RGBImage, origin: (Int, Int), size: (Int, Int), title: String,
                      series: [(String, [Double], [Double])], yRange: (Double, Double)?, percent: Bool) {
        let (ox, oy) = origin, (w, h) = size
        let xs = series.flatMap(\.1), ys = series.flatMap(\.2)
        let x0 = xs.min() ?? 0, x1 = max(xs.max() ?? 1, x0 + 1)
        var y0 = yRange?.0 ?? (ys.min() ?? 0), y1 = yRange?.1 ?? (ys.max() ?? 1)
        if y1 - y0 < 1e-9 { y0 -= 0.5; y1 += 0.5 }
        img.drawText(title, x: ox, y: oy - 20, scale: 2, color: black)
        for k in 0...4 {
            let y = oy + h - k * h / 4
            img.fill(Box(x: ox, y: y, width: w, height: 1), color: grey)
            let v = y0 + (y1 - y0) * Double(k) / 4
            img.drawText(String(format: percent ? "%.1f" : "%.3f", v), x: ox - 46, y: y - 3, color: black)
        }
        img.drawRectangle(Box(x: ox, y: oy, width: w + 1, height: h + 1), color: black)
        img.drawText("epoch \(Int(x0))-\(Int(x1))", x: ox + w / 2 - 30, y: oy + h + 8, color: black)
        for (i, s) in series.enumerated() {
            let c = colours[i % colours.count]
            var last: (Int, Int)?
            for (x, y) in zip(s.1, s.2) {
                let px = ox + Int((x - x0) / (x1 - x0) * Double(w))
                let py = oy + h - Int(((min(max(y, y0), y1)) - y0) / (y1 - y0) * Double(h))
                if let l = last { line(&img, l, (px, py), c) }
                img.fill(Box(x: px - 2, y: py - 2, width: 5, height: 5), color: c)
                last = (px, py)
            }
            img.fill(Box(x: ox + 10, y: oy + 10 + 14 * i, width: 10, height: 8), color: c)
            img.drawText(s.0, x: ox + 24, y: oy + 10 + 14 * i, color: black)
        }
    }

    static func line(_ img: inout RGBImage, _ a: (Int, Int), _ b: (Int, Int), _ c: RGBColor) {
        let n = max(abs(b.0 - a.0), abs(b.1 - a.1), 1)
        for i in 0...n {
            let x = a.0 + (b.0 - a.0) * i / n, y = a.1 + (b.1 - a.1) * i / n
            img.fill(Box(x: x, y: y - 1, width: 2, height: 2), color: c)
        }
    }

    /// A 10x10 heat map (rows = true digit, columns = predicted), counts in each cell,
    /// off-diagonal cells shaded by their share of errors.
    public static func writeConfusion(_ confusion: [[Int]], accuracy: Double, to path: String) throws {
        let cell = 44, left = 60, top = 70
        var img = RGBImage(width: left + 10 * cell + 20, height: top + 10 * cell + 40, fill: (255, 255, 255))
        img.drawText(String(format: "confusion matrix, accuracy %.2f%%", 100 * accuracy), x: 10, y: 10, scale: 2, color: black)
        img.drawText("predicted", x: left + 5 * cell - 27, y: 40, color: black)
        img.drawText("true", x: 8, y: top + 5 * cell, color: black)
        let maxOff = max(1, confusion.enumerated().flatMap { r in r.element.enumerated().filter { $0.offset != r.offset }.map(\.element) }.max() ?? 1)
        for t in 0..<10 {
            img.drawText("\(t)", x: left - 14, y: top + t * cell + cell / 2 - 3, color: black)
            img.drawText("\(t)", x: left + t * cell + cell / 2 - 2, y: top - 12, color: black)
            let rowTotal = max(1, confusion[t].reduce(0, +))
            for p in 0..<10 {
                let v = confusion[t][p]
                let colour: RGBColor
                if t == p {
                    let f = Double(v) / Double(rowTotal)
                    colour = (UInt8(255 - 200 * f), UInt8(255 - 80 * f), UInt8(255 - 200 * f))
                } else {
                    let f = v == 0 ? 0 : 0.15 + 0.85 * Double(v) / Double(maxOff)
                    colour = (255, UInt8(255 - 200 * f), UInt8(255 - 200 * f))
                }
                let box = Box(x: left + p * cell, y: top + t * cell, width: cell, height: cell)
                img.fill(box, color: colour)
                img.drawRectangle(box, color: grey)
                let text = "\(v)"
                img.drawText(text, x: box.x + (cell - BitmapFont.width(of: text)) / 2, y: box.y + cell / 2 - 3, color: black)
            }
        }
        try saveImage(img, path: path)
    }
}
