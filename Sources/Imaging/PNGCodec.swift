import CPNG

// PNG through libpng's "simplified" API (png_image_*), which reports errors by return value
// rather than longjmp, so Swift can call it directly.

private func pngFault(_ image: inout png_image) -> String {
    let text = withUnsafeBytes(of: &image.message) { raw -> String in
        let chars = raw.bindMemory(to: CChar.self)
        let end = chars.firstIndex(of: 0) ?? chars.count
        return String(decoding: raw.prefix(end), as: UTF8.self)
    }
    return text.isEmpty ? "corrupt PNG data" : "corrupt PNG: \(text)"
}

private func decodePNG(_ bytes: UnsafeRawBufferPointer, format: UInt32, channels: Int) throws -> (Int, Int, [UInt8]) {
    guard bytes.count > 0, let base = bytes.baseAddress else { throw ImageError(fault: "empty file") }
    var image = png_image()
    image.version = UInt32(PNG_IMAGE_VERSION)
    guard png_image_begin_read_from_memory(&image, base, bytes.count) != 0 else {
        throw ImageError(fault: pngFault(&image))
    }
    let width = Int(image.width), height = Int(image.height)
    do { try ImageLimits.check(width: width, height: height) } catch {
        png_image_free(&image)
        throw error
    }
    image.format = format
    // Transparent pixels are composed on white paper.
    var white = png_color(red: 255, green: 255, blue: 255)
    var ok: Int32 = 0
    let pixels = [UInt8](unsafeUninitializedCapacity: width * height * channels) { buffer, count in
        buffer.initialize(repeating: 255)
        ok = png_image_finish_read(&image, &white, buffer.baseAddress, 0, nil)
        count = buffer.count
    }
    guard ok != 0 else { throw ImageError(fault: pngFault(&image)) }
    return (width, height, pixels)
}

/// Decodes a PNG of any colour type and depth to 8-bit gray.
public func decodePNGGray(_ bytes: UnsafeRawBufferPointer) throws -> GrayImage {
    let (w, h, p) = try decodePNG(bytes, format: UInt32(PNG_FORMAT_GRAY), channels: 1)
    return GrayImage(width: w, height: h, pixels: p)
}

/// Decodes a PNG of any colour type and depth to 8-bit RGB.
public func decodePNGRGB(_ bytes: UnsafeRawBufferPointer) throws -> RGBImage {
    let (w, h, p) = try decodePNG(bytes, format: UInt32(PNG_FORMAT_RGB), channels: 3)
    return RGBImage(width: w, height: h, pixels: p)
}

private func encodePNG(_ pixels: [UInt8], width: Int, height: Int, format: UInt32) -> [UInt8] {
    var image = png_image()
    image.version = UInt32(PNG_IMAGE_VERSION)
    image.width = UInt32(width)
    image.height = UInt32(height)
    image.format = format
    var size = 0
    let sized = pixels.withUnsafeBytes { p in
        png_image_write_to_memory(&image, nil, &size, 0, p.baseAddress, 0, nil)
    }
    precondition(sized != 0, "encodePNG: \(pngFault(&image))")
    var output = [UInt8](repeating: 0, count: size)
    let written = output.withUnsafeMutableBytes { o in
        pixels.withUnsafeBytes { p in
            png_image_write_to_memory(&image, o.baseAddress, &size, 0, p.baseAddress, 0, nil)
        }
    }
    precondition(written != 0, "encodePNG: \(pngFault(&image))")
    return Array(output.prefix(size))
}

/// Encodes an 8-bit gray PNG.
public func encodePNG(_ image: GrayImage) -> [UInt8] {
    encodePNG(image.pixels, width: image.width, height: image.height, format: UInt32(PNG_FORMAT_GRAY))
}

/// Encodes an 8-bit RGB PNG.
public func encodePNG(_ image: RGBImage) -> [UInt8] {
    encodePNG(image.pixels, width: image.width, height: image.height, format: UInt32(PNG_FORMAT_RGB))
}
