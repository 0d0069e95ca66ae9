import Imaging

/// What a blob must look like to be sent to the network, in detection-image pixels.
public struct CandidateSettings: Sendable, Equatable {
    /// Shortest digit worth reading (pixels); smaller blobs are specks or text.
    public var minimumHeight: Int
    /// Tallest digit, as a fraction of the frame height.
    public var maximumHeightFraction: Double = 0.8
    /// Width / height bounds for one digit (a "1" is very narrow).
    public var minimumAspect: Double = 0.08
    public var maximumAspect: Double = 1.25
    /// Blobs wider than `maximumAspect` up to this are tried both whole and split;
    /// wider ones only split.
    public var ambiguousAspect: Double = 1.9
    /// Ink fraction of the box: too little is a loop of thin line, too much a stain or block.
    public var minimumFill: Double = 0.06
    public var maximumFill: Double = 0.9

    public init(minimumHeight: Int) { self.minimumHeight = minimumHeight }

    public static func forImage(width: Int, height: Int) -> CandidateSettings {
        CandidateSettings(minimumHeight: max(7, height / 45))
    }
}

/// A box to read. Candidates that share a `group` are alternative readings of one blob
/// (`alternative` 0 = the blob whole, 1 = split into pieces); the recogniser keeps the better.
public struct Candidate: Sendable, Equatable {
    public var box: Box
    public var group: Int = -1
    public var alternative: Int = 0
    /// The box in the detector's mask (detection-image pixels), before tightening to the ink.
    public var maskBox: Box
    public init(box: Box, group: Int = -1, alternative: Int = 0) {
        self.box = box; self.group = group; self.alternative = alternative; self.maskBox = box
    }
}

/// Joins fragments of one digit: a small blob whose box overlaps a larger blob's columns and
/// lies within a quarter of its height above or below it (a 5's detached top stroke, a broken
/// 4 or 7), or that lies inside the larger box, when the union is still digit-shaped; and two
/// such blobs of any sizes when neither is as much as 0.65 of their union's height, the gap
/// between them is at most a tenth of it and the union is at least 0.4 as wide as tall (a
/// digit cut across into halves by a removed line or a gap in a faint stroke).
/// Components below `minimumArea` are dropped first as specks.
public func mergeFragments(_ components: [Component], minimumArea: Int) -> [Component] {
    var parts = components.filter { $0.area >= minimumArea }
    parts.sort { $0.area > $1.area }
    var absorbed = [Bool](repeating: false, count: parts.count)
    for small in stride(from: parts.count - 1, through: 1, by: -1) where !absorbed[small] {
        let s = parts[small].box
        var best = -1, bestGap = Int.max
        for big in 0..<small where !absorbed[big] {
            let b = parts[big].box
            let u = s.union(b)
            // Halves: a digit cut across (by a removed line, a gap in a faint stroke) into two
            // pieces of which neither is most of the digit's height.
            // The cut is narrow, and the whole is shaped like a digit, not like a column of
            // two (two digits one above the other are further apart and half as wide as tall).
            let gap = max(s.y - b.maxY, b.y - s.maxY, 0)
            let halves = s.height * 20 <= u.height * 13 && b.height * 20 <= u.height * 13
                && gap <= max(2, u.height / 10) && u.width * 5 >= u.height * 2
            guard halves || parts[small].area * 10 <= parts[big].area * 6 || (b.x <= s.x && b.maxX >= s.maxX && b.y <= s.y && b.maxY >= s.maxY) else { continue }
            let overlapX = min(s.maxX, b.maxX) - max(s.x, b.x)
            guard overlapX * 2 >= min(s.width, b.width) else { continue }
            let gapY = max(s.y - b.maxY, b.y - s.maxY, 0)
            guard gapY * 4 <= b.height else { continue }
            guard halves || u.height * 2 <= b.height * 3, u.width <= u.height * 6 / 5 + 1 else { continue }
            if gapY < bestGap { best = big; bestGap = gapY }
        }
        if best >= 0 {
            parts[best].absorb(parts[small])
            absorbed[small] = true
        }
    }
    return zip(parts, absorbed).filter { !$0.1 }.map { $0.0 }.sorted { ($0.box.y, $0.box.x) < ($1.box.y, $1.box.x) }
}

/// Keeps the blobs shaped like digits and turns wide ones into pieces (see `splitTouchingDigits`).
/// `mask` is the ink mask the components came from (for column profiles when splitting).
public func filterCandidates(_ components: [Component], mask: GrayImage, settings: CandidateSettings) -> [Candidate] {
    var out: [Candidate] = []
    var group = 0
    let maxHeight = Int(Double(mask.height) * settings.maximumHeightFraction)
    for c in components {
        let b = c.box
        guard b.height >= settings.minimumHeight, b.height <= maxHeight else { continue }
        let aspect = Double(b.width) / Double(b.height)
        guard aspect >= settings.minimumAspect else { continue }
        let fill = c.fill
        guard fill >= settings.minimumFill, fill <= settings.maximumFill || aspect < 0.35 else { continue }
        if aspect <= settings.maximumAspect {
            out.append(Candidate(box: b))
            continue
        }
        let pieces = splitTouchingDigits(b, mask: mask)
        guard pieces.count >= 2 else { continue }
        if aspect <= settings.ambiguousAspect {
            out.append(Candidate(box: b, group: group, alternative: 0))
        }
        for p in pieces where p.height >= settings.minimumHeight {
            out.append(Candidate(box: p, group: group, alternative: 1))
        }
        group += 1
    }
    return out
}

/// Splits a blob that is too wide for one digit into `round(width / (0.7 * height))` pieces
/// (at least 2), cutting at the column with the least ink near each evenly spaced cut, and
/// trims each piece to the rows that hold its ink.
public func splitTouchingDigits(_ box: Box, mask: GrayImage) -> [Box] {
    let pieces = max(2, min(8, Int((Double(box.width) / (0.7 * Double(box.height))).rounded())))
    var profile = [Int](repeating: 0, count: box.width)
    mask.pixels.withUnsafeBufferPointer { m in
        for y in box.y..<box.maxY {
            let row = y * mask.width + box.x
            for x in 0..<box.width where m[row + x] != 0 { profile[x] += 1 }
        }
    }
    var cuts = [0]
    let step = Double(box.width) / Double(pieces)
    for i in 1..<pieces {
        let expected = Int(step * Double(i))
        let reach = max(1, Int(step * 0.3))
        var best = expected, bestInk = Int.max
        for x in max(1, expected - reach)...min(box.width - 2, expected + reach) {
            let ink = profile[x] * 4 + abs(x - expected)   // prefer the emptiest column, then the nearest
            if ink < bestInk { bestInk = ink; best = x }
        }
        if best > cuts.last! + 1 { cuts.append(best) }
    }
    cuts.append(box.width)
    var out: [Box] = []
    for i in 0..<(cuts.count - 1) {
        if let piece = inkRows(of: mask, in: box, columns: box.x + cuts[i] ..< box.x + cuts[i + 1]) { out.append(piece) }
    }
    return out
}

/// Other ways to cut a blob into touching digits, for a second look when the blob read whole
/// (or split evenly) is not a digit: a "1" beside a "3" makes a blob hardly wider than one digit,
/// and an even cut misses the narrow digit. Each hypothesis cuts at the columns with the least
/// ink such that every piece is between 0.18 and 1.15 times the blob's height wide: the best
/// two-piece cut, the best two-piece cut at another place, and the best cut into one piece
/// more than the blob's width needs. Pieces are trimmed to their ink rows; hypotheses with a
/// piece shorter than `minimumHeight` or than 0.65 of the blob's height are left out (digits
/// written side by side are about as tall as each other). At most `maximum` hypotheses.
public func splitHypotheses(_ box: Box, mask: GrayImage, minimumHeight: Int, maximum: Int = 3) -> [[Box]] {
    let w = box.width, h = box.height
    let narrowest = max(2, Int(0.18 * Double(h))), widest = max(narrowest + 1, Int(1.15 * Double(h)) + 1)
    guard w >= 2 * narrowest else { return [] }
    var profile = [Int](repeating: 0, count: w)
    mask.pixels.withUnsafeBufferPointer { m in
        for y in box.y..<box.maxY {
            let row = y * mask.width + box.x
            for x in 0..<w where m[row + x] != 0 { profile[x] += 1 }
        }
    }
    // Best cuts into `n` pieces by dynamic programming over cut columns: cost[k][x] is the least
    // ink over k cuts with the last at x (pieces [0, c1), [c1, c2), ...).
    func bestCuts(_ n: Int, avoiding avoid: [Int]) -> [Int]? {
        guard w >= n * narrowest, w <= n * widest else { return nil }
        let big = Int.max / 4
        var cost = [[Int]](repeating: [Int](repeating: big, count: w + 1), count: n)
        var from = [[Int]](repeating: [Int](repeating: -1, count: w + 1), count: n)
        @inline(__always) func cutCost(_ x: Int) -> Int {
            var c = profile[x] * 4
            for a in avoid where abs(a - x) < narrowest { c += h * 8 }
            return c
        }
        for x in narrowest...min(widest, w - narrowest) { cost[1][x] = cutCost(x) }
        if n > 2 {
            for k in 2..<n {
                for x in (k * narrowest)...(w - narrowest) {
                    var best = big, arg = -1
                    for p in max(narrowest, x - widest)...(x - narrowest) where cost[k - 1][p] < best { best = cost[k - 1][p]; arg = p }
                    if arg >= 0 { cost[k][x] = best + cutCost(x); from[k][x] = arg }
                }
            }
        }
        var best = big, last = -1
        for x in max(narrowest, w - widest)...(w - narrowest) where cost[n - 1][x] < best { best = cost[n - 1][x]; last = x }
        guard last >= 0 else { return nil }
        var cuts = [last]
        var k = n - 1
        while k > 1 { let p = from[k][cuts[0]]; cuts.insert(p, at: 0); k -= 1 }
        return cuts
    }
    func pieces(_ cuts: [Int]) -> [Box]? {
        let edges = [0] + cuts + [w]
        var out: [Box] = []
        for i in 0..<(edges.count - 1) {
            // Digits written side by side are about as tall as each other: a piece much
            // shorter than the blob is a piece of something else (a scribble, a letter's arm).
            guard let piece = inkRows(of: mask, in: box, columns: box.x + edges[i] ..< box.x + edges[i + 1]),
                  piece.height >= minimumHeight, piece.height * 20 >= h * 13 else { return nil }
            out.append(piece)
        }
        return out
    }
    var out: [[Box]] = []
    let needed = max(2, (w + widest - 1) / widest)
    if let first = bestCuts(needed, avoiding: []) {
        if let p = pieces(first) { out.append(p) }
        if needed == 2, let second = bestCuts(2, avoiding: first), second != first, let p = pieces(second) { out.append(p) }
    }
    if out.count < maximum, let more = bestCuts(needed + 1, avoiding: []), let p = pieces(more) { out.append(p) }
    return Array(out.prefix(maximum))
}

/// Whether a thin blob, upright or slanted, is a piece of a longer line: a grid or ruled line that only
/// partly passed the threshold (faint, or at the edge of a shadow) leaves dashes that look like
/// a "1". The blob's axis (least squares x = a + b y over its ink in `mask`) is followed beyond
/// each end for as far as the blob is tall; if on one side at least 3/4 of the way the gray
/// picture along the axis is still darker (light ink: lighter) than its neighbourhood by a good
/// part of the blob's own contrast, the blob is a piece of a line. A digit ends in paper.
/// `gray` and its `integral` (see `integralImage`) are the picture `mask` was made from;
/// `radius` is the half-side of the window for the neighbourhood mean.
public func isPieceOfLine(_ box: Box, mask: GrayImage, gray: UnsafeBufferPointer<UInt8>,
                          integral: UnsafeBufferPointer<UInt32>, radius: Int, darkInk: Bool) -> Bool {
    let w = mask.width, h = mask.height
    guard box.height >= 4 else { return false }
    // Axis by least squares, in integer sums relative to the box (0.010 ms a frame less than in
    // Double). (Sampling every other row and column of the boxes wider than a third of their
    // height saved 0.014 ms more but missed pixels of one-pixel lines: perspective 0.5 pages
    // 0.9625 / 0.9574 -> 0.9608 / 0.9565.)
    let wide = box.width * 3 > box.height
    var count = 0, ix = 0, iy = 0, ixx = 0, iyy = 0, ixy = 0
    mask.pixels.withUnsafeBufferPointer { m in
        for y in box.y..<box.maxY {
            let row = m.baseAddress! + y * w, dy = y - box.y
            for x in box.x..<box.maxX where row[x] != 0 {
                let dx = x - box.x
                count += 1; ix += dx; iy += dy; ixx += dx * dx; iyy += dy * dy; ixy += dx * dy
            }
        }
    }
    guard count >= 3 else { return false }
    let n = Double(count), ox = Double(box.x), oy = Double(box.y)
    let sx = Double(ix) + n * ox, sy = Double(iy) + n * oy
    let sxx = Double(ixx) + 2 * ox * Double(ix) + n * ox * ox
    let syy = Double(iyy) + 2 * oy * Double(iy) + n * oy * oy
    let sxy = Double(ixy) + ox * Double(iy) + oy * Double(ix) + n * ox * oy
    let vy = syy - sy * sy / n
    let slope = vy > 0 ? (sxy - sx * sy / n) / vy : 0
    // A box wider than a third of its height is tested only if its ink lies close to the axis
    // (the spread across it at most 1/12 of the height): a slanted piece of a line, not a 0, a
    // 4 or a 7.
    if wide {
        let across = (sxx - sx * sx / n) - slope * slope * vy
        guard across <= n * Double(box.height * box.height) / 144 else { return false }
    }
    let intercept = (sx - slope * sy) / n
    let stride = w + 1
    // Contrast at (x, y): along the axis, the mean of three pixels, the darkest (lightest) of
    // the column and its two neighbours, against the window's mean.
    func contrast(_ y: Int) -> Int? {
        guard y >= 1, y < h - 1 else { return nil }
        let cx = Int((intercept + slope * Double(y)).rounded())
        guard cx >= 1, cx < w - 1 else { return nil }
        var best = Int.min
        for x in (cx - 1)...(cx + 1) {
            let v = Int(gray[(y - 1) * w + x]) + Int(gray[y * w + x]) + Int(gray[(y + 1) * w + x])
            let x0 = max(0, x - radius), x1 = min(w, x + radius + 1), y0 = max(0, y - radius), y1 = min(h, y + radius + 1)
            let sum = Int(integral[y1 * stride + x1] &- integral[y1 * stride + x0] &- integral[y0 * stride + x1] &+ integral[y0 * stride + x0])
            let mean3 = sum * 3 / ((x1 - x0) * (y1 - y0))
            best = max(best, darkInk ? mean3 - v : v - mean3)
        }
        return best / 3
    }
    var own: [Int] = []
    for y in box.y..<box.maxY { if let c = contrast(y) { own.append(c) } }
    guard !own.isEmpty else { return false }
    own.sort()
    let needed = max(6, own[own.count / 2] * 35 / 100)
    let reach = box.height
    for direction in [-1, 1] {
        var lineLike = 0, steps = 0
        for t in 1...reach {
            let y = direction < 0 ? box.y - t : box.maxY - 1 + t
            guard let c = contrast(y) else { break }
            steps += 1
            if c >= needed { lineLike += 1 }
        }
        if steps * 2 >= reach && lineLike * 4 >= reach * 3 { return true }
    }
    return false
}

/// The box of `columns` (inside `box`) trimmed to the rows that hold ink in `mask`, or nil if
/// those columns hold none.
func inkRows(of mask: GrayImage, in box: Box, columns: Range<Int>) -> Box? {
    var top = box.maxY, bottom = box.y
    mask.pixels.withUnsafeBufferPointer { m in
        for y in box.y..<box.maxY {
            let row = y * mask.width
            for x in columns where m[row + x] != 0 { top = min(top, y); bottom = max(bottom, y + 1); break }
        }
    }
    return bottom > top ? Box(x: columns.lowerBound, y: top, width: columns.count, height: bottom - top) : nil
}

/// A cluster of nearby blobs to read as one digit (see `clusterFragments`).
public struct FragmentCluster: Sendable, Equatable {
    /// The union of the blobs' boxes.
    public var box: Box
    /// The digit box (index into `digits`) the cluster grows, nil when it holds none.
    public var grows: Int?
    public init(box: Box, grows: Int?) { self.box = box; self.grows = grows }
}

/// Fragments that may be one digit the mask broke up (a faint or blurred stroke thresholded into
/// pieces, a stroke lost along a removed grid line, a 5's long top bar left apart): clusters of
/// blobs that lie within a quarter of the taller one's height of each other (at least 2
/// pixels). A blob mostly inside a box of `digits` (digits already read) belongs to that digit.
/// Returns each cluster of two or more blobs that holds no digit, or with `growing` each that
/// holds one digit and blobs outside it at least `minimumHeight` long (strokes, not specks:
/// each grown digit costs a network input), when the union of its boxes is shaped like one
/// digit (at least `minimumHeight` tall and no taller than the frame allows, 0.15 to
/// `maximumAspect` as wide as tall) and overlaps no other box of `digits` by a fifth of the
/// smaller; the clusters with the most ink first.
public func clusterFragments(_ fragments: [Component], digits: [Box], settings: CandidateSettings,
                             frameHeight: Int, growing: Bool) -> [FragmentCluster] {
    let maxHeight = Int(Double(frameHeight) * settings.maximumHeightFraction)
    var parts: [(blob: Component, digit: Int)] = []
    for f in fragments where f.box.height <= maxHeight {
        let d = digits.firstIndex(where: { $0.intersectionArea(f.box) * 2 >= f.box.area }) ?? -1
        // Growing: only strokes at least as long as the shortest digit is tall (not specks).
        if d < 0 && growing && max(f.box.width, f.box.height) < settings.minimumHeight { continue }
        if d < 0 || growing { parts.append((f, d)) }
    }
    guard parts.count >= 2 else { return [] }
    parts.sort { $0.blob.box.x < $1.blob.box.x }
    var parent = Array(0..<parts.count)
    func root(_ i: Int) -> Int {
        var i = i
        while parent[i] != i { parent[i] = parent[parent[i]]; i = parent[i] }
        return i
    }
    let reach = max(2, (parts.map { $0.blob.box.height }.max() ?? 0) / 4)
    for i in 0..<parts.count {
        let a = parts[i].blob.box
        var j = i + 1
        while j < parts.count && parts[j].blob.box.x <= a.maxX + reach {
            let b = parts[j].blob.box
            let gap = max(b.x - a.maxX, a.x - b.maxX, b.y - a.maxY, a.y - b.maxY, 0)
            if gap <= max(2, max(a.height, b.height) / 4) {
                let ra = root(i), rb = root(j)
                if ra != rb { parent[max(ra, rb)] = min(ra, rb) }
            }
            j += 1
        }
    }
    // One entry per root, in order (a root is the cluster's leftmost blob), so equal amounts
    // of ink keep a fixed order.
    struct Cluster { var box: Box; var area = 0; var loose = 0; var digit = -1; var digitCount = 0 }
    var clusters: [Cluster?] = Array(repeating: nil, count: parts.count)
    for i in 0..<parts.count {
        let r = root(i), (blob, d) = parts[i]
        var c = clusters[r] ?? Cluster(box: blob.box)
        c.box = c.box.union(blob.box)
        c.area += blob.area
        if d < 0 { c.loose += 1 } else if d != c.digit { c.digitCount += 1; c.digit = d }
        clusters[r] = c
    }
    return clusters.compactMap { $0 }.filter { c in
        let b = c.box
        guard growing ? c.digitCount == 1 && c.loose >= 1 : c.loose >= 2 else { return false }
        return b.height >= settings.minimumHeight && b.height <= maxHeight
            && b.width * 100 >= b.height * 15 && Double(b.width) <= Double(b.height) * settings.maximumAspect
            && !digits.indices.contains(where: { $0 != c.digit && digits[$0].intersectionArea(b) * 5 >= min(digits[$0].area, b.area) })
    }.sorted { $0.area > $1.area }
    .map { FragmentCluster(box: $0.box, grows: $0.digit >= 0 ? $0.digit : nil) }
}

/// Whether a blob may be two digits touching: some column at least 0.18 of the blob's height in
/// from either side crosses at most one stroke (one run of ink in `mask`, or none). One digit
/// about as wide as tall (a 0, 2, 4, 8) crosses two or more strokes in its middle columns; two
/// digits written close touch in one stroke or are apart.
public func mayBeTouchingDigits(_ box: Box, mask: GrayImage) -> Bool {
    let margin = max(2, Int(0.18 * Double(box.height)))
    guard box.width > 2 * margin else { return false }
    return mask.pixels.withUnsafeBufferPointer { m in
        for x in (box.x + margin)..<(box.maxX - margin) {
            var runs = 0, inInk = false
            for y in box.y..<box.maxY {
                let ink = m[y * mask.width + x] != 0
                if ink && !inInk { runs += 1 }
                inInk = ink
            }
            if runs <= 1 { return true }
        }
        return false
    }
}
