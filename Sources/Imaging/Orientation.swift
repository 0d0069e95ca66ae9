/// The EXIF orientation of a photo: phones store the sensor's pixels as they came and a tag
/// saying how to turn them for viewing (a page shot in portrait is stored on its side). Image
/// viewers honour it, so the boxes digitd reports are in the picture as the viewer shows it.
public enum EXIFOrientation: Int, Sendable {
    case upright = 1, mirrored = 2, upsideDown = 3, mirroredUpsideDown = 4
    case transposed = 5, turnedClockwise = 6, transverse = 7, turnedCounterclockwise = 8

    /// Whether the picture as shown is the stored one with width and height swapped.
    public var swapsSides: Bool { rawValue >= 5 }

    /// The stored pixel shown at (x, y) of the picture as shown (`w x h` stored).
    @inline(__always) func source(_ x: Int, _ y: Int, w: Int, h: Int) -> (x: Int, y: Int) {
        switch self {
        case .upright: return (x, y)
        case .mirrored: return (w - 1 - x, y)
        case .upsideDown: return (w - 1 - x, h - 1 - y)
        case .mirroredUpsideDown: return (x, h - 1 - y)
        case .transposed: return (y, x)
        case .turnedClockwise: return (y, h - 1 - x)
        case .transverse: return (w - 1 - y, h - 1 - x)
        case .turnedCounterclockwise: return (w - 1 - y, x)
        }
    }

    /// `pixels` (`w x h`, `channels` bytes each) as shown; returns the shown width and height.
    func apply(_ pixels: [UInt8], w: Int, h: Int, channels: Int) -> (width: Int, height: Int, pixels: [UInt8]) {
        if self == .upright { return (w, h, pixels) }
        let ow = swapsSides ? h : w, oh = swapsSides ? w : h
        var out = [UInt8](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<oh {
                    for x in 0..<ow {
                        let s = source(x, y, w: w, h: h)
                        let from = (s.y * w + s.x) * channels, to = (y * ow + x) * channels
                        for c in 0..<channels { dst[to + c] = src[from + c] }
                    }
                }
            }
        }
        return (ow, oh, out)
    }

    /// The orientation tag (0x0112) of a JPEG's EXIF segment (APP1 "Exif\0\0", then a TIFF
    /// header and its first directory), read before the first scan; `.upright` when there is
    /// none or it is malformed (a broken tag never stops a picture from being read).
    /// (One tag of one directory: a library such as libexif would be a dependency for 40 lines.)
    public static func ofJPEG(_ b: UnsafeRawBufferPointer) -> EXIFOrientation {
        var i = 2
        while i + 4 <= b.count, b[i] == 0xFF {
            let marker = b[i + 1]
            if marker == 0xFF { i += 1; continue }                  // fill byte
            if marker == 0xDA || marker == 0xD9 { break }           // start of scan, end of image
            let length = Int(b[i + 2]) << 8 | Int(b[i + 3])
            guard length >= 2, i + 2 + length <= b.count else { break }
            if marker == 0xE1, length >= 16,
               b[i + 4] == 0x45, b[i + 5] == 0x78, b[i + 6] == 0x69, b[i + 7] == 0x66, b[i + 8] == 0, b[i + 9] == 0 {
                return orientation(tiff: UnsafeRawBufferPointer(rebasing: b[(i + 10)..<(i + 2 + length)])) ?? .upright
            }
            i += 2 + length
        }
        return .upright
    }

    private static func orientation(tiff t: UnsafeRawBufferPointer) -> EXIFOrientation? {
        guard t.count >= 8 else { return nil }
        let little: Bool
        switch (t[0], t[1]) {
        case (0x49, 0x49): little = true
        case (0x4D, 0x4D): little = false
        default: return nil
        }
        func u16(_ o: Int) -> Int? {
            guard o >= 0, o + 2 <= t.count else { return nil }
            return little ? Int(t[o]) | Int(t[o + 1]) << 8 : Int(t[o]) << 8 | Int(t[o + 1])
        }
        func u32(_ o: Int) -> Int? {
            guard let a = u16(o), let b = u16(o + 2) else { return nil }
            return little ? a | b << 16 : a << 16 | b
        }
        guard u16(2) == 42, let ifd = u32(4), let entries = u16(ifd) else { return nil }
        for k in 0..<entries {
            let e = ifd + 2 + 12 * k
            guard let tag = u16(e) else { return nil }
            // Type 3 (SHORT), count 1: the value sits in the first two bytes of the value field.
            if tag == 0x0112, u16(e + 2) == 3, let v = u16(e + 8) { return EXIFOrientation(rawValue: v) }
        }
        return nil
    }
}
