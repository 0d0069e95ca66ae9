import Imaging

/// Salt-and-pepper noise: isolated pixels far darker or lighter than all four of their
/// neighbours (a scanner's dust, dead or hot sensor pixels). Each one is a speck of "ink" on the
/// paper or a hole in a stroke, so a page strewn with them loses digits to fragments merged
/// onto them and to broken strokes; a 3x3 median takes them away and leaves strokes (two pixels
/// wide or more) as they are.

/// The share of sampled pixels (every 12th of every 12th row) that stand out from all four
/// neighbours by at least `contrast` levels, darker or lighter.
public func speckleFraction(_ image: GrayImage, contrast: Int = 60) -> Double {
    let w = image.width, h = image.height
    guard w >= 3, h >= 3 else { return 0 }
    var spikes = 0, samples = 0
    image.pixels.withUnsafeBufferPointer { p in
        var y = 1
        while y < h - 1 {
            var x = 1
            while x < w - 1 {
                let v = Int(p[y * w + x])
                let l = Int(p[y * w + x - 1]), r = Int(p[y * w + x + 1])
                let u = Int(p[(y - 1) * w + x]), d = Int(p[(y + 1) * w + x])
                let lo = min(min(l, r), min(u, d)), hi = max(max(l, r), max(u, d))
                if v + contrast <= lo || v - contrast >= hi { spikes += 1 }
                samples += 1
                x += 12
            }
            y += 12
        }
    }
    return Double(spikes) / Double(max(samples, 1))
}

/// Lane-wise min and max of byte vectors, as a compare and a select (they compile to vpminub
/// and vpmaxub). Kept as free functions and used without nested helpers: a nested function
/// taking the vectors inout or returning a pair was not inlined, and the calls cost 4x.
@inline(__always) private func lanesMin(_ a: SIMD16<UInt8>, _ b: SIMD16<UInt8>) -> SIMD16<UInt8> { a.replacing(with: b, where: b .< a) }
@inline(__always) private func lanesMax(_ a: SIMD16<UInt8>, _ b: SIMD16<UInt8>) -> SIMD16<UInt8> { a.replacing(with: b, where: b .> a) }

/// Sixteen medians of 3x3 neighbourhoods: outputs `o + i` for the sixteen pixels from `s + i`
/// (`w` bytes a row; the rows above and below and the columns either side must exist), through
/// a 19-exchange median-of-nine network.
@inline(__always) private func medianSixteen(_ s: UnsafeRawPointer, _ o: UnsafeMutablePointer<UInt8>, _ i: Int, _ w: Int) {
    typealias V = SIMD16<UInt8>
    var p0 = s.loadUnaligned(fromByteOffset: i - w - 1, as: V.self), p1 = s.loadUnaligned(fromByteOffset: i - w, as: V.self)
    var p2 = s.loadUnaligned(fromByteOffset: i - w + 1, as: V.self), p3 = s.loadUnaligned(fromByteOffset: i - 1, as: V.self)
    var p4 = s.loadUnaligned(fromByteOffset: i, as: V.self), p5 = s.loadUnaligned(fromByteOffset: i + 1, as: V.self)
    var p6 = s.loadUnaligned(fromByteOffset: i + w - 1, as: V.self), p7 = s.loadUnaligned(fromByteOffset: i + w, as: V.self)
    var p8 = s.loadUnaligned(fromByteOffset: i + w + 1, as: V.self)
    (p1, p2) = (lanesMin(p1, p2), lanesMax(p1, p2))
    (p4, p5) = (lanesMin(p4, p5), lanesMax(p4, p5))
    (p7, p8) = (lanesMin(p7, p8), lanesMax(p7, p8))
    (p0, p1) = (lanesMin(p0, p1), lanesMax(p0, p1))
    (p3, p4) = (lanesMin(p3, p4), lanesMax(p3, p4))
    (p6, p7) = (lanesMin(p6, p7), lanesMax(p6, p7))
    (p1, p2) = (lanesMin(p1, p2), lanesMax(p1, p2))
    (p4, p5) = (lanesMin(p4, p5), lanesMax(p4, p5))
    (p7, p8) = (lanesMin(p7, p8), lanesMax(p7, p8))
    p3 = lanesMax(p0, p3)
    p5 = lanesMin(p5, p8)
    (p4, p7) = (lanesMin(p4, p7), lanesMax(p4, p7))
    p6 = lanesMax(p3, p6)
    p4 = lanesMax(p1, p4)
    p2 = lanesMin(p2, p5)
    p4 = lanesMin(p4, p7)
    (p4, p2) = (lanesMin(p4, p2), lanesMax(p4, p2))
    p4 = lanesMax(p6, p4)
    p4 = lanesMin(p4, p2)
    UnsafeMutableRawPointer(o + i).storeBytes(of: p4, as: V.self)
}

/// 3x3 median of `src` (`width x height`) into `dst`; the outermost rows and columns are copied.
/// Sixteen pixels at a time (`medianSixteen`).
public func medianFilter3x3(_ src: UnsafeBufferPointer<UInt8>, width w: Int, height h: Int,
                            into dst: UnsafeMutableBufferPointer<UInt8>) {
    precondition(src.count >= w * h && dst.count >= w * h)
    guard w >= 3, h >= 3 else {
        for i in 0..<(w * h) { dst[i] = src[i] }
        return
    }
    let s = UnsafeRawPointer(src.baseAddress!), o = dst.baseAddress!
    for x in 0..<w { o[x] = src[x]; o[(h - 1) * w + x] = src[(h - 1) * w + x] }
    for y in 1..<(h - 1) {
        let row = y * w
        o[row] = src[row]; o[row + w - 1] = src[row + w - 1]
        if w - 2 >= 16 {
            var x = 1
            while x + 16 <= w - 1 { medianSixteen(s, o, row + x, w); x += 16 }
            if x < w - 1 { medianSixteen(s, o, row + w - 1 - 16, w) }      // the last sixteen again, overlapping
        } else {
            for x in 1..<(w - 1) {
                var n: [UInt8] = []
                for dy in -1...1 { for dx in -1...1 { n.append(src[row + dy * w + x + dx]) } }
                n.sort()
                o[row + x] = n[4]
            }
        }
    }
}
