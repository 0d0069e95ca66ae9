import Imaging

/// What counts as a ruled or grid line in a binary mask.
public struct LineRemovalSettings: Sendable, Equatable {
    /// A horizontal line is a run of ink at least this long (pixels)...
    public var minimumHorizontalLength: Int
    /// ...a vertical one at least this long...
    public var minimumVerticalLength: Int
    /// ...and no thicker than this across. Runs are followed with one pixel of slack across, so
    /// slightly tilted lines still count as long.
    public var maximumThickness: Int

    public init(minimumHorizontalLength: Int, minimumVerticalLength: Int, maximumThickness: Int) {
        self.minimumHorizontalLength = minimumHorizontalLength
        self.minimumVerticalLength = minimumVerticalLength
        self.maximumThickness = maximumThickness
    }

    /// Lines span a good part of the frame, longer than any digit is tall or wide.
    public static func forImage(width: Int, height: Int) -> LineRemovalSettings {
        LineRemovalSettings(minimumHorizontalLength: max(24, width / 7),
                            minimumVerticalLength: max(24, height / 5),
                            maximumThickness: max(2, min(width, height) / 150))
    }
}

/// Removes ruled and grid lines from an ink mask (255 = ink): pixels on a long thin horizontal
/// run whose vertical extent is at most `maximumThickness`, and the same turned 90 degrees.
/// Where a digit's stroke crosses a line the ink there is thicker across the line than the line
/// itself, so it stays and the digit is not cut. Returns the number of pixels removed.
@discardableResult
public func removeLines(_ mask: inout GrayImage, settings: LineRemovalSettings) -> Int {
    let w = mask.width, h = mask.height
    var scratch = [UInt16](repeating: 0, count: 2 * w * h + 2 * w)
    return mask.pixels.withUnsafeMutableBufferPointer { m in
        scratch.withUnsafeMutableBufferPointer { s in
            removeLines(m, width: w, height: h, settings: settings, scratch: s)
        }
    }
}

/// Buffer form. `scratch` holds at least `2 * width * height + 2 * width` UInt16s.
public func removeLines(_ mask: UnsafeMutableBufferPointer<UInt8>, width w: Int, height h: Int,
                        settings: LineRemovalSettings, scratch: UnsafeMutableBufferPointer<UInt16>) -> Int {
    precondition(mask.count >= w * h && scratch.count >= 2 * w * h + 2 * w)
    guard w > 2, h > 2 else { return 0 }
    let n = w * h
    let longH = settings.minimumHorizontalLength, longV = settings.minimumVerticalLength
    let thin = settings.maximumThickness
    // Plane 0: thickness across (vertical run length) of each ink pixel; plane 1: marks
    // (1 = on a long horizontal run, 2 = on a long vertical run, as found with slack).
    let vrun = UnsafeMutableBufferPointer(rebasing: scratch[0..<n])
    let mark = UnsafeMutableBufferPointer(rebasing: scratch[n..<(2 * n)])
    let runStart = UnsafeMutableBufferPointer(rebasing: scratch[(2 * n)..<(2 * n + w)])
    let slackStart = UnsafeMutableBufferPointer(rebasing: scratch[(2 * n + w)..<(2 * n + 2 * w)])
    var anyLong = false

    // Horizontal: runs of (row above | row | row below), marked where the row itself has ink.
    for y in 0..<h {
        let row = y * w
        let up = y > 0 ? row - w : row, down = y < h - 1 ? row + w : row
        var x = 0
        while x < w {
            if mask[up + x] | mask[row + x] | mask[down + x] == 0 { x += 1; continue }
            let start = x
            while x < w && mask[up + x] | mask[row + x] | mask[down + x] != 0 { x += 1 }
            if x - start >= longH {
                anyLong = true
                for i in start..<x where mask[row + i] != 0 { mark[row + i] = 1 } 
            } else {
                for i in start..<x { mark[row + i] = 0 }
            }
        }
        // Background pixels between runs are never read as marks.
    }
    // Vertical runs, exact (thickness of horizontal lines) and with slack (long vertical lines),
    // swept row by row with per-column state so memory is read in order.
    for x in 0..<w { runStart[x] = UInt16.max; slackStart[x] = UInt16.max }
    for y in 0...h {
        let row = y * w
        for x in 0..<w {
            let ink = y < h && mask[row + x] != 0
            if ink {
                if runStart[x] == UInt16.max { runStart[x] = UInt16(y) }
            } else if runStart[x] != UInt16.max {
                let s = Int(runStart[x]), len = UInt16(min(y - s, Int(UInt16.max - 1)))
                var o = s * w + x
                for _ in s..<y { vrun[o] = len; o += w }
                runStart[x] = UInt16.max
            }
            let slack = y < h && (mask[row + x] != 0 || (x > 0 && mask[row + x - 1] != 0) || (x < w - 1 && mask[row + x + 1] != 0))
            if slack {
                if slackStart[x] == UInt16.max { slackStart[x] = UInt16(y) }
            } else if slackStart[x] != UInt16.max {
                let s = Int(slackStart[x])
                if y - s >= longV {
                    anyLong = true
                    var o = s * w + x
                    for _ in s..<y { if mask[o] != 0 { mark[o] |= 2 }; o += w }
                }
                slackStart[x] = UInt16.max
            }
        }
    }
    guard anyLong else { return 0 }
    // Horizontal thickness (run length along the row) decides vertical lines.
    var removed = 0
    for y in 0..<h {
        let row = y * w
        var x = 0
        while x < w {
            if mask[row + x] == 0 { x += 1; continue }
            let start = x
            while x < w && mask[row + x] != 0 { x += 1 }
            let across = x - start
            for i in start..<x {
                let o = row + i
                let m = mark[o]
                if m == 0 { continue }
                if (m & 1 != 0 && Int(vrun[o]) <= thin) || (m & 2 != 0 && across <= thin) {
                    mark[o] = 4   // remove after the pass, so thickness reads the original mask
                }
            }
        }
    }
    for i in 0..<n where mask[i] != 0 {
        if mark[i] == 4 { mask[i] = 0; removed += 1 }
        mark[i] = 0
    }
    return removed
}
