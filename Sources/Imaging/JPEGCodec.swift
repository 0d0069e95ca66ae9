import CJPEG
import Glibc

// JPEG through libjpeg-turbo. The setjmp-based error handling lives in the CJPEG shim
// (digitd_jpeg_*); these functions turn its status and message into ImageError.

private func jpegFault(_ message: [CChar]) -> String {
    let text = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    return text.isEmpty ? "corrupt JPEG data" : "corrupt JPEG: \(text)"
}

/// Reads a JPEG's size without decoding it.
public func jpegSize(_ bytes: UnsafeRawBufferPointer) throws -> (width: Int, height: Int, components: Int) {
    guard bytes.count > 0, let base = bytes.baseAddress else { throw ImageError(fault: "empty file") }
    var width: Int32 = 0, height: Int32 = 0, components: Int32 = 0
    var message = [CChar](repeating: 0, count: Int(JMSG_LENGTH_MAX))
    let status = digitd_jpeg_read_size(base.assumingMemoryBound(to: UInt8.self), UInt(bytes.count),
                                       &width, &height, &components, &message)
    guard status == 0 else { throw ImageError(fault: jpegFault(message)) }
    return (Int(width), Int(height), Int(components))
}

private func decodeJPEG(_ bytes: UnsafeRawBufferPointer, gray: Bool) throws -> (width: Int, height: Int, pixels: [UInt8]) {
    let size = try jpegSize(bytes)
    try ImageLimits.check(width: size.width, height: size.height)
    let channels = gray ? 1 : 3
    var message = [CChar](repeating: 0, count: Int(JMSG_LENGTH_MAX))
    var status: Int32 = 0
    let pixels = [UInt8](unsafeUninitializedCapacity: size.width * size.height * channels) { buffer, count in
        status = digitd_jpeg_decode(bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt(bytes.count),
                                    gray ? 1 : 0, buffer.baseAddress!, Int32(size.width), Int32(size.height), &message)
        // On failure the buffer may be partly written; it is dropped below, never read.
        if status != 0 { buffer.initialize(repeating: 0) }
        count = buffer.count
    }
    guard status == 0 else { throw ImageError(fault: jpegFault(message)) }
    return (size.width, size.height, pixels)
}

/// Decodes a JPEG straight to gray (libjpeg keeps only the luma channel: no colour conversion),
/// turned as its EXIF orientation says (see `EXIFOrientation`).
public func decodeJPEGGray(_ bytes: UnsafeRawBufferPointer) throws -> GrayImage {
    let d = try decodeJPEG(bytes, gray: true)
    let o = EXIFOrientation.ofJPEG(bytes).apply(d.pixels, w: d.width, h: d.height, channels: 1)
    return GrayImage(width: o.width, height: o.height, pixels: o.pixels)
}

/// Decodes a JPEG to 8-bit RGB, turned as its EXIF orientation says.
public func decodeJPEGRGB(_ bytes: UnsafeRawBufferPointer) throws -> RGBImage {
    let d = try decodeJPEG(bytes, gray: false)
    let o = EXIFOrientation.ofJPEG(bytes).apply(d.pixels, w: d.width, h: d.height, channels: 3)
    return RGBImage(width: o.width, height: o.height, pixels: o.pixels)
}

public func decodeJPEGGray(_ bytes: [UInt8]) throws -> GrayImage {
    try bytes.withUnsafeBytes { try decodeJPEGGray($0) }
}

public func decodeJPEGRGB(_ bytes: [UInt8]) throws -> RGBImage {
    try bytes.withUnsafeBytes { try decodeJPEGRGB($0) }
}

private func encodeJPEG(_ pixels: [UInt8], width: Int, height: Int, components: Int, quality: Int) -> [UInt8] {
    var output: UnsafeMutablePointer<UInt8>? = nil
    var outputSize: UInt = 0
    var message = [CChar](repeating: 0, count: Int(JMSG_LENGTH_MAX))
    let status = pixels.withUnsafeBufferPointer { p in
        digitd_jpeg_encode(p.baseAddress, Int32(width), Int32(height), Int32(components),
                           Int32(max(1, min(100, quality))), &output, &outputSize, &message)
    }
    // Encoding our own well-formed buffer can only fail through a bug (or out of memory).
    precondition(status == 0, "encodeJPEG: \(jpegFault(message))")
    defer { free(output) }
    return Array(UnsafeBufferPointer(start: output, count: Int(outputSize)))
}

/// Encodes gray pixels as a baseline JPEG; `quality` 1...100.
public func encodeJPEG(_ image: GrayImage, quality: Int = 90) -> [UInt8] {
    encodeJPEG(image.pixels, width: image.width, height: image.height, components: 1, quality: quality)
}

/// Encodes RGB pixels as a baseline JPEG; `quality` 1...100.
public func encodeJPEG(_ image: RGBImage, quality: Int = 90) -> [UInt8] {
    encodeJPEG(image.pixels, width: image.width, height: image.height, components: 3, quality: quality)
}
