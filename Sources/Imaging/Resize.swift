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
    let area = UInt32(factor * factor), half = area / 2
    withUnsafeTemporaryAllocation(of: UInt32.self, capacity: max(ow, 1)) { sums in
        for oy in 0..<oh {
            for ox in 0..<ow { sums[ox] = 0 }
            for dy in 0..<factor {
                let row = (oy * factor + dy) * width
                var sx = row
                for ox in 0..<ow {
                    var s: UInt32 = 0
                    for _ in 0..<factor { s &+= UInt32(source[sx]); sx += 1 }
                    sums[ox] &+= s
                }
            }
            let o = oy * ow
            for ox in 0..<ow { destination[o + ox] = UInt8((sums[ox] + half) / area) }
        }
    }
}
