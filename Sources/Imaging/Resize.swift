extension GrayImage {
    /// Shrinks by an integer `factor`, each output pixel the mean of a `factor x factor` block
    /// (area averaging: no aliasing, and it averages sensor noise away). Edge pixels that do not
    /// fill a whole block are dropped: the result is `width / factor x height / factor`.
    public func downscaled(by factor: Int) -> GrayImage {
        precondition(factor >= 1, "downscaled(by:): factor \(factor)")
        if factor == 1 { return self }
        let ow = width / factor, oh = height / factor
        var out = GrayImage(width: ow, height: oh)
        pixels.withUnsafeBufferPointer { src in
            out.pixels.withUnsafeMutableBufferPointer { dst in
                downscale(src, width: width, height: height, factor: factor, into: dst)
            }
        }
        return out
    }
}

/// Area-averaging integer downscale of `source` (`width x height`) into `destination`
/// (`(width / factor) x (height / factor)`). No allocation except one row of sums.
public func downscale(_ source: UnsafeBufferPointer<UInt8>, width: Int, height: Int, factor: Int,
                      into destination: UnsafeMutableBufferPointer<UInt8>) {
    let ow = width / factor, oh = height / factor
    precondition(source.count >= width * height && destination.count >= ow * oh)
    guard ow > 0, oh > 0 else { return }
    let src = source.baseAddress!, dst = destination.baseAddress!
    switch factor {
    case 2:
        // The common case (1280x720 -> 640x360): two rows at a time, 16 output pixels per step
        // (even and odd lanes of 32 input bytes), then the tail one pixel at a time.
        for oy in 0..<oh {
            let r0 = src + 2 * oy * width, r1 = r0 + width
            let out = dst + oy * ow
            var ox = 0
            while ox + 16 <= ow {
                let a = SIMD32<UInt16>(truncatingIfNeeded: UnsafeRawPointer(r0 + 2 * ox).loadUnaligned(as: SIMD32<UInt8>.self))
                let b = SIMD32<UInt16>(truncatingIfNeeded: UnsafeRawPointer(r1 + 2 * ox).loadUnaligned(as: SIMD32<UInt8>.self))
                let s = a.evenHalf &+ a.oddHalf &+ b.evenHalf &+ b.oddHalf
                UnsafeMutableRawPointer(out + ox).storeBytes(of: SIMD16<UInt8>(truncatingIfNeeded: (s &+ 2) &>> 2),
                                                             as: SIMD16<UInt8>.self)
                ox += 16
            }
            while ox < ow {
                let s = UInt16(r0[2 * ox]) &+ UInt16(r0[2 * ox + 1]) &+ UInt16(r1[2 * ox]) &+ UInt16(r1[2 * ox + 1])
                out[ox] = UInt8(truncatingIfNeeded: (s &+ 2) >> 2)
                ox += 1
            }
        }
    case 3:
        // 1920x1080 -> 640x360: column sums of three rows, then triples of them; 16 at a time.
        withUnsafeTemporaryAllocation(of: UInt16.self, capacity: 3 * ow + 48) { sums in
            let cs = sums.baseAddress!
            for oy in 0..<oh {
                let r0 = src + 3 * oy * width, r1 = r0 + width, r2 = r1 + width
                let n = 3 * ow
                var x = 0
                while x + 16 <= n {
                    let v = SIMD16<UInt16>(truncatingIfNeeded: UnsafeRawPointer(r0 + x).loadUnaligned(as: SIMD16<UInt8>.self))
                        &+ SIMD16<UInt16>(truncatingIfNeeded: UnsafeRawPointer(r1 + x).loadUnaligned(as: SIMD16<UInt8>.self))
                        &+ SIMD16<UInt16>(truncatingIfNeeded: UnsafeRawPointer(r2 + x).loadUnaligned(as: SIMD16<UInt8>.self))
                    UnsafeMutableRawPointer(cs + x).storeBytes(of: v, as: SIMD16<UInt16>.self)
                    x += 16
                }
                while x < n { cs[x] = UInt16(r0[x]) &+ UInt16(r1[x]) &+ UInt16(r2[x]); x += 1 }
                let out = dst + oy * ow
                for ox in 0..<ow {
                    let i = 3 * ox
                    let s = UInt32(cs[i]) &+ UInt32(cs[i + 1]) &+ UInt32(cs[i + 2])
                    out[ox] = UInt8(truncatingIfNeeded: (s &* 7282 &+ 32768) >> 16)   // / 9, rounded
                }
            }
        }
    default:
        let area = UInt32(factor * factor), half = area / 2
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: ow) { sums in
            for oy in 0..<oh {
                for ox in 0..<ow { sums[ox] = 0 }
                for dy in 0..<factor {
                    var p = src + (oy * factor + dy) * width
                    for ox in 0..<ow {
                        var s: UInt32 = 0
                        for _ in 0..<factor { s &+= UInt32(p.pointee); p += 1 }
                        sums[ox] &+= s
                    }
                }
                let out = dst + oy * ow
                for ox in 0..<ow { out[ox] = UInt8(truncatingIfNeeded: (sums[ox] + half) / area) }
            }
        }
    }
}
