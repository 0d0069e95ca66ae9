import Foundation

/// The container formats recognised by their first bytes (not by file name).
public enum ImageFormat: String, Sendable {
    case jpeg, png, pnm

    /// Sniffs the magic bytes: FF D8 FF (JPEG), 89 'PNG' (PNG), 'P2'/'P3'/'P5'/'P6' (Netpbm).
    public static func detect(_ b: UnsafeRawBufferPointer) -> ImageFormat? {
        if b.count >= 3, b[0] == 0xFF, b[1] == 0xD8, b[2] == 0xFF { return .jpeg }
        if b.count >= 8, b[0] == 0x89, b[1] == 0x50, b[2] == 0x4E, b[3] == 0x47 { return .png }
        if b.count >= 2, b[0] == UInt8(ascii: "P"), [0x32, 0x33, 0x35, 0x36].contains(b[1]) { return .pnm }
        return nil
    }
}

/// Reads a whole file; errors name the file.
public func readFileBytes(path: String) throws -> [UInt8] {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw ImageError(path: path, fault: "no such file")
    }
    guard !isDirectory.boolValue else { throw ImageError(path: path, fault: "is a directory, not an image") }
    guard let handle = FileHandle(forReadingAtPath: path) else {
        throw ImageError(path: path, fault: "cannot open (permission denied?)")
    }
    defer { try? handle.close() }
    do {
        return [UInt8](try handle.readToEnd() ?? Data())
    } catch {
        throw ImageError(path: path, fault: "cannot read: \(error.localizedDescription)")
    }
}

/// Writes bytes to a file, replacing it; errors name the file.
public func writeFileBytes(_ bytes: [UInt8], path: String) throws {
    do {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    } catch {
        throw ImageError(path: path, fault: "cannot write: \(error.localizedDescription)")
    }
}

/// Decodes JPEG, PNG, PGM or PPM bytes (format from the magic bytes) to gray.
public func decodeGrayImage(_ bytes: UnsafeRawBufferPointer) throws -> GrayImage {
    guard bytes.count > 0 else { throw ImageError(fault: "empty file") }
    switch ImageFormat.detect(bytes) {
    case .jpeg: return try decodeJPEGGray(bytes)
    case .png: return try decodePNGGray(bytes)
    case .pnm: return try decodePNMGray(bytes)
    case nil: throw ImageError(fault: "not a JPEG, PNG, PGM or PPM image")
    }
}

/// Decodes JPEG, PNG, PGM or PPM bytes (format from the magic bytes) to RGB.
public func decodeRGBImage(_ bytes: UnsafeRawBufferPointer) throws -> RGBImage {
    guard bytes.count > 0 else { throw ImageError(fault: "empty file") }
    switch ImageFormat.detect(bytes) {
    case .jpeg: return try decodeJPEGRGB(bytes)
    case .png: return try decodePNGRGB(bytes)
    case .pnm: return try decodePNMRGB(bytes)
    case nil: throw ImageError(fault: "not a JPEG, PNG, PGM or PPM image")
    }
}

/// Loads an image file as gray. Errors are `ImageError`s naming `path`.
public func loadGrayImage(path: String) throws -> GrayImage {
    let bytes = try readFileBytes(path: path)
    do { return try bytes.withUnsafeBytes { try decodeGrayImage($0) } }
    catch let e as ImageError { throw e.at(path) }
}

/// Loads an image file as RGB. Errors are `ImageError`s naming `path`.
public func loadRGBImage(path: String) throws -> RGBImage {
    let bytes = try readFileBytes(path: path)
    do { return try bytes.withUnsafeBytes { try decodeRGBImage($0) } }
    catch let e as ImageError { throw e.at(path) }
}

/// Saves by extension: .png, .jpg/.jpeg, .pgm; anything else is PNG.
public func saveImage(_ image: GrayImage, path: String) throws {
    let ext = (path as NSString).pathExtension.lowercased()
    let bytes = ext == "jpg" || ext == "jpeg" ? encodeJPEG(image) : ext == "pgm" ? encodePGM(image) : encodePNG(image)
    try writeFileBytes(bytes, path: path)
}

/// Saves by extension: .png, .jpg/.jpeg, .ppm; anything else is PNG.
public func saveImage(_ image: RGBImage, path: String) throws {
    let ext = (path as NSString).pathExtension.lowercased()
    let bytes = ext == "jpg" || ext == "jpeg" ? encodeJPEG(image) : ext == "ppm" ? encodePPM(image) : encodePNG(image)
    try writeFileBytes(bytes, path: path)
}
