import Imaging

/// Groups digit boxes into numbers: neighbours on one text line, read left to right.
///
/// Two boxes are neighbours when their vertical extents overlap by at least half the shorter
/// one, their heights differ by less than a factor `maximumHeightRatio`, and the gap between
/// them is at most `maximumGap` times the taller height (half a digit height: the digits of a
/// number are written closer than that, and a wider space starts another number; 0.75 joined
/// numbers written side by side: on `digitd synth --score 400` seeds 1 / 500001 / 1000 numbers
/// read exactly 0.877 / 0.847 / 0.852 -> 0.889 / 0.863 / 0.861, and with large digits,
/// `--digit-height 0.14-0.28`, 0.748 -> 0.846; 0.6 / 0.55 / 0.45 gave 0.815 / 0.834 / 0.850
/// there and within 0.014 of 0.5 on the others). Each box links only to its nearest
/// qualifying neighbour on the right, so a number never jumps over a digit.
/// Returns groups of indices into `boxes`, each sorted left to right; groups ordered top to
/// bottom, then left to right. A lone digit is a group of one.
public func groupIntoNumbers(_ boxes: [Box], maximumGap: Double = 0.5, maximumHeightRatio: Double = 1.8) -> [[Int]] {
    let n = boxes.count
    var parent = Array(0..<n)
    func find(_ i: Int) -> Int { var r = i; while parent[r] != r { r = parent[r] }; return r }
    var linkedFromLeft = [Bool](repeating: false, count: n)
    let order = (0..<n).sorted { boxes[$0].x < boxes[$1].x }
    for a in order {
        let A = boxes[a]
        var best = -1, bestGap = Int.max
        for b in 0..<n where b != a && !linkedFromLeft[b] {
            let B = boxes[b]
            guard B.x * 2 + B.width > A.x * 2 + A.width else { continue }      // B's centre is right of A's
            let overlapY = min(A.maxY, B.maxY) - max(A.y, B.y)
            let shorter = min(A.height, B.height), taller = max(A.height, B.height)
            guard overlapY * 2 >= shorter, Double(taller) <= Double(shorter) * maximumHeightRatio else { continue }
            let gap = B.x - A.maxX
            guard Double(gap) <= maximumGap * Double(taller), gap * 2 >= -min(A.width, B.width) else { continue }
            if gap < bestGap { best = b; bestGap = gap }
        }
        if best >= 0 {
            linkedFromLeft[best] = true
            let ra = find(a), rb = find(best)
            if ra != rb { parent[rb] = ra }
        }
    }
    var groups: [Int: [Int]] = [:]
    for i in 0..<n { groups[find(i), default: []].append(i) }
    var result = groups.values.map { g in g.sorted { boxes[$0].x < boxes[$1].x } }
    result.sort { (boxes[$0[0]].y, boxes[$0[0]].x) < (boxes[$1[0]].y, boxes[$1[0]].x) }
    return result
}
