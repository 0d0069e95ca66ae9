extension RGBImage {
    /// Rec.601 luma, (77 R + 150 G + 29 B) / 256, as JPEG's Y channel.
    public func grayscale() -> GrayImage {
        let n = width * height
        let out = [UInt8](unsafeUninitializedCapacity: n) { o, count in
            pixels.withUnsafeBufferPointer { p in
                for i in 0..<n {
                    let r = UInt32(p[3 * i]), g = UInt32(p[3 * i + 1]), b = UInt32(p[3 * i + 2])
                    o[i] = UInt8((77 * r + 150 * g + 29 * b + 128) >> 8)
                }
            }
            count = n
        }
        return GrayImage(width: width, height: height, pixels: out)
    }
}

extension GrayImage {
    /// The same picture with R = G = B, for drawing coloured annotations on it.
    public func rgb() -> RGBImage {
        let n = width * height
        let out = [UInt8](unsafeUninitializedCapacity: n * 3) { o, count in
            pixels.withUnsafeBufferPointer { p in
                for i in 0..<n { let v = p[i]; o[3 * i] = v; o[3 * i + 1] = v; o[3 * i + 2] = v }
            }
            count = n * 3
        }
        return RGBImage(width: width, height: height, pixels: out)
    }

    /// Black becomes white and white black.
    public func inverted() -> GrayImage {
        GrayImage(width: width, height: height, pixels: pixels.map { 255 &- $0 })
    }
}
