import Imaging
@testable import Vision

// The line remover as it was before its passes were vectorised (commit b553b75), kept verbatim
// (names prefixed) as the reference the optimised `LineRemover` must match bit for bit.

/// `straightAcross(mask, w, h, x, y, vertical: true, reach:)` from the mask's row bands
/// (`band[i]` = OR of the cell and its clipped left and right neighbours).
@inline(__always)
private func referenceStraightDown(_ band: UnsafeMutablePointer<UInt8>, _ w: Int, _ h: Int, _ x: Int, _ y: Int, reach: Int) -> Bool {
    var covered = 0, total = 0
    for yy in max(0, y - reach)...min(h - 1, y + reach) {
        total += 1
        if band[yy * w + x] != 0 { covered += 1 }
    }
    return covered * 4 >= total * 3
}

/// Marks (`marks[i] |= bit`) the ink cells of a row-major `width x height` mask that lie on a
/// path of at least `long` cells advancing one row per step (8-connected through ink; straight
/// down through background at `gapCost` per cell) and pass `straightAcross`. `forward` holds
/// `width * height`, the rows `width` values each.
/// Path lengths never exceed the number of rows, so with fewer than 32767 rows they are
/// counted in Int16 (signed 16-bit max and compare vectorise on baseline x86-64; unsigned
/// ones do not), otherwise in UInt16; the values are the same either way.
private func referenceMarkVerticalPaths(_ p: UnsafeMutablePointer<UInt8>, width w: Int, height h: Int, long: Int,
                               gapCost: UInt16, forward fwd: UnsafeMutablePointer<UInt16>,
                               rowA a: UnsafeMutablePointer<UInt16>, rowB b: UnsafeMutablePointer<UInt16>,
                               marks: UnsafeMutablePointer<UInt8>, bit: UInt8, band: UnsafeMutablePointer<UInt8>) {
    if h < Int(Int16.max) {
        let n = w * h
        fwd.withMemoryRebound(to: Int16.self, capacity: n) { f in
            a.withMemoryRebound(to: Int16.self, capacity: w) { ra in
                b.withMemoryRebound(to: Int16.self, capacity: w) { rb in
                    referenceMarkVerticalPathsIn(p, width: w, height: h, long: long, gapCost: Int16(gapCost), forward: f,
                                      rowA: ra, rowB: rb, marks: marks, bit: bit, band: band)
                }
            }
        }
    } else {
        referenceMarkVerticalPathsIn(p, width: w, height: h, long: long, gapCost: gapCost, forward: fwd,
                          rowA: a, rowB: b, marks: marks, bit: bit, band: band)
    }
}

@inline(__always)
private func referenceMarkVerticalPathsIn<T: FixedWidthInteger>(_ p: UnsafeMutablePointer<UInt8>, width w: Int, height h: Int, long: Int,
                               gapCost: T, forward fwd: UnsafeMutablePointer<T>,
                               rowA a0: UnsafeMutablePointer<T>, rowB b0: UnsafeMutablePointer<T>,
                               marks: UnsafeMutablePointer<UInt8>, bit: UInt8, band: UnsafeMutablePointer<UInt8>) {
    guard w >= 2, h >= 1 else { return }
    var a = a0, b = b0
    // Each cell's row band for `straightAcross(vertical: true)`: the OR of the cell and its
    // left and right neighbours (clipped at the edges), computed once instead of per test.
    for y in 0..<h {
        let row = p + y * w, o = band + y * w
        o[0] = row[0] | row[1]
        for x in 1..<(w - 1) { o[x] = row[x - 1] | row[x] | row[x + 1] }
        o[w - 1] = row[w - 2] | row[w - 1]
    }
    // Longest path ending at each cell, top down. Branch-free inner loop: the next value is
    // "best of the three above + 1" on ink, "straight above - gapCost" on background.
    @inline(__always) func step(_ ink: Bool, _ straight: T, _ diagonal: T) -> T {
        let gap = straight > gapCost ? straight &- gapCost : 0
        return ink ? diagonal &+ 1 : gap
    }
    for x in 0..<w { fwd[x] = p[x] != 0 ? 1 : 0 }
    for y in 1..<h {
        let row = p + y * w, above = fwd + (y - 1) * w, here = fwd + y * w
        here[0] = step(row[0] != 0, above[0], max(above[0], above[1]))
        for x in 1..<(w - 1) {
            here[x] = step(row[x] != 0, above[x], max(above[x], max(above[x - 1], above[x + 1])))
        }
        here[w - 1] = step(row[w - 1] != 0, above[w - 1], max(above[w - 1], above[w - 2]))
    }
    // Bottom up with two rolling rows; a cell on ink whose paths up and down add to `long`
    // is on a line.
    for x in 0..<w { a[x] = 0 }
    for y in stride(from: h - 1, through: 0, by: -1) {
        let row = p + y * w, here = fwd + y * w
        b[0] = step(row[0] != 0, a[0], max(a[0], a[1]))
        for x in 1..<(w - 1) { b[x] = step(row[x] != 0, a[x], max(a[x], max(a[x - 1], a[x + 1]))) }
        b[w - 1] = step(row[w - 1] != 0, a[w - 1], max(a[w - 1], a[w - 2]))
        for x in 0..<w where row[x] != 0 {
            // b[x] - 1 is the path below (exclusive); here[x] the path above (inclusive).
            if Int(here[x]) + Int(b[x]) - 1 >= long && referenceStraightDown(band, w, h, x, y, reach: 4) {
                marks[y * w + x] |= bit
            }
        }
        swap(&a, &b)
    }
}

/// `out[x * rows + y] = src[y * columns + x]` (or `|=` with `merging`), in 16x16 tiles so both
/// sides stay in cache.
@inline(__always)
private func referenceTranspose(_ src: UnsafeMutablePointer<UInt8>, rows: Int, columns: Int, into out: UnsafeMutablePointer<UInt8>,
                       merging: Bool = false) {
    var y0 = 0
    while y0 < rows {
        let y1 = min(rows, y0 + 16)
        var x0 = 0
        while x0 < columns {
            let x1 = min(columns, x0 + 16)
            if merging {
                for y in y0..<y1 { for x in x0..<x1 { out[x * rows + y] |= src[y * columns + x] } }
            } else {
                for y in y0..<y1 { for x in x0..<x1 { out[x * rows + y] = src[y * columns + x] } }
            }
            x0 = x1
        }
        y0 = y1
    }
}

/// `keepLinesThatRunOn` as stated: a marked cell keeps `bit` if at least `percent` % of the
/// rows within `reach` of it (clipped) have the bit in its column or a column beside it, counted
/// before any bit is cleared.
private func referenceKeepLinesThatRunOn(_ marks: UnsafeMutablePointer<UInt8>, width w: Int, height h: Int, bit: UInt8,
                                         reach: Int, percent: Int) {
    guard w >= 2, percent > 0 else { return }
    let before = Array(UnsafeBufferPointer(start: marks, count: w * h))
    for y in 0..<h {
        for x in 0..<w where before[y * w + x] & bit != 0 {
            let rows = max(0, y - reach)...min(h - 1, y + reach)
            let support = rows.filter { yy in (max(0, x - 1)...min(w - 1, x + 1)).contains { before[yy * w + $0] & bit != 0 } }.count
            if support * 100 < percent * rows.count { marks[y * w + x] &= ~bit }
        }
    }
}

/// A strong pixel, or one already marked for removal in this pass (see `LineRemover`).
@inline(__always) private func referenceStrong(_ v: UInt8) -> Bool { v == 255 || v == 1 }

/// Line removal with buffers kept between frames (one per thread).
///
/// Lines are found on a copy of the mask pooled 2x2 (any ink in the block counts), a quarter
/// of the pixels, which also bridges one-pixel gaps; pixels of the full mask in a block on a
/// line are then removed if the ink across the line is thin there.
final class ReferenceLineRemover {
    private var pooled: [UInt8] = []      // 2x2 OR of the mask
    private var forward: [UInt16] = []    // per pooled cell: longest monotone path ending here
    private var marks: [UInt8] = []       // per pooled cell: 1 = on a horizontal line, 2 = vertical
    private var transposedStore: [UInt8] = [], transposedMarkStore: [UInt8] = []
    private var lineA: [UInt16] = [], lineB: [UInt16] = []
    private var bandStore: [UInt8] = []   // per pooled cell: see `markVerticalPaths`
    private var thickness: [UInt16] = []   // per mask pixel on a line: `across` (see `remove`)
    private var levels: [Int] = []         // contrast histogram by thickness (see `remove`)
    private var tileMeans: [Int32] = []    // window mean per 8x8 tile, -1 = not yet taken

    init() {}

    /// `keepWeakInk`: leave weak pixels that are not on a line in the mask (for hysteresis
    /// labelling) instead of clearing them all. `contrast`: the picture behind the mask; line
    /// pixels much darker (or, for light ink, lighter) than the lines are typically are ink on
    /// the line and kept.
    func remove(_ mask: UnsafeMutableBufferPointer<UInt8>, width w: Int, height h: Int,
                       settings: LineRemovalSettings, keepWeakInk: Bool = false,
                       contrast: LineInkContrast? = nil) -> Int {
        precondition(mask.count >= w * h)
        let n = w * h
        let pw = w / 2, ph = h / 2, pn = pw * ph
        guard pw > 2, ph > 2 else {
            if !keepWeakInk { for i in 0..<n where mask[i] != 255 { mask[i] = 0 } }
            return 0
        }
        if pooled.count < pn {
            pooled = [UInt8](repeating: 0, count: pn); marks = pooled
            transposedStore = pooled; transposedMarkStore = pooled
            forward = [UInt16](repeating: 0, count: pn)
        }
        if bandStore.count < pn { bandStore = [UInt8](repeating: 0, count: pn) }
        if thickness.count < n { thickness = [UInt16](repeating: 0, count: n) }
        let tilesAcross = (w + 7) / 8, tileCount = tilesAcross * ((h + 7) / 8)
        if contrast != nil {
            if tileMeans.count < tileCount { tileMeans = [Int32](repeating: -1, count: tileCount) }
            tileMeans.withUnsafeMutableBufferPointer { t in for i in 0..<tileCount { t[i] = -1 } }
        }
        if contrast != nil && levels.count < (settings.maximumThickness + 2) * 256 {
            levels = [Int](repeating: 0, count: (settings.maximumThickness + 2) * 256)
        }
        let side = max(pw, ph)
        if lineA.count < side + 2 { lineA = [UInt16](repeating: 0, count: side + 2); lineB = lineA }
        let thin = settings.maximumThickness
        // Lengths in pooled cells; a background cell on a path costs 2 cells (4 pixels).
        let longH = (settings.minimumHorizontalLength + 1) / 2, longV = (settings.minimumVerticalLength + 1) / 2
        let gapCost = UInt16(2)
        var removed = 0
        let m = mask.baseAddress!
        transposedStore.withUnsafeMutableBufferPointer { transposed in
        transposedMarkStore.withUnsafeMutableBufferPointer { transposedMarks in
        pooled.withUnsafeMutableBufferPointer { pb in
        forward.withUnsafeMutableBufferPointer { fb in
        marks.withUnsafeMutableBufferPointer { kb in
        lineA.withUnsafeMutableBufferPointer { ab in
        lineB.withUnsafeMutableBufferPointer { bb in
        thickness.withUnsafeMutableBufferPointer { thicknessBuffer in
        levels.withUnsafeMutableBufferPointer { levelBuffer in
        tileMeans.withUnsafeMutableBufferPointer { tileBuffer in
        bandStore.withUnsafeMutableBufferPointer { bandBuffer in
            let p = pb.baseAddress!, fwd = fb.baseAddress!, mark = kb.baseAddress!
            let tiles = tileBuffer.baseAddress
            // The picture's local mean around pixel (x, y): the window mean at the centre of its
            // 8x8 tile, taken once per tile (the window is several tiles wide).
            @inline(__always) func localMean(_ x: Int, _ y: Int) -> Int {
                let i = (y >> 3) * tilesAcross + (x >> 3)
                var v = tiles![i]
                if v < 0 {
                    let (sum, count) = contrast!.window(min(w - 1, (x & ~7) + 4), min(h - 1, (y & ~7) + 4), width: w, height: h)
                    v = Int32(sum / max(1, count))
                    tiles![i] = v
                }
                return Int(v)
            }
            // Contrast of gray value `g` against mean `mean`, relative to it, in 1/64ths, 0...255.
            @inline(__always) func level(_ g: UInt8, _ mean: Int) -> Int {
                let d = contrast!.darkInk ? mean - Int(g) : Int(g) - mean
                return d <= 0 || mean <= 0 ? 0 : min(255, d * 64 / mean)
            }
            let a = ab.baseAddress!, b = bb.baseAddress!
            for py in 0..<ph {
                let r0 = m + 2 * py * w, r1 = r0 + w
                let out = p + py * pw
                for px in 0..<pw {
                    out[px] = r0[2 * px] | r0[2 * px + 1] | r1[2 * px] | r1[2 * px + 1]
                }
            }
            for i in 0..<pn { mark[i] = 0 }

            // Vertical lines on the pooled mask as it is; horizontal lines as vertical lines of
            // its transpose, so both sweeps read memory in order.
            referenceMarkVerticalPaths(p, width: pw, height: ph, long: longV, gapCost: gapCost,
                              forward: fwd, rowA: a, rowB: b, marks: mark, bit: 2, band: bandBuffer.baseAddress!)
            referenceKeepLinesThatRunOn(mark, width: pw, height: ph, bit: 2, reach: settings.runOnReach, percent: settings.runOnPercent)
            let pt = transposed.baseAddress!, mt = transposedMarks.baseAddress!
            referenceTranspose(p, rows: ph, columns: pw, into: pt)
            for i in 0..<pn { mt[i] = 0 }
            referenceMarkVerticalPaths(pt, width: ph, height: pw, long: longH, gapCost: gapCost,
                              forward: fwd, rowA: a, rowB: b, marks: mt, bit: 1, band: bandBuffer.baseAddress!)
            referenceKeepLinesThatRunOn(mt, width: ph, height: pw, bit: 1, reach: settings.runOnReach, percent: settings.runOnPercent)
            referenceTranspose(mt, rows: pw, columns: ph, into: mark, merging: true)

            // Thickness across the line at a strong pixel in a marked block: the shorter of the
            // applicable runs (vertical for horizontal lines, horizontal for vertical ones),
            // counted up to thin + 1.
            @inline(__always) func across(_ x: Int, _ y: Int, _ k: UInt8) -> Int {
                var best = thin + 1
                if k & 1 != 0 {
                    var len = 1, yy = y - 1
                    while yy >= 0 && referenceStrong(m[yy * w + x]) && len <= thin { len += 1; yy -= 1 }
                    yy = y + 1
                    while yy < h && referenceStrong(m[yy * w + x]) && len <= thin { len += 1; yy += 1 }
                    best = min(best, len)
                }
                if k & 2 != 0 {
                    let row = y * w
                    var len = 1, xx = x - 1
                    while xx >= 0 && referenceStrong(m[row + xx]) && len <= thin { len += 1; xx -= 1 }
                    xx = x + 1
                    while xx < w && referenceStrong(m[row + xx]) && len <= thin { len += 1; xx += 1 }
                    best = min(best, len)
                }
                return best
            }
            // The lines' own thickness: the median of that over all marked ink (mostly line
            // pixels). Strokes thicker than the lines (by more than a pixel) are kept even
            // where they run along a line.
            // Only blocks on lines are visited (a small part of the image); the last row or
            // column of an odd-sized mask belongs to the block before it.
            // Each strong pixel's thickness is kept in `thickness` for the removal below: that
            // pass used to measure it again, on a mask whose removed pixels were marked 1 (still
            // strong) and weak ones 2 (still not strong), so the measurement is the same.
            var histogram = [Int](repeating: 0, count: thin + 2)
            // Contrast levels by thickness (row t: pixels t thick across), of every eighth pixel
            // thin enough to be removed at all: enough for a median.
            let levelHist = levelBuffer.baseAddress
            if contrast != nil { for i in 0..<((thin + 2) * 256) { levelHist![i] = 0 } }
            var sampled = 0
            var markedInk = 0
            let across8 = thicknessBuffer.baseAddress!
            histogram.withUnsafeMutableBufferPointer { hb in
                let hist = hb.baseAddress!
                for py in 0..<ph {
                    let y0 = 2 * py, y1 = py == ph - 1 ? h : y0 + 2
                    for px in 0..<pw {
                        let k = mark[py * pw + px]
                        if k == 0 { continue }
                        let x0 = 2 * px, x1 = px == pw - 1 ? w : x0 + 2
                        for y in y0..<y1 {
                            for x in x0..<x1 where m[y * w + x] == 255 {
                                let t = across(x, y, k)
                                across8[y * w + x] = UInt16(truncatingIfNeeded: min(t, 65535))
                                hist[t] += 1; markedInk += 1
                                if let c = contrast, t <= thin {
                                    if sampled & 7 == 0 { levelHist![t * 256 + level(c.gray[y * w + x], localMean(x, y))] += 1 }
                                    sampled += 1
                                }
                            }
                        }
                    }
                }
            }
            var median = 0, seen = 0
            while median <= thin && seen * 2 < markedInk { seen += histogram[median]; median += 1 }
            let cut = min(thin, max(1, median))   // median + 1: the loop ends one past it
            // The lines' contrast: the median level of the pixels thin enough to go. Pixels
            // well above it are ink on the line (see `LineInkContrast`); 256 keeps everything
            // to the thickness rule.
            var keepLevel = 256
            if let c = contrast {
                var count = 0
                for t in 0...cut { for l in 0..<256 { count += levelHist![t * 256 + l] } }
                if count >= 8 {
                    var seenLevels = 0, lineLevel = 0
                    while lineLevel < 255 {
                        for t in 0...cut { seenLevels += levelHist![t * 256 + lineLevel] }
                        if seenLevels * 2 >= count { break }
                        lineLevel += 1
                    }
                    keepLevel = max(Int(Float(lineLevel) * c.keepRatio), lineLevel + 6)
                }
            }

            // Removal in marked blocks: weak ink goes; strong ink goes where it is no thicker
            // across than the lines (as measured above, before anything changed).
            for py in 0..<ph {
                let y0 = 2 * py, y1 = py == ph - 1 ? h : y0 + 2
                for px in 0..<pw {
                    if mark[py * pw + px] == 0 { continue }
                    let x0 = 2 * px, x1 = px == pw - 1 ? w : x0 + 2
                    // Kept: at least keepLevel, i.e. d * 64 >= keepLevel * mean.
                    let mean = keepLevel > 255 ? 0 : localMean(x0, y0)
                    let darkInk = contrast?.darkInk ?? true
                    let need = keepLevel * mean
                    for y in y0..<y1 {
                        for x in x0..<x1 {
                            let o = y * w + x
                            let v = m[o]
                            if v == 0 { continue }
                            if v == 255 {
                                if Int(across8[o]) <= cut
                                    && (keepLevel > 255 || (darkInk ? mean - Int(contrast!.gray[o]) : Int(contrast!.gray[o]) - mean) * 64 < need) {
                                    removed += 1; m[o] = 0
                                }
                            } else {
                                if v == 1 { removed += 1 }
                                m[o] = 0
                            }
                        }
                    }
                }
            }
            if !keepWeakInk { for i in 0..<n where m[i] != 255 { m[i] = 0 } }
        }}}}}}}}}}}
        return removed
    }
}
