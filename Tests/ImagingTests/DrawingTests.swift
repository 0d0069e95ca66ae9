import Testing
@testable import Imaging

@Test func drawRectangle_drawsTheOutlineOnly_andClipsAtTheEdges() {
    var img = RGBImage(width: 20, height: 10)
    img.drawRectangle(Box(x: 2, y: 2, width: 6, height: 5), color: (255, 0, 0))
    func red(_ x: Int, _ y: Int) -> Bool { img.pixels[3 * (y * 20 + x)] == 255 }
    #expect(red(2, 2) && red(7, 2) && red(2, 6) && red(7, 6) && red(4, 2))
    #expect(!red(4, 4))       // inside stays
    #expect(!red(8, 2))       // outside stays
    img.drawRectangle(Box(x: -5, y: -5, width: 100, height: 100), color: (0, 255, 0), thickness: 2)  // no trap
    #expect(img.pixels[3 * (9 * 20 + 19) + 1] == 0)   // the far edges are outside the image
}

@Test func drawText_rendersGlyphsAtScale() {
    var img = RGBImage(width: 40, height: 20)
    img.drawText("1", x: 0, y: 0, scale: 2, color: (255, 255, 255))
    // The "1" glyph: column 2 is ink on every row; at scale 2 that is x 4...5, y 0...13.
    for y in 2..<14 { #expect(img.pixels[3 * (y * 40 + 4)] == 255) }
    #expect(img.pixels[3 * (0 * 40 + 0)] == 0)
    #expect(BitmapFont.width(of: "12", scale: 2) == 22)
    // Every printable ASCII character the annotations use has a glyph.
    for c in "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.,:;!?-+=_/()[]%#*'\"<>" {
        #expect(BitmapFont.rows(c) != nil, "no glyph for \(c)")
    }
}

@Test func downscaled_averagesBlocks() {
    var g = GrayImage(width: 4, height: 2)
    g.pixels = [0, 100, 200, 200,
                100, 200, 200, 201]
    let d = g.downscaled(by: 2)
    #expect(d.width == 2 && d.height == 1)
    #expect(d.pixels == [100, 200])
}
