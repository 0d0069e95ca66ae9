// Netpbm PGM (P2, P5) and PPM (P3, P6), maxval up to 65535 (16-bit samples keep their high byte).

private struct PNMHeader {
    var magic: UInt8      // '2', '3', '5' or '6'
    var width: Int
    var height: Int
    var maxValue: Int
    var dataOffset: Int
}

private func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == 0x0B || c == 0x0C }

/// Reads one whitespace-separated decimal number, skipping `#` comments.
private func readNumber(_ b: UnsafeRawBufferPointer, _ i: inout Int) throws -> Int {
    while i < b.count {
        if isSpace(b[i]) { i += 1 }
        else if b[i] == UInt8(ascii: "#") { while i < b.count && b[i] != 0x0A { i += 1 } }
        else { break }
    }
    var value = 0, digits = 0
    while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
        value = value * 10 + Int(b[i] - 0x30)
        digits += 1; i += 1
        if value > 1 << 30 { throw ImageError(fault: "corrupt PNM header: number too large") }
    }
    guard digits > 0 else { throw ImageError(fault: i >= b.count ? "truncated PNM header" : "corrupt PNM header") }
    return value
}

private func readHeader(_ b: UnsafeRawBufferPointer) throws -> PNMHeader {
    guard b.count >= 2, b[0] == UInt8(ascii: "P"), [UInt8(ascii: "2"), UInt8(ascii: "3"), UInt8(ascii: "5"), UInt8(ascii: "6")].contains(b[1]) else {
        throw ImageError(fault: "not a PGM/PPM file")
    }
    var i = 2
    let width = try readNumber(b, &i)
    let height = try readNumber(b, &i)
    let maxValue = try readNumber(b, &i)
    guard (1...65535).contains(maxValue) else { throw ImageError(fault: "corrupt PNM header: maxval \(maxValue)") }
    try ImageLimits.check(width: width, height: height)
    // Exactly one whitespace byte separates the header from binary data.
    i += 1
    return PNMHeader(magic: b[1], width: width, height: height, maxValue: maxValue, dataOffset: i)
}

/// Decodes PGM/PPM samples into 8 bits per channel; `channels` is 1 or 3.
private func readSamples(_ b: UnsafeRawBufferPointer, _ h: PNMHeader) throws -> [UInt8] {
    let channels = (h.magic == UInt8(ascii: "3") || h.magic == UInt8(ascii: "6")) ? 3 : 1
    let count = h.width * h.height * channels
    var out = [UInt8](repeating: 0, count: count)
    let scale = { (v: Int) -> UInt8 in UInt8(min(255, (v * 255 + h.maxValue / 2) / h.maxValue)) }
    if h.magic == UInt8(ascii: "5") || h.magic == UInt8(ascii: "6") {
        let bytesPerSample = h.maxValue > 255 ? 2 : 1
        guard b.count - h.dataOffset >= count * bytesPerSample else {
            throw ImageError(fault: "truncated PNM data (\(max(0, b.count - h.dataOffset)) of \(count * bytesPerSample) bytes)")
        }
        for k in 0..<count {
            let o = h.dataOffset + k * bytesPerSample
            let v = bytesPerSample == 2 ? Int(b[o]) << 8 | Int(b[o + 1]) : Int(b[o])
            out[k] = h.maxValue == 255 ? UInt8(v) : scale(min(v, h.maxValue))
        }
    } else {
        var i = h.dataOffset - 1
        for k in 0..<count {
            let v = try readNumber(b, &i)
            out[k] = scale(min(v, h.maxValue))
        }
    }
    return out
}

/// Decodes a PGM or PPM to gray (colour is converted with Rec.601 luma weights).
public func decodePNMGray(_ bytes: UnsafeRawBufferPointer) throws -> GrayImage {
    let h = try readHeader(bytes)
    let samples = try readSamples(bytes, h)
    if samples.count == h.width * h.height { return GrayImage(width: h.width, height: h.height, pixels: samples) }
    return RGBImage(width: h.width, height: h.height, pixels: samples).grayscale()
}

/// Decodes a PGM or PPM to RGB.
public func decodePNMRGB(_ bytes: UnsafeRawBufferPointer) throws -> RGBImage {
    let h = try readHeader(bytes)
    let samples = try readSamples(bytes, h)
    if samples.count == h.width * h.height * 3 { return RGBImage(width: h.width, height: h.height, pixels: samples) }
    return GrayImage(width: h.width, height: h.height, pixels: samples).rgb()
}

/// Encodes a binary PGM (P5).
public func encodePGM(_ image: GrayImage) -> [UInt8] {
    Array("P5\n\(image.width) \(image.height)\n255\n".utf8) + image.pixels
}

/// Encodes a binary PPM (P6).
public func encodePPM(_ image: RGBImage) -> [UInt8] {
    Array("P6\n\(image.width) \(image.height)\n255\n".utf8) + image.pixels
}
