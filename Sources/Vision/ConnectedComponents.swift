import Imaging

/// One 8-connected blob of ink with its box and raw moments (pixel coordinates, origin top-left;
/// a pixel (x, y) counts at its index, so the centre of mass of a single pixel is (x, y)).
public struct Component: Sendable, Equatable {
    public var box: Box
    /// Number of ink pixels.
    public var area: Int
    /// Sums of x, y, x*x, y*y and x*y over the ink pixels.
    public var sumX: Int, sumY: Int, sumXX: Int, sumYY: Int, sumXY: Int
    /// Pixels of full-strength ink (value 255); the rest are weak ink joined by hysteresis.
    public var strongArea: Int = 0

    public init(box: Box, area: Int, sumX: Int = 0, sumY: Int = 0, sumXX: Int = 0, sumYY: Int = 0, sumXY: Int = 0) {
        self.box = box; self.area = area
        self.sumX = sumX; self.sumY = sumY; self.sumXX = sumXX; self.sumYY = sumYY; self.sumXY = sumXY
    }

    /// Centre of mass.
    public var centroid: (x: Double, y: Double) {
        (Double(sumX) / Double(max(area, 1)), Double(sumY) / Double(max(area, 1)))
    }

    /// Fraction of the box that is ink.
    public var fill: Double { Double(area) / Double(max(box.area, 1)) }

    /// Merges another component's pixels into this one (for fragments of one digit).
    public mutating func absorb(_ o: Component) {
        box = box.union(o.box); area += o.area; strongArea += o.strongArea
        sumX += o.sumX; sumY += o.sumY; sumXX += o.sumXX; sumYY += o.sumYY; sumXY += o.sumXY
    }
}

/// Labels the 8-connected components of `mask` (non-zero = ink) by runs: each row's runs are
/// joined to the overlapping runs of the row above with union-find, so the work is per run, not
/// per pixel. Components smaller than `minimumArea` pixels are dropped. Order: by top edge of
/// the first run found, i.e. roughly top to bottom.
public final class ComponentLabeller {
    // Runs of the whole image: row, first and one-past-last column, union-find parent.
    private var runRow: [Int32] = []
    private var runStart: [Int32] = []
    private var runEnd: [Int32] = []
    private var parent: [Int32] = []
    private var slot: [Int32] = []

    public init() {}

    public func label(_ mask: GrayImage, minimumArea: Int = 1, minimumStrongFraction: Double = 0) -> [Component] {
        mask.pixels.withUnsafeBufferPointer {
            label($0, width: mask.width, height: mask.height, minimumArea: minimumArea, minimumStrongFraction: minimumStrongFraction)
        }
    }

    /// Hysteresis: with weak ink in the mask (values 1...254), a component is kept only if at
    /// least `minimumStrongFraction` of its pixels (and at least one) are strong (255), so faint
    /// pixels join the strokes they touch but faint noise on its own is dropped.
    public func label(_ mask: UnsafeBufferPointer<UInt8>, width: Int, height: Int, minimumArea: Int = 1,
                      minimumStrongFraction: Double = 0) -> [Component] {
        precondition(mask.count >= width * height)
        // At most (width + 1) / 2 runs per row: the run arrays are sized for that once, and
        // filled through pointers (no appends, no property access in the loops).
        let maxRuns = height * ((width + 1) / 2)
        if runRow.count < maxRuns {
            runRow = [Int32](repeating: 0, count: maxRuns); runStart = runRow; runEnd = runRow; parent = runRow
        }
        var runCount = 0
        runRow.withUnsafeMutableBufferPointer { rrb in
        runStart.withUnsafeMutableBufferPointer { rsb in
        runEnd.withUnsafeMutableBufferPointer { reb in
        parent.withUnsafeMutableBufferPointer { pb in
            let runRow = rrb.baseAddress!, runStart = rsb.baseAddress!, runEnd = reb.baseAddress!, parent = pb.baseAddress!
            @inline(__always) func find(_ i: Int32) -> Int32 {
                var r = i
                while parent[Int(r)] != r { r = parent[Int(r)] }
                var j = i
                while parent[Int(j)] != r { let next = parent[Int(j)]; parent[Int(j)] = r; j = next }
                return r
            }
            let base = UnsafeRawPointer(mask.baseAddress!)
            var previousFirst = 0, previousCount = 0
            for y in 0..<height {
                let row = mask.baseAddress! + y * width, rawRow = base + y * width
                let first = runCount
                var scan = previousFirst
                var x = 0
                while x < width {
                    // Background eight pixels at a time.
                    while x + 8 <= width && rawRow.loadUnaligned(fromByteOffset: x, as: UInt64.self) == 0 { x += 8 }
                    if x >= width { break }
                    if row[x] == 0 { x += 1; continue }
                    let start = x
                    while x < width && row[x] != 0 { x += 1 }
                    let index = Int32(runCount)
                    runRow[runCount] = Int32(y); runStart[runCount] = Int32(start); runEnd[runCount] = Int32(x)
                    parent[runCount] = index
                    runCount += 1
                    // 8-connected: a run above touches if it overlaps [start - 1, x + 1).
                    // Runs of one row are sorted, so runs above that end left of this one (runEnd is
                    // exclusive: runEnd == start still touches diagonally) never touch later ones either.
                    let previousEnd = previousFirst + previousCount
                    while scan < previousEnd && Int(runEnd[scan]) < start { scan += 1 }
                    var k = scan
                    while k < previousEnd {
                        if Int(runStart[k]) > x { break }                   // starts right of x: beyond diagonal reach
                        let a = find(index), b = find(Int32(k))
                        if a != b { if a < b { parent[Int(b)] = a } else { parent[Int(a)] = b } }
                        k += 1
                    }
                }
                previousFirst = first
                previousCount = runCount - first
            }
        }}}}

        // Accumulate per root.
        if slot.count < runCount { slot = [Int32](repeating: -1, count: runCount) }
        var components: [Component] = []
        var minX: [Int] = [], minY: [Int] = [], maxX: [Int] = [], maxY: [Int] = []
        runRow.withUnsafeMutableBufferPointer { rrb in
        runStart.withUnsafeMutableBufferPointer { rsb in
        runEnd.withUnsafeMutableBufferPointer { reb in
        parent.withUnsafeMutableBufferPointer { pb in
        slot.withUnsafeMutableBufferPointer { sb in
        let runRow = rrb.baseAddress!, runStart = rsb.baseAddress!, runEnd = reb.baseAddress!, parent = pb.baseAddress!
        let slot = sb.baseAddress!
        @inline(__always) func find(_ i: Int32) -> Int32 {
            var r = i
            while parent[Int(r)] != r { r = parent[Int(r)] }
            var j = i
            while parent[Int(j)] != r { let next = parent[Int(j)]; parent[Int(j)] = r; j = next }
            return r
        }
        for i in 0..<runCount {
            let root = Int(find(Int32(i)))
            var s = root == i ? -1 : Int(slot[root])
            if root == i {
                s = components.count
                slot[i] = Int32(s)
                components.append(Component(box: Box(x: 0, y: 0, width: 0, height: 0), area: 0))
                minX.append(Int.max); minY.append(Int.max); maxX.append(Int.min); maxY.append(Int.min)
            }
            let y = Int(runRow[i]), x0 = Int(runStart[i]), x1 = Int(runEnd[i])
            let len = x1 - x0
            // sum of x over [x0, x1) and of x^2, by closed forms.
            let sx = (x0 + x1 - 1) * len / 2
            let sxx = sumOfSquares(x1 - 1) - sumOfSquares(x0 - 1)
            components[s].area += len
            var strong = 0
            let rowStart = y * width
            for x in x0..<x1 where mask[rowStart + x] == 255 { strong += 1 }
            components[s].strongArea += strong
            components[s].sumX += sx
            components[s].sumY += y * len
            components[s].sumXX += sxx
            components[s].sumYY += y * y * len
            components[s].sumXY += y * sx
            minX[s] = min(minX[s], x0); maxX[s] = max(maxX[s], x1)
            minY[s] = min(minY[s], y); maxY[s] = max(maxY[s], y + 1)
        }
        }}}}}
        var out: [Component] = []
        out.reserveCapacity(components.count)
        for s in 0..<components.count where components[s].area >= minimumArea
            && components[s].strongArea > 0 && Double(components[s].strongArea) >= minimumStrongFraction * Double(components[s].area) {
            var c = components[s]
            c.box = Box(x: minX[s], y: minY[s], width: maxX[s] - minX[s], height: maxY[s] - minY[s])
            out.append(c)
        }
        return out
    }
}

/// 0^2 + 1^2 + ... + n^2 (0 for n < 0).
@inline(__always) private func sumOfSquares(_ n: Int) -> Int { n < 0 ? 0 : n * (n + 1) * (2 * n + 1) / 6 }

/// Convenience: the 8-connected components of a mask.
public func connectedComponents(_ mask: GrayImage, minimumArea: Int = 1) -> [Component] {
    ComponentLabeller().label(mask, minimumArea: minimumArea)
}

/// Clears the pixels of component `c` from `mask` (`width` pixels a row): a flood fill of the
/// 8-connected ink within its box (which holds all of it; other ink there is not connected to
/// it and stays), from the first ink of the box's top row, which is taken to be the
/// component's own (its top row holds its pixels; only another blob reaching into the corner
/// of its box could come first there).
public func erase(_ c: Component, from mask: UnsafeMutableBufferPointer<UInt8>, width w: Int) {
    let b = c.box
    var stack: [Int] = []
    search: for y in b.y..<b.maxY {
        for x in b.x..<b.maxX where mask[y * w + x] != 0 { stack.append(y * w + x); break search }
    }
    guard let first = stack.first else { return }
    mask[first] = 0
    while let p = stack.popLast() {
        let x = p % w, y = p / w
        for dy in -1...1 {
            let yy = y + dy
            guard yy >= b.y, yy < b.maxY else { continue }
            for dx in -1...1 {
                let xx = x + dx
                guard xx >= b.x, xx < b.maxX, mask[yy * w + xx] != 0 else { continue }
                mask[yy * w + xx] = 0
                stack.append(yy * w + xx)
            }
        }
    }
}
