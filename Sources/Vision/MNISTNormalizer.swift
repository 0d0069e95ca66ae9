import Imaging

/// Turns a box of a grayscale picture into a network input the way MNIST was made: ink
/// intensities from the gray pixels (not the binary mask, so strokes keep their soft edges),
/// fitted into a 20x20 box keeping the aspect ratio with area averaging (anti-aliasing), then
/// placed in a 28x28 field so that the centre of mass is at the centre.
///
/// Output: 784 floats row-major, 0 = background, 1 = full ink. Reuses its scratch buffers, so
/// one normaliser serves one thread.
public final class MNISTNormalizer {
    private var levels = [Float](repeating: 0, count: 0)
    private var horizontal = [Float](repeating: 0, count: 0)
    private var fitted = [Float](repeating: 0, count: 400)
    private var histogram = [Int](repeating: 0, count: 4 * 256)
    private var gateBuffer: [UInt8] = []

    /// Thicken strokes much thinner than MNIST's (a fine pen on a large digit); see `thickenIfThin`.
    public var thickenThinStrokes = true

    public init() {}

    /// Normalises `box` of `image` into `output` (784 floats). Returns the box tightened to the
    /// ink actually found (in `image` pixels), or nil if the box holds no ink at all.
    /// `padding` pixels around the box are searched for ink cut off by a coarse detection box.
    @discardableResult
    ///
    /// `gate`, if given, is the cleaned ink mask the box was found in (any non-zero = ink) and
    /// `gateScale` its input pixels per mask pixel: gray ink counts only where the mask, grown
    /// by one mask pixel, has ink. That keeps removed ruled lines, specks and paper texture
    /// out of the network's input while the strokes keep their gray-level edges.
    ///
    /// `lines`, if given (and no `gate`), are the lines line removal took out of the mask: they
    /// are painted over in a copy of the crop's neighbourhood first (see `paintOverLines`), so a
    /// printed line darker than the writing neither sets the ink level nor shows in the input.
    public func normalize(_ image: GrayImage, box: Box, polarity: InkPolarity, padding: Int = 0,
                          deskew: Bool = false, gate: GrayImage? = nil, gateScale: Int = 1,
                          lines: RemovedLines? = nil,
                          into output: UnsafeMutableBufferPointer<Float>) -> Box? {
        precondition(output.count >= 784)
        for i in 0..<784 { output[i] = 0 }
        let crop = clip(Box(x: box.x - padding, y: box.y - padding, width: box.width + 2 * padding,
                            height: box.height + 2 * padding), image)
        guard crop.width > 0, crop.height > 0 else { return nil }
        // Paper and ink levels come from a larger neighbourhood, so that a "1" filling its own
        // box still shows mostly paper around it.
        let margin = max(crop.height, crop.width) / 3 + 2
        let around = clip(Box(x: crop.x - margin, y: crop.y - margin, width: crop.width + 2 * margin,
                              height: crop.height + 2 * margin), image)
        if let lines, gate == nil, let patch = paintOverLines(image, region: around, lines: lines) {
            let inPatch = Box(x: box.x - around.x, y: box.y - around.y, width: box.width, height: box.height)
            return normalize(patch, box: inPatch, polarity: polarity, padding: padding, deskew: deskew, into: output)
                .map { Box(x: $0.x + around.x, y: $0.y + around.y, width: $0.width, height: $0.height) }
        }

        // The gate over the crop, at mask resolution, dilated by one mask pixel.
        let gs = max(1, gateScale)
        let gx0 = crop.x / gs, gy0 = crop.y / gs
        let gw = (crop.maxX - 1) / gs - gx0 + 1, gh = (crop.maxY - 1) / gs - gy0 + 1
        if let g = gate {
            if gateBuffer.count < gw * gh { gateBuffer = [UInt8](repeating: 0, count: gw * gh) }
            g.pixels.withUnsafeBufferPointer { m in
                for y in 0..<gh {
                    for x in 0..<gw {
                        let mx = gx0 + x, my = gy0 + y
                        var any: UInt8 = 0
                        for yy in max(0, my - 1)...min(g.height - 1, my + 1) where my - 1 < g.height {
                            let row = yy * g.width
                            for xx in max(0, mx - 1)...min(g.width - 1, mx + 1) where mx - 1 < g.width { any |= m[row + xx] }
                        }
                        gateBuffer[y * gw + x] = any
                    }
                }
            }
        }

        let (paper, ink, spread) = paperAndInk(image, around, lightInk: polarity == .lightOnDark)
        let range = max(abs(paper - ink), 24)
        // Ink starts this far from the paper level: 15% of the contrast, or more on grainy
        // paper (chalkboards, sensor noise) where the paper's own spread is wide.
        let floor = min(max(range * 0.15, spread * 2.5), range * 0.45)
        let dark = polarity != .lightOnDark

        // Ink intensity 0...1 of each crop pixel; a small floor drops paper texture and noise.
        let cw = crop.width, ch = crop.height
        if levels.count < cw * ch { levels = [Float](repeating: 0, count: cw * ch) }
        var minX = cw, minY = ch, maxX = -1, maxY = -1
        image.pixels.withUnsafeBufferPointer { p in
            levels.withUnsafeMutableBufferPointer { l in
                let scale = 1 / max(range * 0.95 - floor, 8)
                let gated = gate != nil
                // The level depends only on the gray value: a 256-entry table, filled with the
                // same arithmetic per value, replaces the per-pixel float work.
                withUnsafeTemporaryAllocation(of: Float.self, capacity: 256) { table in
                    for value in 0..<256 {
                        let g = Float(value)
                        var v = ((dark ? paper - g : g - paper) - floor) * scale
                        v = v < 0 ? 0 : (v > 1 ? 1 : v)
                        table[value] = v
                    }
                    let t = table.baseAddress!, lp = l.baseAddress!
                    let threshold: Float = 0.3
                    for y in 0..<ch {
                        let src = p.baseAddress! + (crop.y + y) * image.width + crop.x
                        let out = lp + y * cw
                        if gated {
                            let gateRow = ((crop.y + y) / gs - gy0) * gw
                            for x in 0..<cw {
                                out[x] = gateBuffer[gateRow + (crop.x + x) / gs - gx0] == 0 ? 0 : t[Int(src[x])]
                            }
                        } else {
                            for x in 0..<cw { out[x] = t[Int(src[x])] }
                        }
                        // The ink box: first and last pixel of the row above the threshold.
                        var first = 0
                        while first < cw && !(out[first] > threshold) { first += 1 }
                        if first == cw { continue }
                        var last = cw - 1
                        while !(out[last] > threshold) { last -= 1 }
                        if first < minX { minX = first }; if last > maxX { maxX = last }
                        if y < minY { minY = y }; if y > maxY { maxY = y }
                    }
                }
            }
        }
        guard maxX >= 0 else { return nil }
        let inkBox = Box(x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1)

        // Fit the ink box into 20x20 keeping the aspect ratio.
        let side = Double(max(inkBox.width, inkBox.height))
        let tw = max(1, Int((Double(inkBox.width) * 20 / side).rounded()))
        let th = max(1, Int((Double(inkBox.height) * 20 / side).rounded()))
        if horizontal.count < inkBox.height * tw { horizontal = [Float](repeating: 0, count: inkBox.height * tw) }
        levels.withUnsafeBufferPointer { l in
            horizontal.withUnsafeMutableBufferPointer { h in
                fitted.withUnsafeMutableBufferPointer { f in
                    // Rows first: each of inkBox.height rows -> tw columns.
                    areaResampleRows(l.baseAddress! + inkBox.y * cw + inkBox.x, rowStride: cw, rows: inkBox.height,
                                     count: inkBox.width, into: h.baseAddress!, outCount: tw)
                    // Then columns: tw columns of inkBox.height -> th.
                    areaResampleColumns(h.baseAddress!, columns: tw, count: inkBox.height,
                                        into: f.baseAddress!, outCount: th)
                }
            }
        }

        // Centre of mass -> centre of the 28x28 field (whole-pixel shift, as MNIST).
        var mass: Float = 0, mx: Float = 0, my: Float = 0
        for y in 0..<th { for x in 0..<tw { let v = fitted[y * tw + x]; mass += v; mx += v * (Float(x) + 0.5); my += v * (Float(y) + 0.5) } }
        let cx = mass > 0 ? mx / mass : Float(tw) / 2, cy = mass > 0 ? my / mass : Float(th) / 2
        let ox = max(0, min(28 - tw, Int((14 - cx).rounded())))
        let oy = max(0, min(28 - th, Int((14 - cy).rounded())))
        for y in 0..<th { for x in 0..<tw { output[(oy + y) * 28 + ox + x] = fitted[y * tw + x] } }
        if thickenThinStrokes { thickenIfThin(output) }
        if deskew { deskewMNIST(output) }

        return Box(x: crop.x + inkBox.x, y: crop.y + inkBox.y, width: inkBox.width, height: inkBox.height)
    }

    /// Paper level (the bright side, or dark side for light ink) and ink level of `region`,
    /// from percentiles of a sparse sample: paper is the 70th percentile (the majority), ink the
    /// 2nd (the extreme), and the paper's spread the distance from the 70th to the 90th. For
    /// light ink the roles of bright and dark swap.
    func paperAndInk(_ image: GrayImage, _ region: Box, lightInk: Bool) -> (paper: Float, ink: Float, spread: Float) {
        let step = max(1, min(region.width, region.height) / 40)
        var total = 0
        if histogram.count < 4 * 256 { histogram = [Int](repeating: 0, count: 4 * 256) }
        return histogram.withUnsafeMutableBufferPointer { hb in
            let hist = hb.baseAddress!
            hist.update(repeating: 0, count: 4 * 256)
            image.pixels.withUnsafeBufferPointer { p in
                // Four histograms filled in turn, summed after: paper is mostly one gray level,
                // and consecutive increments of one counter would wait on each other.
                // (Four samples per step, one per histogram; the count of a row is known.)
                let perRow = region.width > 0 ? (region.width - 1) / step + 1 : 0
                var y = region.y
                while y < region.maxY {
                    let row = p.baseAddress! + y * image.width + region.x
                    var i = 0, x = 0
                    while i + 4 <= perRow {
                        hist[Int(row[x])] += 1
                        hist[256 + Int(row[x + step])] += 1
                        hist[512 + Int(row[x + 2 * step])] += 1
                        hist[768 + Int(row[x + 3 * step])] += 1
                        i += 4; x += 4 * step
                    }
                    var lane = 0
                    while i < perRow {
                        hist[lane + Int(row[x])] += 1
                        lane += 256; i += 1; x += step
                    }
                    total += perRow
                    y += step
                }
            }
            for v in 0..<256 { hist[v] += hist[256 + v] + hist[512 + v] + hist[768 + v] }
            // The three percentiles (ascending) in one pass over the counts: for each, the first
            // level at which more than that fraction of the samples has been seen.
            let (q0, q1, q2) = lightInk ? (0.10, 0.30, 0.98) : (0.02, 0.70, 0.90)
            let t0 = Int(Double(total) * q0), t1 = Int(Double(total) * q1), t2 = Int(Double(total) * q2)
            var found: (Float, Float, Float) = (255, 255, 255)
            var next = 0, seen = 0
            for v in 0..<256 {
                seen += hist[v]
                if next == 0 { if seen > t0 { found.0 = Float(v); next = 1 } else { continue } }
                if next == 1 { if seen > t1 { found.1 = Float(v); next = 2 } else { continue } }
                if next == 2 { if seen > t2 { found.2 = Float(v); next = 3 } else { continue } }
                break
            }
            // Spread of the paper: from its level to the far side of the majority (away from ink).
            return lightInk ? (found.1, found.2, found.1 - found.0)
                            : (found.1, found.0, found.2 - found.1)
        }
    }

    private func clip(_ b: Box, _ image: GrayImage) -> Box {
        let x0 = max(0, b.x), y0 = max(0, b.y)
        let x1 = min(image.width, b.maxX), y1 = min(image.height, b.maxY)
        return Box(x: x0, y: y0, width: max(0, x1 - x0), height: max(0, y1 - y0))
    }

    /// Convenience for tests: the 784 floats for `box`.
    public func normalize(_ image: GrayImage, box: Box, polarity: InkPolarity, deskew: Bool = false) -> [Float] {
        var out = [Float](repeating: 0, count: 784)
        out.withUnsafeMutableBufferPointer { _ = normalize(image, box: box, polarity: polarity, deskew: deskew, into: $0) }
        return out
    }
}

/// Resamples `count` values into `outCount` by area averaging: each output value is the mean of
/// the input over its span, partial input pixels weighted by their overlap. Shrinking this is
/// anti-aliasing; enlarging it is a box-filter interpolation.
@inline(__always)
func areaResample(_ input: UnsafeBufferPointer<Float>, stride inStride: Int, count: Int,
                  into output: UnsafeMutablePointer<Float>, stride outStride: Int, count outCount: Int) {
    let ratio = Double(count) / Double(outCount)
    for i in 0..<outCount {
        let a = Double(i) * ratio, b = Double(i + 1) * ratio
        var j = Int(a)
        var sum: Double = 0
        while Double(j) < b && j < count {
            let lo = max(a, Double(j)), hi = min(b, Double(j + 1))
            sum += (hi - lo) * Double(input[j * inStride])
            j += 1
        }
        output[i * outStride] = Float(sum / ratio)
    }
}

/// The taps of `areaResample` from `count` to `outCount` values: for output i, taps
/// `start[i]..<start[i + 1]` of `index`/`weight`, computed exactly as `areaResample` does.
/// Returns the number of taps; `index` and `weight` need `count + outCount` entries.
@inline(__always)
private func areaTaps(count: Int, outCount: Int, start: UnsafeMutablePointer<Int>,
                      index: UnsafeMutablePointer<Int>, weight: UnsafeMutablePointer<Double>) -> Int {
    let ratio = Double(count) / Double(outCount)
    var n = 0
    for i in 0..<outCount {
        start[i] = n
        let a = Double(i) * ratio, b = Double(i + 1) * ratio
        var j = Int(a)
        while Double(j) < b && j < count {
            let lo = max(a, Double(j)), hi = min(b, Double(j + 1))
            index[n] = j; weight[n] = hi - lo; n += 1
            j += 1
        }
    }
    start[outCount] = n
    return n
}

/// `areaResample` of each of `rows` rows (`count` values, rows `rowStride` apart) into
/// `outCount` values (rows of `output` `outCount` apart). Same arithmetic per output value, in
/// the same order; the rows are interleaved so the sums do not wait on one another.
func areaResampleRows(_ input: UnsafePointer<Float>, rowStride: Int, rows: Int, count: Int,
                      into output: UnsafeMutablePointer<Float>, outCount: Int) {
    guard rows > 0, count > 0, outCount > 0 else { return }
    let ratio = Double(count) / Double(outCount)
    let capacity = count + outCount + 1
    withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 * capacity) { ints in
    withUnsafeTemporaryAllocation(of: Double.self, capacity: capacity + rows) { doubles in
        let start = ints.baseAddress!, index = start + capacity
        let weight = doubles.baseAddress!, sums = weight + capacity
        _ = areaTaps(count: count, outCount: outCount, start: start, index: index, weight: weight)
        for i in 0..<outCount {
            for y in 0..<rows { sums[y] = 0 }
            for k in start[i]..<start[i + 1] {
                let w = weight[k], src = input + index[k]
                for y in 0..<rows { sums[y] += w * Double(src[y * rowStride]) }
            }
            for y in 0..<rows { output[y * outCount + i] = Float(sums[y] / ratio) }
        }
    }
    }
}

/// `areaResample` of each of `columns` columns of `input` (`count` rows of `columns` values)
/// into `outCount` rows of `output` (`columns` values each). Same arithmetic per output value.
func areaResampleColumns(_ input: UnsafePointer<Float>, columns: Int, count: Int,
                         into output: UnsafeMutablePointer<Float>, outCount: Int) {
    guard columns > 0, count > 0, outCount > 0 else { return }
    let ratio = Double(count) / Double(outCount)
    let capacity = count + outCount + 1
    withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 * capacity) { ints in
    withUnsafeTemporaryAllocation(of: Double.self, capacity: capacity + columns) { doubles in
        let start = ints.baseAddress!, index = start + capacity
        let weight = doubles.baseAddress!, sums = weight + capacity
        _ = areaTaps(count: count, outCount: outCount, start: start, index: index, weight: weight)
        for i in 0..<outCount {
            for x in 0..<columns { sums[x] = 0 }
            for k in start[i]..<start[i + 1] {
                let w = weight[k], src = input + index[k] * columns
                for x in 0..<columns { sums[x] += w * Double(src[x]) }
            }
            let out = output + i * columns
            for x in 0..<columns { out[x] = Float(sums[x] / ratio) }
        }
    }
    }
}

/// The centre of mass of a 28x28 image (pixel centres at integer + 0.5), or (14, 14) if empty.
public func centreOfMass(_ image: UnsafeBufferPointer<Float>, width: Int = 28, height: Int = 28) -> (x: Double, y: Double) {
    var m: Double = 0, mx: Double = 0, my: Double = 0
    for y in 0..<height { for x in 0..<width {
        let v = Double(image[y * width + x]); m += v; mx += v * (Double(x) + 0.5); my += v * (Double(y) + 0.5)
    } }
    return m > 0 ? (mx / m, my / m) : (Double(width) / 2, Double(height) / 2)
}

/// `Int(v.rounded(.down))` without a call to `floorf` (baseline x86-64 has no rounding
/// instruction): truncation, one less where that rounded a negative value up.
@inline(__always) private func floorToInt(_ v: Float) -> Int {
    let t = Int(v)
    return Float(t) > v ? t - 1 : t
}

/// Straightens a slanted digit in place: shears rows horizontally by the slope of the second
/// moments (mu11 / mu02) about the centre of mass, with linear interpolation.
/// A network input (0 = background ... 1 = ink) as bytes (0 ... 255, rounded), as IDX files and
/// PNG crops store it.
public func networkInputBytes<C: Collection<Float>>(_ input: C) -> [UInt8] {
    input.map { UInt8(max(0, min(255, ($0 * 255).rounded()))) }
}

public func deskewMNIST(_ image: UnsafeMutableBufferPointer<Float>) {
    // Only rows holding ink matter: a zero pixel adds nothing to the moments (the sums never
    // become -0, so skipping it changes no bit), and a zero row shears to a zero row.
    var firstRow = 28, lastRow = -1
    for y in 0..<28 {
        var any = false
        for x in 0..<28 where image[y * 28 + x] != 0 { any = true; break }
        if any { if firstRow == 28 { firstRow = y }; lastRow = y }
    }
    guard lastRow >= 0 else { return }
    let rows = firstRow...lastRow
    var m: Float = 0, mx: Float = 0, my: Float = 0
    for y in rows { for x in 0..<28 { let v = image[y * 28 + x]; m += v; mx += v * Float(x); my += v * Float(y) } }
    guard m > 0 else { return }
    let cx = mx / m, cy = my / m
    var mu11: Float = 0, mu02: Float = 0
    for y in rows { for x in 0..<28 {
        let v = image[y * 28 + x]; let dx = Float(x) - cx, dy = Float(y) - cy
        mu11 += v * dx * dy; mu02 += v * dy * dy
    } }
    guard mu02 > 1e-3 else { return }
    let skew = mu11 / mu02
    guard abs(skew) > 0.05 else { return }
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 784) { t in
        for i in (firstRow * 28)..<((lastRow + 1) * 28) { t[i] = image[i] }
        for y in rows {
            let shift = skew * (Float(y) - cy)
            for x in 0..<28 {
                let sx = Float(x) + shift
                let x0 = floorToInt(sx), f = sx - Float(x0)
                var v: Float = 0
                if x0 >= 0 && x0 < 28 { v += (1 - f) * t[y * 28 + x0] }
                if x0 + 1 >= 0 && x0 + 1 < 28 { v += f * t[y * 28 + x0 + 1] }
                image[y * 28 + x] = v
            }
        }
    }
}

/// Mean stroke width of a 28x28 digit in pixels: twice the ink mass over the soft perimeter
/// (sum of differences between 4-neighbours). MNIST's test digits: median 1.85, 5th percentile 1.3.
public func strokeWidth(_ image: UnsafeBufferPointer<Float>) -> Float {
    var mass: Float = 0, edges: Float = 0
    for y in 0..<28 {
        for x in 0..<28 {
            let v = image[y * 28 + x]
            mass += v
            if x < 27 { edges += abs(v - image[y * 28 + x + 1]) }
            if y < 27 { edges += abs(v - image[(y + 1) * 28 + x]) }
        }
    }
    return edges > 0 ? 2 * mass / edges : 0
}

/// If the strokes are thinner than almost all of MNIST's (width < 1.2), grows them by about a
/// pixel: each pixel takes at least 3/4 of its strongest 4-neighbour. The network never saw
/// hairlines; a fine pen on a large digit otherwise reads as a faint, broken shape.
public func thickenIfThin(_ image: UnsafeMutableBufferPointer<Float>) {
    guard strokeWidth(UnsafeBufferPointer(image)) < 1.2 else { return }
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 784) { t in
        for i in 0..<784 { t[i] = image[i] }
        for y in 0..<28 {
            for x in 0..<28 {
                var n: Float = 0
                if x > 0 { n = max(n, t[y * 28 + x - 1]) }
                if x < 27 { n = max(n, t[y * 28 + x + 1]) }
                if y > 0 { n = max(n, t[(y - 1) * 28 + x]) }
                if y < 27 { n = max(n, t[(y + 1) * 28 + x]) }
                image[y * 28 + x] = max(t[y * 28 + x], 0.75 * n)
            }
        }
    }
}
