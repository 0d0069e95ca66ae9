import Imaging

/// What counts as a ruled or grid line in a binary mask.
public struct LineRemovalSettings: Sendable, Equatable {
    /// A horizontal line is a path of ink at least this long (pixels)...
    public var minimumHorizontalLength: Int
    /// ...a vertical one at least this long...
    public var minimumVerticalLength: Int
    /// ...and its pixels are removed where the ink across it is no thicker than this.
    public var maximumThickness: Int
    /// A marked cell stays on a line only if at least `runOnPercent` % of the pooled cells
    /// within `runOnReach` of it along the line are marked too (see `keepLinesThatRunOn`); 0
    /// turns the rule off. 24 cells is 48 pixels of the working image, less than the 60-80 cells
    /// a line spans at least. (Synth F1, seeds 1 / 500001 / 1000, without / with the rule at 30 %:
    /// 0.9711 / 0.9616 / 0.9583 -> 0.9706 / 0.9627 / 0.9596; thin strokes, `--stroke-gamma
    /// 1.6-3.5`: 0.9505 / 0.9389 / 0.9384 -> 0.9551 / 0.9433 / 0.9440; 20 %: 0.9711 / 0.9618 /
    /// 0.9588 and 0.9528 / 0.9409 / 0.9410; 40 % and 50 % lose on seed 1, reach 40 loses.)
    public var runOnReach = 24
    public var runOnPercent = LineRemovalSettings.defaultRunOnPercent
    public static let defaultRunOnPercent = 30

    public init(minimumHorizontalLength: Int, minimumVerticalLength: Int, maximumThickness: Int) {
        self.minimumHorizontalLength = minimumHorizontalLength
        self.minimumVerticalLength = minimumVerticalLength
        self.maximumThickness = maximumThickness
    }

    /// Lines span a good part of the frame, longer than any digit is tall or wide.
    public static func forImage(width: Int, height: Int) -> LineRemovalSettings {
        LineRemovalSettings(minimumHorizontalLength: max(24, width / 4),
                            minimumVerticalLength: max(24, height / 3),
                            maximumThickness: max(3, min(width, height) / 120))
    }
}

/// Value of a *weak* ink pixel in a mask: one that passed only a lower contrast (see
/// `ThresholdSettings.weakContrast`). Weak pixels let line removal follow faint lines that
/// threshold into dashes; `LineRemover` clears them.
public let weakInk: UInt8 = 64

/// Removes ruled and grid lines from an ink mask (255 = ink, `weakInk` = weak ink) and clears
/// weak ink. A line is an 8-connected path of ink (strong or weak) that advances one column per
/// step (horizontal lines; rows for vertical ones) and is at least the minimum length; it may
/// bridge background straight on, each background pixel costing 2 pixels of length: such a
/// path follows tilted, slightly curved and dashed lines; its marks must run on along it (see
/// `LineRemovalSettings.runOnPercent`). Its strong pixels are removed where the ink
/// across the line is thin (weak pixels on it go too); where a digit's stroke crosses a line it is thicker than the line,
/// so it stays and the digit is not cut. Returns the number of ink pixels removed.
@discardableResult
public func removeLines(_ mask: inout GrayImage, settings: LineRemovalSettings) -> Int {
    let remover = LineRemover()
    let (w, h) = (mask.width, mask.height)
    return mask.pixels.withUnsafeMutableBufferPointer { remover.remove($0, width: w, height: h, settings: settings) }
}

/// Whether ink continues straight through (x, y) of a `w x h` mask: along the row band
/// y-1...y+1 (or the column band, for vertical lines), at least 3/4 of the positions within
/// `reach` on either side hold ink. A long path can wander off a line into a digit touching it
/// and back; this keeps such excursions, since a digit's stroke leaves the line's band.
/// The plain statement of the rule: the pipeline slides a window of band counts down the mask
/// (`straightNeed`, `slideStraightnessWindow`), and a test checks that the two agree.
@inline(__always)
func straightAcross(_ mask: UnsafeMutablePointer<UInt8>, _ w: Int, _ h: Int, _ x: Int, _ y: Int,
                            vertical: Bool, reach: Int) -> Bool {
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

/// `straightAcross(mask, w, h, x, y, vertical: true, reach:)` for a whole row at once: the
/// rule holds at (x, y) when `window[x]`, the number of rows within `reach` of y (clipped to the
/// mask) whose band (`band[i]` = OR of the cell and its clipped left and right neighbours) holds
/// ink at x, is at least `straightNeed(y, ...)`. The window slides one row at a time
/// (`slideStraightnessWindow`), so each test is O(1) instead of a loop over 2 * reach + 1 rows.
@inline(__always)
func straightNeed(_ y: Int, height h: Int, reach: Int) -> UInt8 {
    let total = min(h - 1, y + reach) - max(0, y - reach) + 1
    // covered * 4 >= total * 3  <=>  covered >= ceil(3 * total / 4)
    return UInt8(truncatingIfNeeded: (3 * total + 3) / 4)
}

/// Sets `window` (`w` counts) to the band rows around the bottom row, `h - 1` (see `straightNeed`).
@inline(__always)
func startStraightnessWindow(_ window: UnsafeMutablePointer<UInt8>, band: UnsafePointer<UInt8>, _ w: Int, _ h: Int, reach: Int) {
    window.update(repeating: 0, count: w)
    for yy in max(0, h - 1 - reach)..<h {
        let r = band + yy * w
        for x in 0..<w { window[x] &+= r[x] != 0 ? 1 : 0 }
    }
}

/// Moves `window` from the rows around `y` to those around `y - 1`.
@inline(__always)
func slideStraightnessWindow(_ window: UnsafeMutablePointer<UInt8>, band: UnsafePointer<UInt8>, _ w: Int, _ h: Int, y: Int, reach: Int) {
    let enter = y - 1 - reach, leave = y + reach
    if enter >= 0 {
        let r = band + enter * w
        for x in 0..<w { window[x] &+= r[x] != 0 ? 1 : 0 }
    }
    if leave <= h - 1 {
        let r = band + leave * w
        for x in 0..<w { window[x] &-= r[x] != 0 ? 1 : 0 }
    }
}

/// Marks (`marks[i] |= bit`) the ink cells of a row-major `width x height` mask that lie on a
/// path of at least `long` cells advancing one row per step (8-connected through ink; straight
/// down through background at `gapCost` per cell) and pass `straightAcross`. `forward` holds
/// `width * height`, the rows `width` values each; `band` `width * height` bytes and `window`
/// `width` bytes are scratch.
/// Path lengths never exceed the number of rows, so with fewer than 32767 rows they are
/// counted in Int16 (signed 16-bit max and compare vectorise on baseline x86-64; unsigned
/// ones do not), otherwise in UInt16; the values are the same either way.
private func markVerticalPaths(_ p: UnsafeMutablePointer<UInt8>, width w: Int, height h: Int, long: Int,
                               gapCost: UInt16, forward fwd: UnsafeMutablePointer<UInt16>,
                               rowA a: UnsafeMutablePointer<UInt16>, rowB b: UnsafeMutablePointer<UInt16>,
                               marks: UnsafeMutablePointer<UInt8>, bit: UInt8, band: UnsafeMutablePointer<UInt8>,
                               window: UnsafeMutablePointer<UInt8>) {
    if h < Int(Int16.max) {
        let n = w * h
        fwd.withMemoryRebound(to: Int16.self, capacity: n) { f in
            a.withMemoryRebound(to: Int16.self, capacity: w) { ra in
                b.withMemoryRebound(to: Int16.self, capacity: w) { rb in
                    markVerticalPathsIn(p, width: w, height: h, long: long, gapCost: Int16(gapCost), forward: f,
                                      rowA: ra, rowB: rb, marks: marks, bit: bit, band: band, window: window)
                }
            }
        }
    } else {
        markVerticalPathsIn(p, width: w, height: h, long: long, gapCost: gapCost, forward: fwd,
                          rowA: a, rowB: b, marks: marks, bit: bit, band: band, window: window)
    }
}

@inline(__always)
private func markVerticalPathsIn<T: FixedWidthInteger>(_ p: UnsafeMutablePointer<UInt8>, width w: Int, height h: Int, long: Int,
                               gapCost: T, forward fwd: UnsafeMutablePointer<T>,
                               rowA a0: UnsafeMutablePointer<T>, rowB b0: UnsafeMutablePointer<T>,
                               marks: UnsafeMutablePointer<UInt8>, bit: UInt8, band: UnsafeMutablePointer<UInt8>,
                               window: UnsafeMutablePointer<UInt8>) {
    guard w >= 2, h >= 1 else { return }
    var a = a0, b = b0
    let reach = 4
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
    // (b[x] - 1 is the path below, exclusive; here[x] the path above, inclusive) and that
    // passes the straightness rule is on a line. Branch-free, so it vectorises.
    let limit = Int32(clamping: long + 1)
    startStraightnessWindow(window, band: band, w, h, reach: reach)
    for x in 0..<w { a[x] = 0 }
    for y in stride(from: h - 1, through: 0, by: -1) {
        let row = p + y * w, here = fwd + y * w, out = marks + y * w
        b[0] = step(row[0] != 0, a[0], max(a[0], a[1]))
        for x in 1..<(w - 1) { b[x] = step(row[x] != 0, a[x], max(a[x], max(a[x - 1], a[x + 1]))) }
        b[w - 1] = step(row[w - 1] != 0, a[w - 1], max(a[w - 1], a[w - 2]))
        let need = straightNeed(y, height: h, reach: reach)
        var x = 0
        if T.self == Int16.self && h < 16383 {
            // 16 cells at a time; the two path lengths add up to at most 2h < 32767
            x = markRowInt16(here: UnsafeRawPointer(here), below: UnsafeRawPointer(b), window: window, row: row, out: out,
                             width: w, limit: Int16(clamping: limit), need: need, bit: bit)
        }
        while x < w {
            let onLine = Int32(truncatingIfNeeded: here[x]) &+ Int32(truncatingIfNeeded: b[x]) >= limit && window[x] >= need
            out[x] |= onLine && row[x] != 0 ? bit : 0
            x += 1
        }
        if y > 0 { slideStraightnessWindow(window, band: band, w, h, y: y, reach: reach) }
        swap(&a, &b)
    }
}

/// `out[x] |= bit` where `row[x]` is ink, `here[x] + below[x] >= limit` (Int16 path lengths,
/// their sum below 32767) and `window[x] >= need`, for the whole groups of 16 cells of a row;
/// returns where it stopped.
@inline(__always)
private func markRowInt16(here: UnsafeRawPointer, below: UnsafeRawPointer, window: UnsafeMutablePointer<UInt8>,
                          row: UnsafeMutablePointer<UInt8>, out: UnsafeMutablePointer<UInt8>, width w: Int,
                          limit: Int16, need: UInt8, bit: UInt8) -> Int {
    let lim = SIMD16<Int16>(repeating: limit), needs = SIMD16<UInt8>(repeating: need)
    let bits = SIMD16<UInt8>(repeating: bit), none = SIMD16<UInt8>(repeating: 0)
    var x = 0
    while x + 16 <= w {
        let length = here.loadUnaligned(fromByteOffset: 2 * x, as: SIMD16<Int16>.self)
            &+ below.loadUnaligned(fromByteOffset: 2 * x, as: SIMD16<Int16>.self)
        let long = SIMD16<UInt8>(truncatingIfNeeded: SIMD16<Int16>(repeating: 0).replacing(with: -1, where: length .>= lim))
        let ink = UnsafeRawPointer(row + x).loadUnaligned(as: SIMD16<UInt8>.self)
        let straight = UnsafeRawPointer(window + x).loadUnaligned(as: SIMD16<UInt8>.self)
        let add = none.replacing(with: bits, where: (ink .!= none) .& (straight .>= needs)) & long
        let o = UnsafeMutableRawPointer(out + x)
        o.storeBytes(of: o.loadUnaligned(as: SIMD16<UInt8>.self) | add, as: SIMD16<UInt8>.self)
        x += 16
    }
    return x
}

/// The grayscale picture a mask was thresholded from, to tell ink from ruling by how dark it is:
/// pen ink is usually much darker than the printed lines it is written on (and chalk much
/// lighter than the lines on a board), so a stroke that runs along a line or crosses it
/// stands out from the line even where it is no thicker.
public struct LineInkContrast {
    /// `width * height` gray levels, the same size as the mask.
    public var gray: UnsafeBufferPointer<UInt8>
    /// `(width + 1) * (height + 1)` sums (see `integralImage`) of `gray`.
    public var integral: UnsafeBufferPointer<UInt32>
    /// Half the side of the window the local mean is taken over.
    public var radius: Int
    /// Ink darker than the ground (pen on paper) or lighter (chalk on a board).
    public var darkInk: Bool
    /// A line pixel is kept when its contrast (its difference from the local mean, relative to
    /// that mean, so shadows do not change it) is at least this many times the lines' median
    /// contrast (and a clear step above it).
    public var keepRatio: Float = 1.6

    public init(gray: UnsafeBufferPointer<UInt8>, integral: UnsafeBufferPointer<UInt32>, radius: Int, darkInk: Bool) {
        self.gray = gray; self.integral = integral; self.radius = radius; self.darkInk = darkInk
    }

    /// The window around (x, y): its sum and pixel count. (`LineRemover` takes one per 8x8
    /// tile: the window is several tiles wide and its mean changes little across one.)
    @inline(__always) func window(_ x: Int, _ y: Int, width w: Int, height h: Int) -> (sum: Int, count: Int) {
        let x0 = max(0, x - radius), x1 = min(w, x + radius + 1)
        let y0 = max(0, y - radius), y1 = min(h, y + radius + 1)
        let stride = w + 1
        let sum = Int(integral[y1 * stride + x1] &- integral[y1 * stride + x0] &- integral[y0 * stride + x1] &+ integral[y0 * stride + x0])
        return (sum, (x1 - x0) * (y1 - y0))
    }

}

/// `out[x * rows + y] = src[y * columns + x]` (or `|=` with `merging`): 8x8 blocks of bytes
/// transposed in registers (three rounds of swapping halves of 2x2 blocks, as 64-bit words),
/// the edges that do not fill a block one byte at a time.
private func transpose(_ src: UnsafeMutablePointer<UInt8>, rows: Int, columns: Int, into out: UnsafeMutablePointer<UInt8>,
                       merging: Bool = false) {
    if merging {
        transposeBlocks(src, rows: rows, columns: columns, into: out, merging: true)
    } else {
        transposeBlocks(src, rows: rows, columns: columns, into: out, merging: false)
    }
}

@inline(__always)
private func transposeBlocks(_ src: UnsafeMutablePointer<UInt8>, rows: Int, columns: Int, into out: UnsafeMutablePointer<UInt8>,
                             merging: Bool) {
    @inline(__always) func swapHalves(_ a: inout UInt64, _ b: inout UInt64, _ shift: UInt64, _ mask: UInt64) {
        let t = ((a >> shift) ^ b) & mask
        b ^= t
        a ^= t << shift
    }
    let fullRows = rows & ~7, fullColumns = columns & ~7
    let s = UnsafeRawPointer(src), o = UnsafeMutableRawPointer(out)
    var y0 = 0
    while y0 < fullRows {
        var x0 = 0
        while x0 < fullColumns {
            let at = y0 * columns + x0
            var r0 = s.loadUnaligned(fromByteOffset: at, as: UInt64.self)
            var r1 = s.loadUnaligned(fromByteOffset: at + columns, as: UInt64.self)
            var r2 = s.loadUnaligned(fromByteOffset: at + 2 * columns, as: UInt64.self)
            var r3 = s.loadUnaligned(fromByteOffset: at + 3 * columns, as: UInt64.self)
            var r4 = s.loadUnaligned(fromByteOffset: at + 4 * columns, as: UInt64.self)
            var r5 = s.loadUnaligned(fromByteOffset: at + 5 * columns, as: UInt64.self)
            var r6 = s.loadUnaligned(fromByteOffset: at + 6 * columns, as: UInt64.self)
            var r7 = s.loadUnaligned(fromByteOffset: at + 7 * columns, as: UInt64.self)
            let m1: UInt64 = 0x00FF_00FF_00FF_00FF, m2: UInt64 = 0x0000_FFFF_0000_FFFF, m4: UInt64 = 0x0000_0000_FFFF_FFFF
            swapHalves(&r0, &r1, 8, m1); swapHalves(&r2, &r3, 8, m1); swapHalves(&r4, &r5, 8, m1); swapHalves(&r6, &r7, 8, m1)
            swapHalves(&r0, &r2, 16, m2); swapHalves(&r1, &r3, 16, m2); swapHalves(&r4, &r6, 16, m2); swapHalves(&r5, &r7, 16, m2)
            swapHalves(&r0, &r4, 32, m4); swapHalves(&r1, &r5, 32, m4); swapHalves(&r2, &r6, 32, m4); swapHalves(&r3, &r7, 32, m4)
            // r_j is column x0 + j, rows y0 ..< y0 + 8
            let to = x0 * rows + y0
            @inline(__always) func put(_ v: UInt64, _ j: Int) {
                let offset = to + j * rows
                if merging {
                    o.storeBytes(of: o.loadUnaligned(fromByteOffset: offset, as: UInt64.self) | v, toByteOffset: offset, as: UInt64.self)
                } else {
                    o.storeBytes(of: v, toByteOffset: offset, as: UInt64.self)
                }
            }
            put(r0, 0); put(r1, 1); put(r2, 2); put(r3, 3); put(r4, 4); put(r5, 5); put(r6, 6); put(r7, 7)
            x0 += 8
        }
        y0 += 8
    }
    // right edge (columns past the last full block) of the full rows, then the bottom rows
    for y in 0..<fullRows {
        for x in fullColumns..<columns {
            if merging { out[x * rows + y] |= src[y * columns + x] } else { out[x * rows + y] = src[y * columns + x] }
        }
    }
    for y in fullRows..<rows {
        for x in 0..<columns {
            if merging { out[x * rows + y] |= src[y * columns + x] } else { out[x * rows + y] = src[y * columns + x] }
        }
    }
}

/// A strong pixel, or one already marked for removal in this pass (see `LineRemover`).
/// (v + 1 is 0 or 2 exactly for 255 and 1: one compare, no branch.)
@inline(__always) private func strong(_ v: UInt8) -> Bool { (v &+ 1) & 0xFD == 0 }

/// A buffer kept between frames, grown (never shrunk) on demand; contents unspecified after growing.
private struct Scratch<T> {
    private(set) var pointer: UnsafeMutablePointer<T>
    private(set) var capacity = 0
    init() { pointer = .allocate(capacity: 1) }
    mutating func reserve(_ n: Int, zero: T) {
        guard n > capacity else { return }
        pointer.deallocate()
        pointer = .allocate(capacity: n)
        pointer.initialize(repeating: zero, count: n)
        capacity = n
    }
    func free() { pointer.deallocate() }
}

/// The local mean of the picture around pixel (x, y): the window mean at the centre of its 8x8
/// tile, taken once per tile (the window is several tiles wide) and cached in `tiles`
/// (-1 = not yet taken).
private struct TileMeans {
    let contrast: LineInkContrast
    let tiles: UnsafeMutablePointer<Int32>
    let tilesAcross: Int, width: Int, height: Int

    @inline(__always) func mean(_ x: Int, _ y: Int) -> Int {
        let i = (y >> 3) * tilesAcross + (x >> 3)
        var v = tiles[i]
        if v < 0 {
            let (sum, count) = contrast.window(min(width - 1, (x & ~7) + 4), min(height - 1, (y & ~7) + 4), width: width, height: height)
            v = Int32(sum / max(1, count))
            tiles[i] = v
        }
        return Int(v)
    }

    /// Contrast of gray value `g` against mean `mean`, relative to it, in 1/64ths, 0...255.
    @inline(__always) func level(_ g: UInt8, _ mean: Int) -> Int {
        let d = contrast.darkInk ? mean - Int(g) : Int(g) - mean
        return d <= 0 || mean <= 0 ? 0 : min(255, d * 64 / mean)
    }
}

/// The cells of a mask that line removal found on a line: one mark per 2x2 block of mask pixels
/// (bit 1 on a horizontal line, bit 2 on a vertical one), borrowed from the `LineRemover`.
public struct LineMarks {
    let marks: UnsafePointer<UInt8>
    public let pooledWidth: Int, pooledHeight: Int

    /// The marks of mask pixel (x, y) (the last row and column of an odd-sized mask belong to
    /// the cells before them, as in `remove`).
    @inline(__always) public func bits(_ x: Int, _ y: Int) -> UInt8 {
        marks[min(y >> 1, pooledHeight - 1) * pooledWidth + min(x >> 1, pooledWidth - 1)]
    }
}

/// The lines line removal found in a mask, to paint them over in the picture. `mask` is the
/// mask after removal (what it kept on a line is a stroke); `scale` is picture pixels per mask
/// pixel.
public struct RemovedLines {
    public let marks: LineMarks
    public let mask: GrayImage
    public let scale: Int
    public init(marks: LineMarks, mask: GrayImage, scale: Int) {
        self.marks = marks; self.mask = mask; self.scale = max(1, scale)
    }
}

/// A copy of `region` of `image` with the removed lines in it painted over: across each run of
/// pixels on a line that the mask holds no ink at, the gray levels are drawn straight from the
/// pixel before the run to the pixel after it, down the columns for horizontal lines, then along
/// the rows for vertical ones. Paper on both sides gives paper. What line removal kept on a line
/// (a stroke along it, a stroke crossing it) stays as it is. (Painting crossings too, from the
/// stroke on both sides, painting every page: synth seed 1 F1 0.9705 -> 0.9689, faint pages
/// 0.8457 -> 0.8476.) nil when no removed line touches the region (nothing to paint).
public func paintOverLines(_ image: GrayImage, region: Box, lines: RemovedLines) -> GrayImage? {
    let s = lines.scale, mask = lines.mask
    let wx0 = region.x / s, wy0 = region.y / s
    let wx1 = min(mask.width, (region.maxX - 1) / s + 1), wy1 = min(mask.height, (region.maxY - 1) / s + 1)
    guard region.width > 0, region.height > 0, wx1 > wx0, wy1 > wy0 else { return nil }
    let fw = wx1 - wx0, fh = wy1 - wy0
    // Per mask pixel of the region: its line bits where the mask holds no ink.
    var flags = [UInt8](repeating: 0, count: fw * fh)
    var any: UInt8 = 0
    mask.pixels.withUnsafeBufferPointer { m in
        for y in 0..<fh {
            let row = (wy0 + y) * mask.width
            for x in 0..<fw {
                let bits = m[row + wx0 + x] == 0 ? lines.marks.bits(wx0 + x, wy0 + y) : 0
                flags[y * fw + x] = bits
                any |= bits
            }
        }
    }
    guard any != 0 else { return nil }
    var patch = GrayImage(width: region.width, height: region.height)
    let pw = region.width, ph = region.height
    image.pixels.withUnsafeBufferPointer { src in
        patch.pixels.withUnsafeMutableBufferPointer { dst in
            for y in 0..<ph {
                let from = (region.y + y) * image.width + region.x
                for x in 0..<pw { dst[y * pw + x] = src[from + x] }
            }
            // Down each column of flags (horizontal lines) or along each row (vertical ones):
            // runs [i, j) of `bit`, painted over in the patch's pixels [a, b) across the line
            // and [c0, c1) along it.
            func paint(bit: UInt8, down: Bool) {
                let outer = down ? fw : fh, inner = down ? fh : fw
                let span = down ? ph : pw, origin = down ? region.y : region.x, start = down ? wy0 : wx0
                let sideSpan = down ? pw : ph, sideOrigin = down ? region.x : region.y, sideStart = down ? wx0 : wy0
                for o in 0..<outer {
                    @inline(__always) func flag(_ k: Int) -> UInt8 { down ? flags[k * fw + o] : flags[o * fw + k] }
                    var i = 0
                    while i < inner {
                        if flag(i) & bit == 0 { i += 1; continue }
                        var j = i + 1
                        while j < inner && flag(j) & bit != 0 { j += 1 }
                        defer { i = j }
                        let a = max(0, (start + i) * s - origin), b = min(span, (start + j) * s - origin)
                        let c0 = max(0, (sideStart + o) * s - sideOrigin), c1 = min(sideSpan, (sideStart + o + 1) * s - sideOrigin)
                        guard a < b, c0 < c1, a > 0 || b < span else { continue }
                        for c in c0..<c1 {
                            @inline(__always) func at(_ k: Int) -> Int { down ? k * pw + c : c * pw + k }
                            let before = Float(dst[at(a > 0 ? a - 1 : b)])
                            let after = b < span ? Float(dst[at(b)]) : before
                            let steps = Float(b - a + 1)
                            for k in a..<b { dst[at(k)] = UInt8((before + (after - before) * Float(k - a + 1) / steps).rounded()) }
                        }
                    }
                }
            }
            paint(bit: 1, down: true)
            paint(bit: 2, down: false)
        }
    }
    return patch
}

/// Line removal with buffers kept between frames (one per thread).
///
/// Lines are found on a copy of the mask pooled 2x2 (any ink in the block counts), a quarter
/// of the pixels, which also bridges one-pixel gaps; pixels of the full mask in a block on a
/// line are then removed if the ink across the line is thin there.
public final class LineRemover {
    private var pooled = Scratch<UInt8>()       // 2x2 OR of the mask
    private var forward = Scratch<UInt16>()     // per pooled cell: longest monotone path ending here
    private var marks = Scratch<UInt8>()        // per pooled cell: 1 = on a horizontal line, 2 = vertical
    private var transposed = Scratch<UInt8>(), transposedMarks = Scratch<UInt8>()
    private var lineA = Scratch<UInt16>(), lineB = Scratch<UInt16>()
    private var band = Scratch<UInt8>()         // per pooled cell: see `markVerticalPaths`
    private var window = Scratch<UInt8>()       // per pooled column: see `markVerticalPaths`
    private var cells = Scratch<Int32>()        // marked pooled cells: (row, column) pairs, in order
    private var thickness = Scratch<UInt16>()   // per mask pixel on a line: `across` (see `remove`)
    private var levels = Scratch<Int>()         // contrast histogram by thickness (see `remove`)
    private var tileMeans = Scratch<Int32>()    // window mean per 8x8 tile, -1 = not yet taken
    private var runs = Scratch<UInt16>()         // per pooled cell: marks above it in its column band (see `keepLinesThatRunOn`)

    /// Where the last `remove` found lines (nil if it found none). Valid until the next
    /// `remove`, which reuses the buffer.
    public private(set) var lastLines: LineMarks?

    public init() {}

    deinit {
        pooled.free(); forward.free(); marks.free(); transposed.free(); transposedMarks.free()
        lineA.free(); lineB.free(); band.free(); window.free(); cells.free(); thickness.free()
        levels.free(); tileMeans.free(); runs.free()
    }

    /// `keepWeakInk`: leave weak pixels that are not on a line in the mask (for hysteresis
    /// labelling) instead of clearing them all. `contrast`: the picture behind the mask; line
    /// pixels much darker (or, for light ink, lighter) than the lines are typically are ink on
    /// the line and kept.
    public func remove(_ mask: UnsafeMutableBufferPointer<UInt8>, width w: Int, height h: Int,
                       settings: LineRemovalSettings, keepWeakInk: Bool = false,
                       contrast: LineInkContrast? = nil) -> Int {
        precondition(mask.count >= w * h)
        let n = w * h
        let pw = w / 2, ph = h / 2, pn = pw * ph
        let m = mask.baseAddress!
        lastLines = nil
        guard pw > 2, ph > 2 else {
            if !keepWeakInk { clearWeakInk(m, count: n) }
            return 0
        }
        pooled.reserve(pn, zero: 0); marks.reserve(pn, zero: 0)
        transposed.reserve(pn, zero: 0); transposedMarks.reserve(pn, zero: 0)
        forward.reserve(pn, zero: 0); band.reserve(pn, zero: 0)
        cells.reserve(2 * pn, zero: 0)
        runs.reserve(pn + max(pw, ph), zero: 0)
        thickness.reserve(n, zero: 0)
        let side = max(pw, ph)
        lineA.reserve(side + 2, zero: 0); lineB.reserve(side + 2, zero: 0); window.reserve(side + 2, zero: 0)
        let thin = settings.maximumThickness
        var means: TileMeans?
        if let contrast {
            let tilesAcross = (w + 7) / 8, tileCount = tilesAcross * ((h + 7) / 8)
            tileMeans.reserve(tileCount, zero: -1)
            tileMeans.pointer.update(repeating: -1, count: tileCount)
            levels.reserve((thin + 2) * 256, zero: 0)
            means = TileMeans(contrast: contrast, tiles: tileMeans.pointer, tilesAcross: tilesAcross, width: w, height: h)
        }
        // Lengths in pooled cells; a background cell on a path costs 2 cells (4 pixels).
        let longH = (settings.minimumHorizontalLength + 1) / 2, longV = (settings.minimumVerticalLength + 1) / 2
        let gapCost = UInt16(2)
        let p = pooled.pointer, mark = marks.pointer
        poolMask(m, width: w, pooledWidth: pw, pooledHeight: ph, into: p)
        mark.update(repeating: 0, count: pn)

        // Vertical lines on the pooled mask as it is; horizontal lines as vertical lines of
        // its transpose, so both sweeps read memory in order.
        markVerticalPaths(p, width: pw, height: ph, long: longV, gapCost: gapCost,
                          forward: forward.pointer, rowA: lineA.pointer, rowB: lineB.pointer, marks: mark, bit: 2,
                          band: band.pointer, window: window.pointer)
        keepLinesThatRunOn(mark, width: pw, height: ph, bit: 2, reach: settings.runOnReach, percent: settings.runOnPercent, sums: runs.pointer)
        let pt = transposed.pointer, mt = transposedMarks.pointer
        transpose(p, rows: ph, columns: pw, into: pt)
        mt.update(repeating: 0, count: pn)
        markVerticalPaths(pt, width: ph, height: pw, long: longH, gapCost: gapCost,
                          forward: forward.pointer, rowA: lineA.pointer, rowB: lineB.pointer, marks: mt, bit: 1,
                          band: band.pointer, window: window.pointer)
        keepLinesThatRunOn(mt, width: ph, height: pw, bit: 1, reach: settings.runOnReach, percent: settings.runOnPercent, sums: runs.pointer)
        transpose(mt, rows: pw, columns: ph, into: mark, merging: true)

        let cellCount = listMarkedCells(mark, pooledWidth: pw, pooledHeight: ph, into: cells.pointer)
        if cellCount > 0 { lastLines = LineMarks(marks: UnsafePointer(mark), pooledWidth: pw, pooledHeight: ph) }
        // The lines' own thickness: the median thickness across of all marked ink (mostly line
        // pixels). Strokes thicker than the lines (by more than a pixel) are kept even where
        // they run along a line.
        let (cut, keepLevel) = withUnsafeTemporaryAllocation(of: Int.self, capacity: thin + 2) { hb in
            let histogram = hb.baseAddress!
            histogram.initialize(repeating: 0, count: thin + 2)
            let markedInk = measureThickness(m, width: w, height: h, pooledWidth: pw, pooledHeight: ph, marks: mark,
                                             cells: cells.pointer, cellCount: cellCount, thin: thin,
                                             thickness: thickness.pointer, histogram: histogram,
                                             levels: means == nil ? nil : levels.pointer, means: means)
            var median = 0, seen = 0
            while median <= thin && seen * 2 < markedInk { seen += histogram[median]; median += 1 }
            let cut = min(thin, max(1, median))   // median + 1: the loop ends one past it
            // The lines' contrast: the median level of the pixels thin enough to go. Pixels
            // well above it are ink on the line (see `LineInkContrast`); 256 keeps everything
            // to the thickness rule.
            var keepLevel = 256
            if let c = contrast {
                let levelHist = levels.pointer
                var count = 0
                for t in 0...cut { for l in 0..<256 { count += levelHist[t * 256 + l] } }
                if count >= 8 {
                    var seenLevels = 0, lineLevel = 0
                    while lineLevel < 255 {
                        for t in 0...cut { seenLevels += levelHist[t * 256 + lineLevel] }
                        if seenLevels * 2 >= count { break }
                        lineLevel += 1
                    }
                    keepLevel = max(Int(Float(lineLevel) * c.keepRatio), lineLevel + 6)
                }
            }
            return (cut, keepLevel)
        }
        let removed = removeMarked(m, width: w, height: h, pooledWidth: pw, pooledHeight: ph,
                                   cells: cells.pointer, cellCount: cellCount, thickness: thickness.pointer,
                                   cut: cut, keepLevel: keepLevel, means: means)
        if !keepWeakInk { clearWeakInk(m, count: n) }
        return removed
    }
}

/// Clears `bit` (a vertical line's mark, see `markVerticalPaths`) from the cells of a row-major
/// `width x height` mark array where the marks do not run on: fewer than `percent` % of the
/// rows within `reach` of the cell (clipped at the edges) hold the bit in the cell's column or
/// the columns beside it. A line runs on through its cells; a path that strayed from the lines
/// into a digit's stroke (in a dense grid the paths fan out: each line they cross lets them
/// step sideways by its thickness) is marked only along that stroke. `sums` holds
/// `(height + 1) * width` values; `height` must stay below 65536.
@inline(never)
func keepLinesThatRunOn(_ marks: UnsafeMutablePointer<UInt8>, width w: Int, height h: Int, bit: UInt8,
                        reach: Int, percent: Int, sums: UnsafeMutablePointer<UInt16>) {
    guard w >= 2, h >= 1, h < 65536, percent > 0 else { return }
    let shift = UInt8(bit.trailingZeroBitCount)
    // sums[y * w + x]: rows above y whose band x-1...x+1 holds the bit. Plain integer
    // arithmetic on the bytes (the bit shifted down to 0 or 1), which LLVM vectorises.
    sums.update(repeating: 0, count: w)
    for y in 0..<h {
        let row = marks + y * w, above = sums + y * w, here = sums + (y + 1) * w
        here[0] = above[0] &+ UInt16(((row[0] | row[1]) & bit) >> shift)
        for x in 1..<(w - 1) { here[x] = above[x] &+ UInt16(((row[x - 1] | row[x] | row[x + 1]) & bit) >> shift) }
        here[w - 1] = above[w - 1] &+ UInt16(((row[w - 2] | row[w - 1]) & bit) >> shift)
    }
    let keep = ~bit
    for y in 0..<h {
        let y0 = max(0, y - reach), y1 = min(h, y + reach + 1)
        let need = UInt16((percent * (y1 - y0) + 99) / 100)
        let row = marks + y * w, top = sums + y0 * w, bottom = sums + y1 * w
        // Branch-free, so it vectorises: the bit goes where the support is short.
        for x in 0..<w { row[x] &= bottom[x] &- top[x] < need ? keep : 0xFF }
    }
}

/// Every value but 255 becomes 0.
private func clearWeakInk(_ m: UnsafeMutablePointer<UInt8>, count n: Int) {
    for i in 0..<n { m[i] = m[i] == 255 ? 255 : 0 }
}

/// `out[py * pw + px]` = OR of the 2x2 block at (2px, 2py) of the `w`-wide mask (odd last rows
/// and columns are left out: they belong to the block before them when lines are removed).
@inline(never)
private func poolMask(_ m: UnsafeMutablePointer<UInt8>, width w: Int, pooledWidth pw: Int, pooledHeight ph: Int,
                      into p: UnsafeMutablePointer<UInt8>) {
    for py in 0..<ph {
        let r0 = UnsafeRawPointer(m + 2 * py * w), r1 = r0 + w
        let out = p + py * pw
        var px = 0
        while px + 16 <= pw {
            // byte pairs as 16-bit lanes: the OR of a lane's two bytes is its cell (no byte
            // shuffles, which Swift's evenHalf/oddHalf do one lane at a time through memory)
            let v = r0.loadUnaligned(fromByteOffset: 2 * px, as: SIMD16<UInt16>.self)
                | r1.loadUnaligned(fromByteOffset: 2 * px, as: SIMD16<UInt16>.self)
            UnsafeMutableRawPointer(out + px).storeBytes(of: SIMD16<UInt8>(truncatingIfNeeded: v | (v &>> 8)), as: SIMD16<UInt8>.self)
            px += 16
        }
        let q0 = r0.assumingMemoryBound(to: UInt8.self), q1 = r1.assumingMemoryBound(to: UInt8.self)
        while px < pw {
            out[px] = q0[2 * px] | q0[2 * px + 1] | q1[2 * px] | q1[2 * px + 1]
            px += 1
        }
    }
}

/// The marked cells of the pooled mask in row-major order, as (row, column) pairs; their count.
/// Eight cells are tested at a time: most of the mask is not on a line.
@inline(never)
private func listMarkedCells(_ mark: UnsafeMutablePointer<UInt8>, pooledWidth pw: Int, pooledHeight ph: Int,
                             into cells: UnsafeMutablePointer<Int32>) -> Int {
    var count = 0
    for py in 0..<ph {
        let row = mark + py * pw, r = UnsafeRawPointer(row)
        var px = 0
        while px + 8 <= pw {
            var bits = r.loadUnaligned(fromByteOffset: px, as: UInt64.self)
            while bits != 0 {
                let j = bits.trailingZeroBitCount >> 3
                cells[2 * count] = Int32(truncatingIfNeeded: py); cells[2 * count + 1] = Int32(truncatingIfNeeded: px + j)
                count += 1
                bits &= ~(UInt64(0xFF) << UInt64(8 * j))
            }
            px += 8
        }
        while px < pw {
            if row[px] != 0 {
                cells[2 * count] = Int32(truncatingIfNeeded: py); cells[2 * count + 1] = Int32(truncatingIfNeeded: px)
                count += 1
            }
            px += 1
        }
    }
    return count
}

/// Thickness across the line at each strong pixel of the marked cells: the shorter of the
/// applicable runs of strong pixels through it (vertical for horizontal lines, horizontal for
/// vertical ones), counted up to thin + 1, kept in `thickness` and counted in `histogram`.
/// With `means`, the contrast levels of every eighth pixel thin enough to be removed at all go
/// into `levels` by thickness (row t: pixels t thick across). Returns the number of pixels
/// measured. The last row or column of an odd-sized mask belongs to the cell before it.
@inline(never)
private func measureThickness(_ m: UnsafeMutablePointer<UInt8>, width w: Int, height h: Int,
                              pooledWidth pw: Int, pooledHeight ph: Int, marks mark: UnsafeMutablePointer<UInt8>,
                              cells: UnsafeMutablePointer<Int32>, cellCount: Int, thin: Int,
                              thickness: UnsafeMutablePointer<UInt16>, histogram: UnsafeMutablePointer<Int>,
                              levels: UnsafeMutablePointer<Int>?, means: TileMeans?) -> Int {
    // Runs are counted over a fixed `thin` steps each way, a step counting while every pixel
    // so far was strong (written branch-free, though LLVM turns it back into a loop that
    // exits early; `across3` below is the fast case). With u and d the runs on either side,
    // the original's capped loops give min(1 + u + d, thin + 1).
    @inline(__always) func run(_ q: UnsafeMutablePointer<UInt8>, step: Int, available: Int) -> Int {
        var alive = 1, count = 0
        for i in 1...max(1, thin) {
            let inside = i <= available
            let v = q[inside ? i * step : 0]
            alive &= inside && strong(v) ? 1 : 0
            count += alive
        }
        return count
    }
    @inline(__always) func bit(_ v: UInt8) -> Int { strong(v) ? 1 : 0 }
    // thin == 3 (the default up to 720-pixel working images), away from the edges: the runs
    // unrolled, three loads each way and no branch.
    @inline(__always) func run3(_ q: UnsafeMutablePointer<UInt8>, _ step: Int) -> Int {
        let a = bit(q[step]), b = a & bit(q[2 * step]), c = b & bit(q[3 * step])
        return a + b + c
    }
    @inline(__always) func across3(_ x: Int, _ y: Int, _ k: UInt8) -> Int {
        let q = m + (y * w + x)
        var best = 4
        if k & 1 != 0 { best = min(best, 1 + run3(q, -w) + run3(q, w)) }
        if k & 2 != 0 { best = min(best, 1 + run3(q, -1) + run3(q, 1)) }
        return best
    }
    @inline(__always) func across(_ x: Int, _ y: Int, _ k: UInt8) -> Int {
        if thin == 3 && x >= 3 && x + 3 < w && y >= 3 && y + 3 < h { return across3(x, y, k) }
        var best = thin + 1
        let q = m + (y * w + x)
        if k & 1 != 0 {
            best = min(best, 1 + run(q, step: -w, available: y) + run(q, step: w, available: h - 1 - y))
        }
        if k & 2 != 0 {
            best = min(best, 1 + run(q, step: -1, available: x) + run(q, step: 1, available: w - 1 - x))
        }
        return best
    }
    var sampled = 0, markedInk = 0
    if let levels { levels.update(repeating: 0, count: (thin + 2) * 256) }
    for c in 0..<cellCount {
        let py = Int(cells[2 * c]), px = Int(cells[2 * c + 1])
        let k = mark[py * pw + px]
        let y0 = 2 * py, y1 = py == ph - 1 ? h : y0 + 2
        let x0 = 2 * px, x1 = px == pw - 1 ? w : x0 + 2
        for y in y0..<y1 {
            for x in x0..<x1 where m[y * w + x] == 255 {
                let t = across(x, y, k)
                thickness[y * w + x] = UInt16(truncatingIfNeeded: min(t, 65535))
                histogram[t] += 1; markedInk += 1
                if let means, t <= thin {
                    if sampled & 7 == 0 {
                        levels![t * 256 + means.level(means.contrast.gray[y * w + x], means.mean(x, y))] += 1
                    }
                    sampled += 1
                }
            }
        }
    }
    return markedInk
}

/// Removal in the marked cells: weak ink goes; strong ink goes where it is no thicker across
/// than `cut` (as measured before anything changed) and, with `means`, its contrast is below
/// `keepLevel`. Returns the number of strong pixels removed.
@inline(never)
private func removeMarked(_ m: UnsafeMutablePointer<UInt8>, width w: Int, height h: Int,
                          pooledWidth pw: Int, pooledHeight ph: Int,
                          cells: UnsafeMutablePointer<Int32>, cellCount: Int, thickness: UnsafeMutablePointer<UInt16>,
                          cut: Int, keepLevel: Int, means: TileMeans?) -> Int {
    var removed = 0
    // Branch-free per pixel (the mix of background, weak and strong pixels in a cell does not
    // predict): a pixel is cleared unless it is strong and kept; strong removals and cleared
    // 1s (pixels marked in an earlier pass) count. `thickness` is read for every pixel but only
    // used for strong ones, which `measureThickness` filled.
    @inline(__always) func sweep(_ c: Int, keep: (Int, Int) -> Bool) {
        let py = Int(cells[2 * c]), px = Int(cells[2 * c + 1])
        let y0 = 2 * py, y1 = py == ph - 1 ? h : y0 + 2
        let x0 = 2 * px, x1 = px == pw - 1 ? w : x0 + 2
        for y in y0..<y1 {
            for x in x0..<x1 {
                let o = y * w + x
                let v = m[o]
                let go = v == 255 ? Int(thickness[o]) <= cut && !keep(o, x0) : true
                removed += (v == 255 && go ? 1 : 0) + (v == 1 ? 1 : 0)
                m[o] = go ? 0 : v
            }
        }
    }
    if keepLevel > 255 {
        for c in 0..<cellCount { sweep(c) { _, _ in false } }
    } else {
        // Kept: at least keepLevel, i.e. d * 64 >= keepLevel * mean, d = mean - gray (dark ink)
        let means = means!, gray = means.contrast.gray.baseAddress!
        let sign = means.contrast.darkInk ? 1 : -1
        for c in 0..<cellCount {
            let py = Int(cells[2 * c]), px = Int(cells[2 * c + 1])
            let mean = means.mean(2 * px, 2 * py), need = keepLevel * mean
            sweep(c) { o, _ in sign * (mean - Int(gray[o])) * 64 >= need }
        }
    }
    return removed
}
