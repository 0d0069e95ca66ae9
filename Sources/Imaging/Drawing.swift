// Drawing on images for annotated output: rectangles and text. Everything is clipped to the
// image, so callers may pass boxes partly or wholly outside it.

public typealias RGBColor = (red: UInt8, green: UInt8, blue: UInt8)

extension RGBImage {
    /// Sets one pixel if it lies inside the image.
    @inlinable public mutating func setPixel(x: Int, y: Int, _ c: RGBColor) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let o = 3 * (y * width + x)
        pixels[o] = c.red; pixels[o + 1] = c.green; pixels[o + 2] = c.blue
    }

    /// Fills `box` (clipped) with a colour.
    public mutating func fill(_ box: Box, color c: RGBColor) {
        let x0 = max(0, box.x), y0 = max(0, box.y)
        let x1 = min(width, box.maxX), y1 = min(height, box.maxY)
        guard x0 < x1, y0 < y1 else { return }
        let w = width
        pixels.withUnsafeMutableBufferPointer { p in
            for y in y0..<y1 {
                var o = 3 * (y * w + x0)
                for _ in x0..<x1 { p[o] = c.red; p[o + 1] = c.green; p[o + 2] = c.blue; o += 3 }
            }
        }
    }

    /// Draws the outline of `box` with lines `thickness` pixels wide, inside the box.
    public mutating func drawRectangle(_ box: Box, color c: RGBColor, thickness: Int = 1) {
        let t = max(1, min(thickness, box.width / 2 + 1, box.height / 2 + 1))
        fill(Box(x: box.x, y: box.y, width: box.width, height: t), color: c)
        fill(Box(x: box.x, y: box.maxY - t, width: box.width, height: t), color: c)
        fill(Box(x: box.x, y: box.y, width: t, height: box.height), color: c)
        fill(Box(x: box.maxX - t, y: box.y, width: t, height: box.height), color: c)
    }

    /// Draws `text` with its top-left corner at (x, y), each font pixel `scale` x `scale` image
    /// pixels. `background`, if given, fills the text's box first so labels stay legible.
    /// Newlines start a new line; characters the font lacks are drawn as '?'.
    public mutating func drawText(_ text: String, x: Int, y: Int, scale: Int = 1, color c: RGBColor,
                                  background: RGBColor? = nil) {
        let s = max(1, scale)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if let bg = background {
            let w = (lines.map { $0.count }.max() ?? 0) * BitmapFont.advance * s + s
            let h = (lines.count * BitmapFont.lineHeight - 1) * s
            fill(Box(x: x - s, y: y - s, width: w + s, height: h), color: bg)
        }
        for (lineIndex, line) in lines.enumerated() {
            var gx = x
            let gy = y + lineIndex * BitmapFont.lineHeight * s
            for ch in line {
                let rows = BitmapFont.rows(ch) ?? BitmapFont.rows("?")!
                for (r, bits) in rows.enumerated() where bits != 0 {
                    for col in 0..<BitmapFont.glyphWidth where bits & (0x10 >> UInt8(col)) != 0 {
                        fill(Box(x: gx + col * s, y: gy + r * s, width: s, height: s), color: c)
                    }
                }
                gx += BitmapFont.advance * s
            }
        }
    }
}

extension GrayImage {
    /// Fills `box` (clipped) with a gray level.
    public mutating func fill(_ box: Box, value: UInt8) {
        let x0 = max(0, box.x), y0 = max(0, box.y)
        let x1 = min(width, box.maxX), y1 = min(height, box.maxY)
        guard x0 < x1, y0 < y1 else { return }
        let w = width
        pixels.withUnsafeMutableBufferPointer { p in
            for y in y0..<y1 { for x in x0..<x1 { p[y * w + x] = value } }
        }
    }

    /// Draws the outline of `box` (clipped) in a gray level.
    public mutating func drawRectangle(_ box: Box, value: UInt8, thickness: Int = 1) {
        let t = max(1, thickness)
        fill(Box(x: box.x, y: box.y, width: box.width, height: t), value: value)
        fill(Box(x: box.x, y: box.maxY - t, width: box.width, height: t), value: value)
        fill(Box(x: box.x, y: box.y, width: t, height: box.height), value: value)
        fill(Box(x: box.maxX - t, y: box.y, width: t, height: box.height), value: value)
    }

    /// Draws `text` in a gray level (see `RGBImage.drawText`).
    public mutating func drawText(_ text: String, x: Int, y: Int, scale: Int = 1, value: UInt8) {
        let s = max(1, scale)
        var gx = x
        for ch in text {
            let rows = BitmapFont.rows(ch) ?? BitmapFont.rows("?")!
            for (r, bits) in rows.enumerated() where bits != 0 {
                for col in 0..<BitmapFont.glyphWidth where bits & (0x10 >> UInt8(col)) != 0 {
                    fill(Box(x: gx + col * s, y: y + r * s, width: s, height: s), value: value)
                }
            }
            gx += BitmapFont.advance * s
        }
    }
}
