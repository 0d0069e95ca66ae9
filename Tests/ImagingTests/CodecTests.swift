import Foundation
import Testing
@testable import Imaging

/// A 64x48 gradient with a dark square, so every codec has something to keep.
private func sampleGray() -> GrayImage {
    var g = GrayImage(width: 64, height: 48)
    for y in 0..<48 { for x in 0..<64 { g[x, y] = UInt8(60 + x * 2 + y) } }
    g.fill(Box(x: 20, y: 10, width: 16, height: 20), value: 10)
    return g
}

private func temporaryPath(_ name: String) -> String {
    NSTemporaryDirectory() + "digitd-imaging-\(getpid())-\(name)"
}

@Test func png_roundTripsGrayAndRGBExactly() throws {
    let g = sampleGray()
    let decoded = try encodePNG(g).withUnsafeBytes { try decodePNGGray($0) }
    #expect(decoded == g)
    var rgb = RGBImage(width: 5, height: 3, fill: (10, 200, 30))
    rgb.setPixel(x: 4, y: 2, (255, 0, 128))
    let back = try encodePNG(rgb).withUnsafeBytes { try decodePNGRGB($0) }
    #expect(back == rgb)
}

@Test func jpeg_roundTripsWithinCompressionError() throws {
    let g = sampleGray()
    let bytes = encodeJPEG(g, quality: 95)
    #expect(bytes.withUnsafeBytes { ImageFormat.detect($0) } == .jpeg)
    let decoded = try decodeJPEGGray(bytes)
    #expect(decoded.width == 64 && decoded.height == 48)
    let worst = zip(decoded.pixels, g.pixels).map { abs(Int($0) - Int($1)) }.max()!
    #expect(worst < 24)
    // Colour JPEG decodes to gray as its luma.
    let rgb = g.rgb()
    let viaRGB = try decodeJPEGGray(encodeJPEG(rgb, quality: 95))
    #expect(zip(viaRGB.pixels, g.pixels).map { abs(Int($0) - Int($1)) }.max()! < 24)
    let colour = try decodeJPEGRGB(encodeJPEG(rgb, quality: 95))
    #expect(colour.width == 64 && colour.pixels.count == 64 * 48 * 3)
}

@Test func pnm_readsBinaryAndPlainGrayAndColour() throws {
    let g = sampleGray()
    #expect(try encodePGM(g).withUnsafeBytes { try decodePNMGray($0) } == g)
    let plain = Array("P2\n# a comment\n3 2\n255\n0 128 255\n10 20 30\n".utf8)
    let p = try plain.withUnsafeBytes { try decodePNMGray($0) }
    #expect(p.pixels == [0, 128, 255, 10, 20, 30])
    let ppm = Array("P6 1 1 255\n".utf8) + [255, 0, 0]
    let red = try ppm.withUnsafeBytes { try decodePNMGray($0) }
    #expect(red.pixels == [77])   // Rec.601 luma of pure red: (77 * 255 + 128) / 256
    // 16-bit samples keep their high byte.
    let deep = Array("P5 2 1 65535\n".utf8) + [0xFF, 0xFF, 0x80, 0x00]
    #expect(try deep.withUnsafeBytes { try decodePNMGray($0) }.pixels == [255, 128])
}

@Test func loadGrayImage_readsEachFormatByItsMagicBytes_notItsName() throws {
    let g = sampleGray()
    for (name, bytes) in [("a.dat", encodePNG(g)), ("b.png", encodePGM(g)), ("c.pgm", encodeJPEG(g, quality: 100))] {
        let path = temporaryPath(name)
        try writeFileBytes(bytes, path: path)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let loaded = try loadGrayImage(path: path)
        #expect(loaded.width == 64 && loaded.height == 48)
    }
}

/// The fault of loading `bytes` from a file, as the one line a user would see.
private func loadError(_ bytes: [UInt8], name: String) -> String? {
    let path = temporaryPath(name)
    try? writeFileBytes(bytes, path: path)
    defer { try? FileManager.default.removeItem(atPath: path) }
    do { _ = try loadGrayImage(path: path); return nil }
    catch { return "\(error)" }
}

@Test func badFiles_failWithOneLineNamingTheFile() throws {
    let jpeg = encodeJPEG(sampleGray(), quality: 90)
    let png = encodePNG(sampleGray())
    let cases: [(String, [UInt8], String)] = [
        ("empty.jpg", [], "empty"),
        ("garbage.jpg", Array("hello, this is not a picture".utf8), "not a JPEG, PNG, PGM or PPM"),
        ("truncated.jpg", Array(jpeg.prefix(jpeg.count / 2)), "JPEG"),
        ("header-only.jpg", Array(jpeg.prefix(20)), "JPEG"),
        ("truncated.png", Array(png.prefix(png.count / 2)), "PNG"),
        ("truncated.pgm", Array(encodePGM(sampleGray()).prefix(100)), "truncated"),
        ("huge.pgm", Array("P5 100000 100000 255\n".utf8), "too large"),
        ("zero.pgm", Array("P5 0 10 255\n".utf8), "no pixels"),
    ]
    for (name, bytes, fault) in cases {
        let message = loadError(bytes, name: name)
        #expect(message != nil, "\(name) should fail")
        #expect(message?.contains(name) == true, "\(name): \(message ?? "")")
        #expect(message?.contains(fault) == true, "\(name): \(message ?? "")")
        #expect(message?.contains("\n") == false)
    }
    #expect(throws: ImageError.self) { try loadGrayImage(path: "/nonexistent/dir/x.png") }
    #expect(throws: ImageError.self) { try loadGrayImage(path: NSTemporaryDirectory()) }
}

@Test func corruptJPEG_bodyIsAnErrorOrAPicture_neverACrash() throws {
    var jpeg = encodeJPEG(sampleGray(), quality: 90)
    // Scribble over the entropy-coded data in several places.
    for i in stride(from: jpeg.count / 3, to: jpeg.count - 2, by: 37) { jpeg[i] = 0xFF; jpeg[i + 1] = UInt8(i & 0x7F) }
    do {
        let g = try decodeJPEGGray(jpeg)
        #expect(g.width == 64)
    } catch let e as ImageError {
        #expect(!e.description.isEmpty)
    }
}

@Test func hugeJPEGHeader_isRejectedBeforeAllocating() throws {
    var jpeg = encodeJPEG(GrayImage(width: 8, height: 8, fill: 128), quality: 90)
    // Patch the SOF0 frame size to 60000 x 60000.
    for i in 0..<(jpeg.count - 8) where jpeg[i] == 0xFF && jpeg[i + 1] == 0xC0 {
        jpeg[i + 5] = 0xEA; jpeg[i + 6] = 0x60; jpeg[i + 7] = 0xEA; jpeg[i + 8] = 0x60
        break
    }
    #expect(throws: ImageError.self) { try decodeJPEGGray(jpeg) }
}

/// A JPEG with an EXIF segment holding orientation `value` (TIFF byte order `little` or big),
/// inserted after the start-of-image marker.
private func withEXIFOrientation(_ jpeg: [UInt8], _ value: Int, little: Bool) -> [UInt8] {
    func u16(_ v: Int) -> [UInt8] { little ? [UInt8(v & 255), UInt8(v >> 8)] : [UInt8(v >> 8), UInt8(v & 255)] }
    func u32(_ v: Int) -> [UInt8] { little ? u16(v & 0xFFFF) + u16(v >> 16) : u16(v >> 16) + u16(v & 0xFFFF) }
    // TIFF header, one directory of two entries (an unrelated tag first), no next directory.
    var tiff: [UInt8] = little ? [0x49, 0x49] : [0x4D, 0x4D]
    tiff += u16(42) + u32(8) + u16(2)
    tiff += u16(0x010F) + u16(2) + u32(4) + [0x41, 0x42, 0x43, 0]         // Make "ABC"
    tiff += u16(0x0112) + u16(3) + u32(1) + u16(value) + [0, 0]           // Orientation
    tiff += u32(0)
    let payload: [UInt8] = [0x45, 0x78, 0x69, 0x66, 0, 0] + tiff
    let segment: [UInt8] = [0xFF, 0xE1, UInt8((payload.count + 2) >> 8), UInt8((payload.count + 2) & 255)] + payload
    return Array(jpeg[0..<2]) + segment + Array(jpeg[2...])
}

/// A phone's portrait photo is stored on its side with an EXIF orientation; decoding turns it
/// as a viewer shows it: each of the eight orientations puts the stored corners where the EXIF
/// standard says, in both TIFF byte orders, for gray and RGB alike. A broken EXIF segment
/// leaves the picture as stored.
@Test func jpeg_honoursTheEXIFOrientation() throws {
    var g = GrayImage(width: 48, height: 32)
    for y in 0..<32 { for x in 0..<48 { g[x, y] = UInt8(20 + x * 3 + y * 2) } }
    let plain = encodeJPEG(g, quality: 95)
    let stored = try decodeJPEGGray(plain)
    let (w, h) = (stored.width, stored.height)
    // Where the stored top-left and top-right corners are shown, per orientation.
    let expected: [Int: (topLeft: (Int, Int), topRight: (Int, Int))] = [
        1: ((0, 0), (w - 1, 0)), 2: ((w - 1, 0), (0, 0)), 3: ((w - 1, h - 1), (0, h - 1)), 4: ((0, h - 1), (w - 1, h - 1)),
        5: ((0, 0), (0, w - 1)), 6: ((h - 1, 0), (h - 1, w - 1)), 7: ((h - 1, w - 1), (h - 1, 0)), 8: ((0, w - 1), (0, 0)),
    ]
    for little in [true, false] {
        for (value, corners) in expected {
            let bytes = withEXIFOrientation(plain, value, little: little)
            let shown = try decodeJPEGGray(bytes)
            #expect((shown.width, shown.height) == (value >= 5 ? (h, w) : (w, h)), "orientation \(value)")
            #expect(shown[corners.topLeft.0, corners.topLeft.1] == stored[0, 0], "orientation \(value)")
            #expect(shown[corners.topRight.0, corners.topRight.1] == stored[w - 1, 0], "orientation \(value)")
            #expect(shown.pixels.sorted() == stored.pixels.sorted())
            let rgb = try decodeJPEGRGB(bytes)
            #expect((rgb.width, rgb.height) == (shown.width, shown.height))
        }
    }
    // Broken segments: cut short, a directory offset past the end, an unknown value.
    var cut = withEXIFOrientation(plain, 6, little: true)
    cut[5] = 20   // the segment claims to be shorter than its TIFF data
    #expect(try decodeJPEGGray(cut) == stored)
    var far = withEXIFOrientation(plain, 6, little: true)
    far[2 + 4 + 6 + 4] = 0xF0   // first directory offset 0xF0 + 8
    #expect(try decodeJPEGGray(far) == stored)
    #expect(try decodeJPEGGray(withEXIFOrientation(plain, 9, little: true)) == stored)
}
