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
    public init(box: Box, group: Int = -1, alternative: Int = 0) {
        self.box = box; self.group = group; self.alternative = alternative
    }
}

/// Joins fragments of one digit: a small blob whose box overlaps a larger blob's columns and
/// lies within a quarter of its height above or below it (a 5's detached top stroke, a broken
/// 4 or 7), or that lies inside the larger box, when the union is still digit-shaped.
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
            guard parts[small].area * 10 <= parts[big].area * 6 || (b.x <= s.x && b.maxX >= s.maxX && b.y <= s.y && b.maxY >= s.maxY) else { continue }
            let overlapX = min(s.maxX, b.maxX) - max(s.x, b.x)
            guard overlapX * 2 >= min(s.width, b.width) else { continue }
            let gapY = max(s.y - b.maxY, b.y - s.maxY, 0)
            guard gapY * 4 <= b.height else { continue }
            let u = s.union(b)
            guard u.height * 2 <= b.height * 3, u.width <= u.height * 6 / 5 + 1 else { continue }
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
        let x0 = box.x + cuts[i], x1 = box.x + cuts[i + 1]
        var top = box.maxY, bottom = box.y
        mask.pixels.withUnsafeBufferPointer { m in
            for y in box.y..<box.maxY {
                let row = y * mask.width
                for x in x0..<x1 where m[row + x] != 0 { top = min(top, y); bottom = max(bottom, y + 1); break }
            }
        }
        if bottom > top { out.append(Box(x: x0, y: top, width: x1 - x0, height: bottom - top)) }
    }
    return out
}
