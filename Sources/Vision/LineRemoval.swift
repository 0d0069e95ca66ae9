import Imaging

/// What counts as a ruled or grid line in a binary mask.
public struct LineRemovalSettings: Sendable, Equatable {
    /// A horizontal line is a path of ink at least this long (pixels)...
    public var minimumHorizontalLength: Int
    /// ...a vertical one at least this long...
    public var minimumVerticalLength: Int
    /// ...and its pixels are removed where the ink across it is no thicker than this.
    public var maximumThickness: Int

    public init(minimumHorizontalLength: Int, minimumVerticalLength: Int, maximumThickness: Int) {
        self.minimumHorizontalLength = minimumHorizontalLength
        self.minimumVerticalLength = minimumVerticalLength
        self.maximumThickness = maximumThickness
    }

    /// Lines span a good part of the frame, longer than any digit is tall or wide.
    public static func forImage(width: Int, height: Int) -> LineRemovalSettings {
        LineRemovalSettings(minimumHorizontalLength: max(24, width / 8),
                            minimumVerticalLength: max(24, height / 6),
                            maximumThickness: max(3, min(width, height) / 120))
    }
}

/// Value of a *weak* ink pixel in a mask: one that passed only a lower contrast (see
/// `ThresholdSettings.weakContrast`). Weak pixels let line removal follow faint lines that
/// threshold into dashes; `LineRemover` clears them.
public let weakInk: UInt8 = 64

/// Removes ruled and grid lines from an ink mask (255 = ink, `weakInk` = weak ink) and clears
/// weak ink. A line is an 8-connected path of ink (strong or weak) that advances one column per
/// step (horizontal lines; rows for vertical ones) and is at least the minimum length, each
/// background pixel bridged costing 4 pixels of length: such a path follows tilted, slightly
/// curved and dashed lines. Its strong pixels are removed where the ink
/// across the line is thin (weak pixels on it go too); where a digit's stroke crosses a line it is thicker than the line,
/// so it stays and the digit is not cut. Returns the number of ink pixels removed.
@discardableResult
public func removeLines(_ mask: inout GrayImage, settings: LineRemovalSettings) -> Int {
    let remover = LineRemover()
    let (w, h) = (mask.width, mask.height)
    return mask.pixels.withUnsafeMutableBufferPointer { remover.remove($0, width: w, height: h, settings: settings) }
}

/// Whether ink continues straight through (x, y): along the row band y-1...y+1 (or the column
/// band, for vertical lines), at least 3/4 of the positions within `reach` on either side hold
/// ink. A long path can wander off a line into a digit touching it and back; this keeps such
/// excursions, since a digit's stroke leaves the line's band.
@inline(__always)
private func straightAcross(_ mask: UnsafeMutableBufferPointer<UInt8>, _ w: Int, _ h: Int, _ x: Int, _ y: Int,
                            vertical: Bool, reach: Int = 8) -> Bool {
    var covered = 0, total = 0
    if vertical {
        let x0 = max(0, x - 1), x1 = min(w - 1, x + 1)
        for yy in max(0, y - reach)...min(h - 1, y + reach) {
            total += 1
            let row = yy * w
            var any: UInt8 = 0
            for xx in x0...x1 { any |= mask[row + xx] }
            if any != 0 { covered += 1 }
        }
    } else {
        let y0 = max(0, y - 1), y1 = min(h - 1, y + 1)
        for xx in max(0, x - reach)...min(w - 1, x + reach) {
            total += 1
            var any: UInt8 = 0
            for yy in y0...y1 { any |= mask[yy * w + xx] }
            if any != 0 { covered += 1 }
        }
    }
    return covered * 4 >= total * 3
}

/// Line removal with buffers kept between frames (one per thread).
public final class LineRemover {
    private var across: [UInt16] = []     // per pixel: length of the vertical strong run through it
    private var along: [UInt16] = []      // per pixel: length of the horizontal strong run through it
    private var forward: [UInt16] = []    // per pixel: longest monotone path ending here
    private var remove: [UInt8] = []
    private var lineA: [UInt16] = [], lineB: [UInt16] = []

    public init() {}

    /// `keepWeakInk`: leave weak pixels that are not on a line in the mask (for hysteresis
    /// labelling) instead of clearing them all.
    public func remove(_ mask: UnsafeMutableBufferPointer<UInt8>, width w: Int, height h: Int,
                       settings: LineRemovalSettings, keepWeakInk: Bool = false) -> Int {
        precondition(mask.count >= w * h)
        let n = w * h
        guard w > 2, h > 2 else {
            if !keepWeakInk { for i in 0..<n where mask[i] != 255 { mask[i] = 0 } }
            return 0
        }
        if across.count < n {
            across = [UInt16](repeating: 0, count: n); along = across; forward = across
            remove = [UInt8](repeating: 0, count: n)
        }
        let side = max(w, h)
        if lineA.count < side + 2 { lineA = [UInt16](repeating: 0, count: side + 2); lineB = lineA }
        let thin = settings.maximumThickness
        // A background pixel on a path costs this much length: a line broken into dashes
        // (faint ink, noise) is still followed across short gaps if it is long.
        let gapCost = UInt16(4)
        let longH = settings.minimumHorizontalLength, longV = settings.minimumVerticalLength
        var removed = 0
        across.withUnsafeMutableBufferPointer { vrun in
        along.withUnsafeMutableBufferPointer { hrun in
        forward.withUnsafeMutableBufferPointer { fwd in
        remove.withUnsafeMutableBufferPointer { out in
        lineA.withUnsafeMutableBufferPointer { a in
        lineB.withUnsafeMutableBufferPointer { b in
            // Exact strong run lengths: horizontal by rows; vertical as the count of strong
            // pixels in a row above plus below (computed with two sweeps).
            for y in 0..<h {
                let row = y * w
                var x = 0
                while x < w {
                    out[row + x] = 0
                    if mask[row + x] != 255 { x += 1; continue }
                    let s = x
                    while x < w && mask[row + x] == 255 { out[row + x] = 0; x += 1 }
                    let len = UInt16(min(x - s, 65_535))
                    for i in s..<x { hrun[row + i] = len }
                }
            }
            // vrun: downward count in a sweep, then upward sweep completes it.
            for x in 0..<w { a[x] = 0 }
            for y in 0..<h {
                let row = y * w
                for x in 0..<w {
                    let v: UInt16 = mask[row + x] == 255 ? a[x] &+ 1 : 0
                    a[x] = v; vrun[row + x] = v
                }
            }
            for x in 0..<w { a[x] = 0 }
            for y in stride(from: h - 1, through: 0, by: -1) {
                let row = y * w
                for x in 0..<w {
                    if mask[row + x] == 255 {
                        // a[x] = run length below this pixel (exclusive); vrun holds the count above (inclusive).
                        let total = vrun[row + x] &+ a[x]
                        a[x] = a[x] &+ 1
                        vrun[row + x] = total
                    } else { a[x] = 0 }
                }
            }
            // Note: vrun now holds, for each strong pixel, (run above incl.) + (run below excl.) = the run length.

            // Vertical lines: longest path advancing one row per step, any ink counts.
            // Forward (top down) into fwd; backward with a rolling row, marking as we go.
            for y in 0..<h {
                let row = y * w, above = row - w
                for x in 0..<w {
                    var best: UInt16 = 0
                    if y > 0 {
                        best = fwd[above + x]
                        if x > 0 { best = max(best, fwd[above + x - 1]) }
                        if x < w - 1 { best = max(best, fwd[above + x + 1]) }
                    }
                    fwd[row + x] = mask[row + x] != 0 ? best &+ 1 : (best > gapCost ? best - gapCost : 0)
                }
            }
            for x in 0..<w { a[x] = 0 }
            for y in stride(from: h - 1, through: 0, by: -1) {
                let row = y * w
                for x in 0..<w {
                    var best = a[x]
                    if x > 0 { best = max(best, a[x - 1]) }
                    if x < w - 1 { best = max(best, a[x + 1]) }
                    if mask[row + x] == 0 { b[x] = best > gapCost ? best - gapCost : 0; continue }
                    b[x] = best &+ 1
                    if Int(fwd[row + x]) + Int(best) >= longV && (mask[row + x] != 255 || Int(hrun[row + x]) <= thin)
                        && straightAcross(mask, w, h, x, y, vertical: true) {
                        out[row + x] = 1
                    }
                }
                for x in 0..<w { a[x] = b[x] }
            }

            // Horizontal lines: the same advancing one column per step, swept column by column
            // (the previous column's values stay in cache).
            for x in 0..<w {
                for y in 0..<h {
                    let o = y * w + x
                    var best: UInt16 = 0
                    if x > 0 {
                        best = fwd[o - 1]
                        if y > 0 { best = max(best, fwd[o - w - 1]) }
                        if y < h - 1 { best = max(best, fwd[o + w - 1]) }
                    }
                    fwd[o] = mask[o] != 0 ? best &+ 1 : (best > gapCost ? best - gapCost : 0)
                }
            }
            for y in 0..<h { a[y] = 0 }
            for x in stride(from: w - 1, through: 0, by: -1) {
                for y in 0..<h {
                    let o = y * w + x
                    var best = a[y]
                    if y > 0 { best = max(best, a[y - 1]) }
                    if y < h - 1 { best = max(best, a[y + 1]) }
                    if mask[o] == 0 { b[y] = best > gapCost ? best - gapCost : 0; continue }
                    b[y] = best &+ 1
                    if Int(fwd[o]) + Int(best) >= longH && (mask[o] != 255 || Int(vrun[o]) <= thin)
                        && straightAcross(mask, w, h, x, y, vertical: false) {
                        out[o] = 1
                    }
                }
                for y in 0..<h { a[y] = b[y] }
            }

            for i in 0..<n where mask[i] != 0 {
                if out[i] != 0 {
                    if mask[i] == 255 { removed += 1 }
                    mask[i] = 0
                } else if mask[i] != 255 && !keepWeakInk { mask[i] = 0 }
            }
        }}}}}}
        return removed
    }
}
