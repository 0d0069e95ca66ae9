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
