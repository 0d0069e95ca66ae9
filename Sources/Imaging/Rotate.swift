import Glibc

/// Turning a picture about its centre, and the boxes in it with it.
/// A turn by `angle` (radians, y down: positive turns a line that falls to the right level)
/// maps output point p to input point c + R(angle)(p - c), where c is the picture's centre.
public struct Turn: Sendable, Equatable {
    public var angle: Double
    public var width: Int, height: Int
    public init(angle: Double, width: Int, height: Int) { self.angle = angle; self.width = width; self.height = height }

    /// The input point that output point (x, y) shows.
    @inline(__always) public func source(_ x: Double, _ y: Double) -> (x: Double, y: Double) {
        let cx = Double(width) / 2, cy = Double(height) / 2, c = cos(angle), s = sin(angle)
        let dx = x - cx, dy = y - cy
        return (cx + c * dx - s * dy, cy + s * dx + c * dy)
    }

    /// The output point that shows input point (x, y) (the inverse of `source`).
    @inline(__always) public func turned(_ x: Double, _ y: Double) -> (x: Double, y: Double) {
        let cx = Double(width) / 2, cy = Double(height) / 2, c = cos(angle), s = sin(angle)
        let dx = x - cx, dy = y - cy
        return (cx + c * dx + s * dy, cy - s * dx + c * dy)
    }

    /// Whether all of a box of the turned picture shows the input picture (none of it was
    /// brought in from beyond its edges), to within a pixel.
    public func boxWithinSource(_ b: Box) -> Bool {
        [(b.x, b.y), (b.maxX, b.y), (b.x, b.maxY), (b.maxX, b.maxY)].allSatisfy { corner in
            let p = source(Double(corner.0), Double(corner.1))
            return p.x >= -1 && p.y >= -1 && p.x <= Double(width + 1) && p.y <= Double(height + 1)
        }
    }

    /// The box in the input picture around a box of the turned one (clipped to the picture).
    public func boxInSource(_ b: Box) -> Box {
        let corners = [(b.x, b.y), (b.maxX, b.y), (b.x, b.maxY), (b.maxX, b.maxY)].map { source(Double($0.0), Double($0.1)) }
        let x0 = min(width, max(0, Int(corners.map { $0.x }.min()!.rounded(.down))))
        let y0 = min(height, max(0, Int(corners.map { $0.y }.min()!.rounded(.down))))
        let x1 = min(width, Int(corners.map { $0.x }.max()!.rounded(.up)))
        let y1 = min(height, Int(corners.map { $0.y }.max()!.rounded(.up)))
        return Box(x: x0, y: y0, width: max(0, x1 - x0), height: max(0, y1 - y0))
    }
}

extension GrayImage {
    /// The picture turned by `turn` (same size), sampled bilinearly; points that fall outside
    /// the picture take the nearest edge pixel, so no dark or light border appears to be ink.
    public func turned(_ turn: Turn) -> GrayImage {
        precondition(turn.width == width && turn.height == height)
        var out = GrayImage(width: width, height: height)
        guard width > 1, height > 1 else { return self }
        let c = cos(turn.angle), s = sin(turn.angle)
        let cx = Double(width) / 2, cy = Double(height) / 2
        let maxX = Float(width - 1), maxY = Float(height - 1)
        pixels.withUnsafeBufferPointer { src in
            out.pixels.withUnsafeMutableBufferPointer { dst in
                let p = src.baseAddress!, o = dst.baseAddress!, w = width
                for y in 0..<height {
                    // Along an output row the source point moves by (c, s) per pixel.
                    let dy = Double(y) + 0.5 - cy
                    var sx = Float(cx + c * (0.5 - cx) - s * dy - 0.5), sy = Float(cy + s * (0.5 - cx) + c * dy - 0.5)
                    let stepX = Float(c), stepY = Float(s)
                    for x in 0..<w {
                        let fx = min(max(sx, 0), maxX), fy = min(max(sy, 0), maxY)
                        let x0 = Int(fx), y0 = Int(fy)
                        let x1 = min(x0 + 1, w - 1), y1 = min(y0 + 1, height - 1)
                        let ax = fx - Float(x0), ay = fy - Float(y0)
                        let top = Float(p[y0 * w + x0]) + ax * (Float(p[y0 * w + x1]) - Float(p[y0 * w + x0]))
                        let bottom = Float(p[y1 * w + x0]) + ax * (Float(p[y1 * w + x1]) - Float(p[y1 * w + x0]))
                        o[y * w + x] = UInt8(top + ay * (bottom - top) + 0.5)
                        sx += stepX; sy += stepY
                    }
                }
            }
        }
        return out
    }
}
