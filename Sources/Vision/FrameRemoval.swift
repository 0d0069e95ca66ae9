import Imaging

/// What counts as a printed box (a form's field) in a binary mask.
public struct FrameSettings: Sendable, Equatable {
    /// The smallest digit read: frames are at least 1.5 times as tall and wide (and 16 pixels),
    /// and at least half as wide as tall...
    public var minimumHeight: Int
    /// ...whose sides are no thicker than this...
    public var maximumThickness: Int
    /// ...and straight: at least this share of a side's positions lie within `tolerance` pixels
    /// of the line fitted to them...
    public var straightShare = 0.7
    public var tolerance = 2
    /// ...and on it closely: their mean distance from it at most this (a printed line, 0-0.5
    /// pixels; the curve of a 0 or a 6 that passes the tolerance, 0.6-1.5)...
    public var maximumSpread = 0.6
    /// ...which is near level (or upright): at most this slope.
    public var maximumSlope = 0.1

    public init(minimumHeight: Int, maximumThickness: Int) {
        self.minimumHeight = minimumHeight
        self.maximumThickness = maximumThickness
    }

    /// Frames as small as the smallest digit, sides as thin as ruled lines.
    public static func forImage(width: Int, height: Int) -> FrameSettings {
        FrameSettings(minimumHeight: CandidateSettings.forImage(width: width, height: height).minimumHeight,
                      maximumThickness: LineRemovalSettings.forImage(width: width, height: height).maximumThickness)
    }
}

/// One side of a blob seen from outside: for each column (top and bottom sides) or row (left
/// and right) of its box, the first ink met coming from that side, as an offset inward.
/// `fit` tells whether the side is a straight line.
struct FrameSide {
    /// A straight side: the line `offset = a + slope * i` and the positions on it.
    var a = 0.0, slope = 0.0
    var onLine: [Bool] = []
    /// Median run of ink inward from the line where it lies on it: the line's thickness.
    var thickness = 0

    /// Fits a line to `offsets` (-1: no ink at that position) robustly: of the lines through
    /// 9 pairs of points, one from each half, the one most points lie within the tolerance of,
    /// refitted by least squares to those points. The side is straight if at least
    /// `settings.straightShare` of all positions lie on it, closely (`maximumSpread`), and it is
    /// thin.
    static func fit(_ offsets: [Int], runs: [Int], settings: FrameSettings) -> FrameSide? {
        let n = offsets.count
        guard n >= 6 else { return nil }
        var valid: [Int] = []
        valid.reserveCapacity(n)
        for i in 0..<n where offsets[i] >= 0 { valid.append(i) }
        let need = Int((settings.straightShare * Double(n)).rounded(.up))
        guard valid.count >= need, valid.count >= 4 else { return nil }
        let tolerance = Double(settings.tolerance)
        func inliers(_ a: Double, _ slope: Double) -> Int {
            var count = 0
            for i in valid where abs(Double(offsets[i]) - a - slope * Double(i)) <= tolerance { count += 1 }
            return count
        }
        var best = (count: 0, a: 0.0, slope: 0.0)
        let half = valid.count / 2
        for p in 0..<3 {
            let i1 = valid[(2 * p + 1) * half / 6]
            for q in 0..<3 {
                let i2 = valid[half + (2 * q + 1) * (valid.count - half) / 6]
                guard i2 > i1 else { continue }
                let slope = Double(offsets[i2] - offsets[i1]) / Double(i2 - i1)
                guard abs(slope) <= settings.maximumSlope else { continue }
                let a = Double(offsets[i1]) - slope * Double(i1)
                let c = inliers(a, slope)
                if c > best.count { best = (c, a, slope) }
            }
        }
        guard best.count >= need else { return nil }
        // Least squares on the points of the best line.
        var m = 0.0, sx = 0.0, sy = 0.0, sxx = 0.0, sxy = 0.0
        for i in valid where abs(Double(offsets[i]) - best.a - best.slope * Double(i)) <= tolerance {
            let x = Double(i), y = Double(offsets[i])
            m += 1; sx += x; sy += y; sxx += x * x; sxy += x * y
        }
        let d = m * sxx - sx * sx
        if d > 0 {
            let slope = (m * sxy - sx * sy) / d, a = (sy - slope * sx) / m
            let count = inliers(a, slope)
            if abs(slope) <= settings.maximumSlope && count >= best.count { best = (count, a, slope) }
        }
        var side = FrameSide(a: best.a, slope: best.slope, onLine: [Bool](repeating: false, count: n))
        var thick: [Int] = [], spread = 0.0
        for i in valid {
            let distance = abs(Double(offsets[i]) - best.a - best.slope * Double(i))
            guard distance <= tolerance else { continue }
            side.onLine[i] = true; thick.append(runs[i]); spread += distance
        }
        guard spread <= settings.maximumSpread * Double(thick.count) else { return nil }
        side.thickness = median(thick)
        guard side.thickness <= settings.maximumThickness else { return nil }
        return side
    }

    private static func median(_ v: [Int]) -> Int { v.sorted()[v.count / 2] }
}

/// Removes the printed boxes of forms from an ink mask. A blob three of whose four sides, seen
/// from outside, are straight, near-level (or upright) lines no thicker than a ruled line is a
/// frame, whatever it holds (the fourth is often gone with a ruled line it lay on). Each
/// straight side loses the line's own thickness of ink where it lies on the line, so a digit
/// touching the box from inside keeps its stroke; a missing side loses the dashes left of it;
/// the dividers of a comb field (lines from the top side to the bottom one) go too. The digits
/// in the boxes are then blobs of their own. A frame long enough for `LineRemover` to take its
/// long sides as lines leaves upright bars, found by `barsOfFrames`.
public final class FrameRemover {
    public init() {}

    /// Removes the frames among `components` from `mask` and returns their boxes.
    public func remove(_ mask: UnsafeMutableBufferPointer<UInt8>, width w: Int, height h: Int,
                       components: [Component], settings: FrameSettings) -> [Box] {
        var frames: [Box] = []
        for c in components {
            let b = c.box
            // Cheap tests first: big enough, wider than half its height, mostly empty inside.
            let least = max(16, settings.minimumHeight * 3 / 2)
            guard b.height >= least, b.width >= least, b.width * 2 >= b.height, c.area * 2 < b.area else { continue }
            if removeFrame(mask, w, h, box: b, settings: settings) { frames.append(b) }
        }
        return frames
    }

    /// The thin upright blobs among `components` that are what line removal left of a frame
    /// whose long sides it took as lines: the sides and dividers of a comb field. Such a bar
    /// meets a line at its top and at its bottom in the mask before line removal (`before(x, y)`),
    /// and both lines end inside the picture, at the same places within a few pixels (the
    /// frame's corners), at least as far apart as the bar is tall. A ruled or grid line runs on
    /// to the edge of the page, or, broken into dashes, ends anywhere, so a "1" written between
    /// two lines stays. Returns their indices.
    public func barsOfFrames(inkBefore before: (Int, Int) -> Bool, width w: Int, height h: Int,
                             components: [Component], settings: FrameSettings) -> [Int] {
        var bars: [Int] = []
        for (index, c) in components.enumerated() {
            let b = c.box
            guard b.height >= settings.minimumHeight, b.width * 3 <= b.height else { continue }
            guard let top = lineThrough(before, w, h, box: b, atTop: true),
                  let bottom = lineThrough(before, w, h, box: b, atTop: false) else { continue }
            let slack = max(6, b.height / 8)
            guard abs(top.left - bottom.left) <= slack, abs(top.right - bottom.right) <= slack,
                  top.right - top.left >= b.height else { continue }
            bars.append(index)
        }
        return bars
    }

    /// The extent of the horizontal line that the top (or bottom) end of the bar in `box` meets
    /// in `mask` (ink at (x, y)), if it ends inside the picture on both sides and runs past the bar.
    private func lineThrough(_ mask: (Int, Int) -> Bool, _ w: Int, _ h: Int, box b: Box,
                             atTop: Bool) -> (left: Int, right: Int)? {
        let endRow = atTop ? b.y : b.maxY - 1
        // The bar's middle column at its end.
        var xs: [Int] = []
        for x in b.x..<b.maxX where mask(x, endRow) { xs.append(x) }
        guard !xs.isEmpty else { return nil }
        let x = xs[xs.count / 2]
        var best: (left: Int, right: Int)? = nil
        // The line may lie a few rows beyond the bar's end (line removal took the junction).
        let rows = atTop ? Array(max(1, endRow - 4)...min(h - 2, endRow + 1))
                         : Array(max(1, endRow - 1)...min(h - 2, endRow + 4))
        for y in rows {
            let left = follow(mask, w, h, x: x, y: y, step: -1), right = follow(mask, w, h, x: x, y: y, step: 1)
            guard right - left > b.width + 4 else { continue }
            if best == nil || right - left > best!.right - best!.left { best = (left, right) }
        }
        guard let line = best, line.left > 2, line.right < w - 3 else { return nil }
        return line
    }

    /// Follows a near-level line of ink from (x, y) in direction `step`, one column at a time,
    /// moving at most one row per column and bridging gaps of up to 3 columns; the last column
    /// with ink.
    private func follow(_ mask: (Int, Int) -> Bool, _ w: Int, _ h: Int, x: Int, y: Int, step: Int) -> Int {
        var cx = x, cy = y, last = x, gap = 0
        while true {
            let nx = cx + step
            guard nx >= 0, nx < w else { break }
            var found = false
            for k in 0..<3 {
                let yy = cy + (k == 0 ? 0 : k == 1 ? -1 : 1)
                if yy >= 0, yy < h, mask(nx, yy) { cy = yy; found = true; break }
            }
            if found { last = nx; gap = 0 } else { gap += 1; if gap > 3 { break } }
            cx = nx
        }
        return last
    }

    /// Clears, along one edge of `box` (within `thickness + 1` pixels of it, either way), the ink
    /// whose run across the edge is no longer than `thickness + 2`: the dashes of a line, not
    /// the strokes crossing it.
    private func clearEdge(_ mask: UnsafeMutableBufferPointer<UInt8>, _ w: Int, _ h: Int, box b: Box, side: Int, thickness: Int) {
        let reach = thickness + 1, longest = thickness + 2
        let horizontal = side < 2
        let edge = side == 0 ? b.y : side == 1 ? b.maxY - 1 : side == 2 ? b.x : b.maxX - 1
        let limit = horizontal ? h : w
        for i in 0..<(horizontal ? b.width : b.height) {
            let (x, y) = horizontal ? (b.x + i, 0) : (0, b.y + i)
            @inline(__always) func index(_ d: Int) -> Int { horizontal ? d * w + x : y * w + d }
            var d = max(0, edge - reach)
            while d <= min(limit - 1, edge + reach) {
                guard mask[index(d)] != 0 else { d += 1; continue }
                var s = d, t = d
                while s > 0 && mask[index(s - 1)] != 0 { s -= 1 }
                while t + 1 < limit && mask[index(t + 1)] != 0 { t += 1 }
                if t - s + 1 <= longest { for k in s...t { mask[index(k)] = 0 } }
                d = t + 1
            }
        }
    }

    /// Offsets of the first ink from one side of `box`, and the run of ink inward from there.
    /// How to walk one side of `box` (0 top, 1 bottom, 2 left, 3 right) in a mask `w` pixels
    /// wide: pixel (i, d), position i along the side and d pixels in from it, is at index
    /// `start + i * along + d * inward`.
    private func walk(side: Int, box b: Box, width w: Int) -> (start: Int, along: Int, inward: Int) {
        switch side {
        case 0: return (b.y * w + b.x, 1, w)
        case 1: return ((b.maxY - 1) * w + b.x, 1, -w)
        case 2: return (b.y * w + b.x, w, 1)
        default: return (b.y * w + b.maxX - 1, w, -1)
        }
    }

    /// Scratch for `profile`: offsets and runs of one side.
    private var offsets: [Int] = [], runs: [Int] = []

    /// Fills `offsets` and `runs` for one side of `box` (0 top, 1 bottom, 2 left, 3 right): the
    /// first ink from that side at each position, looking no deeper than `reach` (a straight,
    /// near-level side lies close to the box's edge all along: the inside of a digit is not
    /// worth scanning), and the run of ink inward from it. Returns how many positions found ink.
    private func profile(_ mask: UnsafeMutableBufferPointer<UInt8>, _ w: Int, box b: Box, side: Int,
                         reach: Int, limit: Int) -> Int {
        let horizontal = side < 2                // top (0) / bottom (1): one entry per column
        let n = horizontal ? b.width : b.height, full = horizontal ? b.height : b.width
        let depth = min(full, reach)
        if offsets.count != n { offsets = [Int](repeating: -1, count: n); runs = [Int](repeating: 0, count: n) }
        var found = 0
        offsets.withUnsafeMutableBufferPointer { offsets in
        runs.withUnsafeMutableBufferPointer { runs in
            let m = mask.baseAddress!
            let (start, along, inward) = walk(side: side, box: b, width: w)
            for i in 0..<n {
                let p = m + start + i * along
                var d = 0
                while d < depth && p[d * inward] == 0 { d += 1 }
                guard d < depth else { offsets[i] = -1; runs[i] = 0; continue }
                var r = 0
                while d + r < full && r <= limit && p[(d + r) * inward] != 0 { r += 1 }
                offsets[i] = d; runs[i] = r
                found += 1
            }
        }}
        return found
    }

    private func removeFrame(_ mask: UnsafeMutableBufferPointer<UInt8>, _ w: Int, _ h: Int, box b: Box,
                             settings: FrameSettings) -> Bool {
        let limit = settings.maximumThickness * 3
        // Three straight sides of four: stop at the second that is not.
        var sides: [FrameSide?] = [nil, nil, nil, nil]
        var crooked = 0
        for side in 0..<4 {
            let n = side < 2 ? b.width : b.height
            let reach = Int(settings.maximumSlope * Double(n)) + 2 * settings.tolerance + settings.maximumThickness + 2
            if Double(profile(mask, w, box: b, side: side, reach: reach, limit: limit)) >= settings.straightShare * Double(n) {
                sides[side] = FrameSide.fit(offsets, runs: runs, settings: settings)
            }
            if sides[side] == nil { crooked += 1; if crooked > 1 { return false } }
        }

        // Each straight side: clear the line's thickness (one pixel more for anti-aliasing) of
        // ink inward from the first ink, where that lies on the line.
        for (side, fitted) in sides.enumerated() {
            guard let s = fitted else { continue }
            let depth = side < 2 ? b.height : b.width
            let (start, along, inward) = walk(side: side, box: b, width: w)
            for i in 0..<s.onLine.count where s.onLine[i] {
                let p = start + i * along
                guard let d = (0..<depth).first(where: { mask[p + $0 * inward] != 0 }) else { continue }
                // The first ink: clear `thickness + 1` pixels from there, where there is ink.
                for k in d..<min(d + s.thickness + 1, depth) {
                    if mask[p + k * inward] == 0 { break }
                    mask[p + k * inward] = 0
                }
            }
        }

        // A side that is not straight is most often one line removal has taken with a ruled
        // line it lay on: its dashes left over are cleared (ink no thicker than the frame's lines
        // across the box's edge), and the box's edge stands in for it.
        let thickness = sides.compactMap { $0?.thickness }.max() ?? 1
        for side in 0..<4 where sides[side] == nil {
            clearEdge(mask, w, h, box: b, side: side, thickness: thickness)
        }
        // Where the upright sides end: the missing side's line, as an offset from the box's edge.
        let uprights = [sides[2], sides[3]].compactMap { $0 }
        func offset(fromTop: Bool) -> Double {
            let ends = uprights.compactMap { s -> Int? in
                fromTop ? s.onLine.firstIndex(of: true) : s.onLine.lastIndex(of: true).map { b.height - 1 - $0 }
            }
            return ends.isEmpty ? 0 : Double(ends.reduce(0, +)) / Double(ends.count)
        }
        let topSide = sides[0] ?? FrameSide(a: offset(fromTop: true), slope: sides[1]?.slope ?? 0, thickness: thickness)
        let bottomSide = sides[1] ?? FrameSide(a: offset(fromTop: false), slope: sides[0]?.slope ?? 0, thickness: thickness)
        // Dividers of a comb: near-upright lines from the top side to the bottom one, followed
        // down from under the top line one row at a time (a step of at most one column, gaps of
        // a few rows), thin nearly all the way. A digit in its cell stays clear of one side or the
        // other, or is not that straight.
        let clearTop = topSide.thickness + 1, clearBottom = bottomSide.thickness + 1
        let widest = thickness + 3, slack = max(4, thickness + 2)
        func run(_ x: Int, _ y: Int) -> (Int, Int) {
            var s = x, t = x
            while s > b.x && mask[y * w + s - 1] != 0 { s -= 1 }
            while t + 1 < b.maxX && mask[y * w + t + 1] != 0 { t += 1 }
            return (s, t)
        }
        var i = clearTop + 2
        while i < b.width - clearTop - 2 {
            let y0 = b.y + Int((topSide.a + topSide.slope * Double(i)).rounded()) + clearTop
            let y1 = b.maxY - 1 - Int((bottomSide.a + bottomSide.slope * Double(i)).rounded()) - clearBottom
            guard y1 - y0 >= settings.minimumHeight / 2 else { i += 1; continue }
            var x = b.x + i
            var start = -1
            for y in max(b.y, y0 - 1)...min(b.maxY - 1, y0 + slack) where mask[y * w + x] != 0 { start = y; break }
            guard start >= 0 else { i += 1; continue }
            var path: [(x: Int, y: Int)] = [(x, start)]
            var y = start, gap = 0, thin = 0
            while y + 1 < b.maxY && gap <= 2 {
                y += 1
                if mask[y * w + x] != 0 { path.append((x, y)); gap = 0 }
                else if x > b.x && mask[y * w + x - 1] != 0 { x -= 1; path.append((x, y)); gap = 0 }
                else if x + 1 < b.maxX && mask[y * w + x + 1] != 0 { x += 1; path.append((x, y)); gap = 0 }
                else { gap += 1 }
            }
            for p in path { let (s, t) = run(p.x, p.y); if t - s + 1 <= widest { thin += 1 } }
            let last = path[path.count - 1]
            let upright = abs(last.x - path[0].x) * 10 <= (last.y - start) + 20
            guard last.y >= y1 - 3, upright, thin * 10 >= path.count * 7 else { i += 1; continue }
            for p in path {
                let (s, t) = run(p.x, p.y)
                if t - s + 1 <= widest { for k in s...t { mask[p.y * w + k] = 0 } }
            }
            i += widest + 1
        }
        return true
    }
}
