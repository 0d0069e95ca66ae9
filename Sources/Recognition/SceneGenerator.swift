import Glibc
import Imaging
import Vision

/// Handwritten digit images to draw scenes with: `count` tiles of 28x28 bytes (0 = background,
/// 255 = ink, MNIST layout) and their labels 0...9.
public struct DigitGlyphs: Sendable {
    public let count: Int
    public let pixels: [UInt8]
    public let labels: [UInt8]
    public init(count: Int, pixels: [UInt8], labels: [UInt8]) {
        precondition(pixels.count == count * 784 && labels.count == count)
        self.count = count; self.pixels = pixels; self.labels = labels
    }
}

extension DigitGlyphs {
    /// Stand-in glyphs when no MNIST file is at hand: the built-in 5x7 font's digits, smoothed
    /// and scaled to MNIST's 20-pixel box. Blocky; fine for timing, not for measuring accuracy.
    public static func fromFont() -> DigitGlyphs {
        var pixels = [UInt8](repeating: 0, count: 10 * 784)
        for d in 0..<10 {
            let rows = BitmapFont.rows(Character(String(d)))!
            for y in 0..<28 {
                for x in 0..<28 {
                    // Font pixel (fx, fy) covers tile [6 + 3 fx, 6 + 3 fx + 3) x [4 + 3 fy, ...).
                    var sum = 0
                    for dy in -1...1 { for dx in -1...1 {
                        let fx = (x + dx - 6) / 3, fy = (y + dy - 4) / 3
                        if x + dx >= 6, y + dy >= 4, fx < 5, fy < 7, rows[fy] & (0x10 >> UInt8(fx)) != 0 { sum += 1 }
                    } }
                    pixels[d * 784 + y * 28 + x] = UInt8(sum * 255 / 9)
                }
            }
        }
        return DigitGlyphs(count: 10, pixels: pixels, labels: (0..<10).map { UInt8($0) })
    }
}

/// A rendered picture and what is truly in it.
public struct Scene: Sendable {
    public var image: GrayImage
    /// Every digit: its ink box in image pixels and its label.
    public var digits: [(box: Box, digit: Int)]
    /// Every number (one or more digits written together on a line), left to right.
    public var numbers: [(box: Box, value: String)]
    /// Boxes of the distractors drawn (letters, scribbles, stains), for inspection.
    public var distractors: [Box]
    /// Short description of the conditions, e.g. "1280x720 chalk grid jpeg60".
    public var conditions: String
}

/// A small deterministic random generator (SplitMix64), so a seed names a scene.
public struct SceneRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform(_ a: Double, _ b: Double) -> Double { Double.random(in: a..<b, using: &self) }
    /// A value drawn from `range`; its lower bound when the range is one value. One draw either
    /// way, so a range asked for does not change the rest of the scene.
    mutating func uniform(in range: ClosedRange<Double>) -> Double {
        let lo = range.lowerBound, hi = range.upperBound
        let drawn = uniform(lo, lo < hi ? hi : lo + 1)
        return lo < hi ? drawn : lo
    }
    mutating func chance(_ p: Double) -> Bool { uniform(0, 1) < p }
    mutating func int(_ r: ClosedRange<Int>) -> Int { Int.random(in: r, using: &self) }
    mutating func gaussian() -> Double {
        let u = max(uniform(0, 1), 1e-12), v = uniform(0, 1)
        return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v)
    }
}

/// Renders photo-like pages of handwritten digits with known truth: paper or chalkboard,
/// lighting gradients and shadows, ruled or grid paper, a slight perspective and rotation of
/// the whole page, per-digit rotation, shear and stroke weight, multi-digit numbers (some with
/// touching digits), distractor letters, scribbles and stains, blur, sensor noise and JPEG
/// artefacts. Every condition is drawn at random from wide ranges, per scene.
public struct SceneGenerator: Sendable {
    public let glyphs: DigitGlyphs
    public init(glyphs: DigitGlyphs) { self.glyphs = glyphs }

    public struct Options: Sendable {
        public var width = 1280
        public var height = 720
        /// nil = random (about one scene in four is a chalkboard).
        public var chalkboard: Bool? = nil
        /// false draws a page with no digits (distractors and lines only).
        public var withDigits = true
        /// Keep adding numbers until at least this many digits are drawn (benchmarks); nil = 3-9 numbers.
        public var targetDigits: Int? = nil
        /// Heights of the numbers' digits as fractions of the image height; nil = 0.045-0.14
        /// (at least 20 pixels). Given ranges keep digits at least 16 pixels tall (the detector
        /// reads nothing shorter at 1280x720).
        public var digitHeights: ClosedRange<Double>? = nil
        /// Fraction of the numbers of two or more digits written with their digits touching.
        public var touchingFraction = 0.12
        /// Stroke weight of each digit, drawn from this range: the exponent its ink coverage is
        /// raised to. Above 1 the strokes are thinner and fainter (a fine pen, light chalk),
        /// below 1 bolder (a marker).
        public var strokeGamma: ClosedRange<Double> = 0.5...1.6
        /// Fraction of the numbers written in printed boxes, as on a form: a rectangle around
        /// the number, divided into one cell per digit (a comb field) or not. 0 (the default)
        /// draws no boxes and leaves the rest of every scene as it was.
        public var boxedFraction = 0.0
        /// How far the ink stands out from the ground, drawn per scene from this range: 1 is the
        /// full ink level (fresh marker, white chalk), lower is fainter (pencil, worn chalk).
        public var inkContrast: ClosedRange<Double> = 0.55...1.0
        /// A camera out of focus: a Gaussian blur of the whole picture, its sigma drawn per scene
        /// from this range, in pixels per 640 of image width (so 1280x720 pages blur twice as many
        /// pixels), on top of the usual 0-2 box blurs. nil (the default) draws none and leaves
        /// the rest of every scene as it was.
        public var defocus: ClosedRange<Double>? = nil
        /// The largest rotation of the page in the picture, in radians either way (a camera
        /// held askew), and only numbers wholly inside the picture; nil (the default) turns it
        /// up to 0.06 (3.4 degrees) and places numbers as it always did.
        public var pageRotation: Double? = nil
        /// How far the page leans away from the camera: the projective terms of the page's warp
        /// are drawn from +-this (each edge of the picture scaled by up to 1 +- this across
        /// the page), and only numbers wholly inside the picture; nil (the default) is 0.15,
        /// placing numbers as always.
        public var perspective: Double? = nil
        public init() {}
    }

    public func render(seed: UInt64, options: Options = .init()) -> Scene {
        var rng = SceneRandom(seed: seed)
        let w = options.width, h = options.height
        let chalk = options.chalkboard ?? rng.chance(0.25)
        var conditions = ["\(w)x\(h)", chalk ? "chalk" : "paper"]

        // Page -> image mapping: slight rotation and perspective.
        let page = PageWarp.random(width: w, height: h, maximumAngle: options.pageRotation ?? 0.06,
                                   perspective: options.perspective ?? 0.15, rng: &rng)

        // Reflectance of the ground (paper or board, and the lines on it), and the light falling
        // on the page: a linear gradient, a vignette and an optional soft shadow. The picture is
        // light x reflectance, so a shadow darkens ink and paper alike, as a camera sees it.
        let base = chalk ? rng.uniform(25, 80) : rng.uniform(170, 250)
        let gradient = (rng.uniform(-1, 1), rng.uniform(-1, 1))
        let gradientStrength = rng.uniform(0, 0.35)
        let vignette = rng.uniform(0, 0.3)
        let shadow = rng.chance(0.4) ? Shadow.random(width: w, height: h, rng: &rng) : nil
        if shadow != nil { conditions.append("shadow") }
        var light = [Float](repeating: 0, count: w * h)
        var ground = [Float](repeating: Float(base), count: w * h)
        for y in 0..<h {
            let ny = Double(y) / Double(h) - 0.5
            for x in 0..<w {
                let nx = Double(x) / Double(w) - 0.5
                var v = 1 + gradientStrength * (gradient.0 * nx + gradient.1 * ny)
                v *= 1 - vignette * (nx * nx + ny * ny) * 2
                if let s = shadow { v *= s.factor(x: Double(x), y: Double(y)) }
                light[y * w + x] = Float(v)
            }
        }

        // Ruled or grid lines, drawn on the page (so they follow its perspective).
        let ruling = rng.uniform(0, 1)
        let lineSpacing = rng.uniform(0.045, 0.09) * Double(h)
        let lineDarkness = Float(rng.uniform(0.1, 0.45))
        let lineWidth = rng.uniform(0.8, 2.2)
        let grid = ruling < 0.2, ruled = ruling < 0.5
        if ruled { conditions.append(grid ? "grid" : "ruled") }
        if ruled {
            let phase = rng.uniform(0, lineSpacing)
            for y in 0..<h {
                for x in 0..<w {
                    let p = page.toPage(Double(x), Double(y))
                    var d = abs((p.y - phase).truncatingRemainder(dividingBy: lineSpacing))
                    d = min(d, lineSpacing - d)
                    if grid {
                        var dx = abs((p.x - phase).truncatingRemainder(dividingBy: lineSpacing))
                        dx = min(dx, lineSpacing - dx)
                        d = min(d, dx)
                    }
                    let a = Float(max(0, min(1, lineWidth / 2 + 0.5 - d)))
                    if a > 0 {
                        let i = y * w + x
                        ground[i] = chalk ? ground[i] + a * lineDarkness * 120 : ground[i] * (1 - a * lineDarkness)
                    }
                }
            }
        }

        // Content layout: numbers and distractors in free spots of the page.
        var ink = [Float](repeating: 0, count: w * h)   // coverage 0...1 of digit ink and distractors
        var occupied: [Box] = []
        var digits: [(Box, Int)] = [], numbers: [(Box, String)] = [], distractors: [Box] = []
        var forms: [FormBox] = []
        let minH = options.digitHeights.map { max(16, $0.lowerBound * Double(h)) } ?? max(20, 0.045 * Double(h))
        let maxH = max(minH, options.digitHeights.map { $0.upperBound * Double(h) } ?? 0.14 * Double(h))
        let numberCount = options.withDigits ? (options.targetDigits != nil ? 200 : rng.int(3...9)) : 0
        let digitLimit = options.targetDigits ?? 24
        var digitTotal = 0
        for _ in 0..<numberCount where digitTotal < digitLimit {
            let height = rng.uniform(minH, maxH)
            let length = rng.chance(0.35) ? 1 : rng.int(2...5)
            let widthGuess = Double(length) * height * 0.85
            guard let spot = findSpot(width: widthGuess, height: height * 1.3, w: w, h: h, occupied: occupied,
                                      inPicture: options.pageRotation == nil && options.perspective == nil ? nil : page, rng: &rng) else { continue }
            occupied.append(spot)
            var x = Double(spot.x) + height * 0.1
            let baseline = Double(spot.y) + height * 0.15
            // (No draw at all without boxes, so the default scenes stay as they were.)
            let boxed = options.boxedFraction > 0 && rng.chance(options.boxedFraction)
            let touching = length > 1 && !boxed && rng.chance(options.touchingFraction)
            var value = "", numberBox: Box? = nil
            let slant = rng.uniform(-0.12, 0.12)
            var cells: [(left: Double, right: Double)] = []
            for _ in 0..<length {
                let g = rng.int(0...(glyphs.count - 1))
                let digitHeight = height * rng.uniform(0.88, 1.08)
                let drawn = drawGlyph(g, atX: x, y: baseline + rng.uniform(-0.06, 0.06) * height, height: digitHeight,
                                      slant: slant, chalk: chalk, strokeGamma: options.strokeGamma,
                                      page: page, ink: &ink, w: w, h: h, rng: &rng)
                guard let box = drawn.box else { x += height * 0.5; continue }
                digits.append((box, Int(glyphs.labels[g])))
                value += String(glyphs.labels[g])
                numberBox = numberBox.map { $0.union(box) } ?? box
                digitTotal += 1
                let gap = touching ? rng.uniform(-0.08, 0.02) : boxed ? rng.uniform(0.2, 0.45) : rng.uniform(0.08, 0.4)
                cells.append((x, drawn.right))
                x = drawn.right + gap * height
            }
            if boxed && !cells.isEmpty {
                forms.append(FormBox(cells: cells, top: baseline, height: height, comb: rng.chance(0.6),
                                     padding: rng.uniform(0.12, 0.3) * height))
            }
            if let b = numberBox {
                numbers.append((b, value))
                // Digits may spread past the guessed spot: keep distractors off what was drawn.
                occupied[occupied.count - 1] = spot.union(page.boundingBox(of: b))
            }
        }
        let distractorCount = options.withDigits ? rng.int(0...5) : rng.int(3...9)
        if distractorCount > 0 { conditions.append("distractors") }
        for _ in 0..<distractorCount {
            let height = rng.uniform(minH, maxH)
            let kind = rng.int(0...9)
            let widthGuess = kind < 5 ? height * Double(rng.int(1...4)) * 0.8 : height * 1.5
            guard let spot = findSpot(width: widthGuess, height: height * 1.3, w: w, h: h, occupied: occupied,
                                      inPicture: options.pageRotation == nil && options.perspective == nil ? nil : page, rng: &rng) else { continue }
            occupied.append(spot)
            if let b = drawDistractor(kind: kind, in: spot, height: height, page: page, ink: &ink, w: w, h: h, rng: &rng) {
                distractors.append(b)
            }
        }

        // Printed boxes of a form, on the page under the writing, as dark as ruled lines or darker.
        if !forms.isEmpty {
            conditions.append("boxes")
            var printed = [Float](repeating: 0, count: w * h)
            let darkness = Float(rng.uniform(0.3, 0.8)), width = rng.uniform(0.8, 2.2)
            for f in forms {
                let x0 = f.cells[0].left - f.padding, x1 = f.cells[f.cells.count - 1].right + f.padding
                let y0 = f.top - f.padding, y1 = f.top + f.height * 1.08 + f.padding
                _ = drawStroke([(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)], thickness: width, page: page, ink: &printed, w: w, h: h)
                if f.comb {
                    for k in 1..<f.cells.count {
                        let mid = (f.cells[k - 1].right + f.cells[k].left) / 2
                        _ = drawStroke([(mid, y0), (mid, y1)], thickness: width, page: page, ink: &printed, w: w, h: h)
                    }
                }
            }
            for i in 0..<(w * h) where printed[i] > 0 {
                ground[i] = chalk ? ground[i] + printed[i] * darkness * 120 : ground[i] * (1 - printed[i] * darkness)
            }
        }

        // Compose ink over ground.
        let inkLevel: Float = chalk ? Float(rng.uniform(170, 245)) : Float(rng.uniform(5, 90))
        let inkContrast = Float(rng.uniform(in: options.inkContrast))
        var pixels = [Float](repeating: 0, count: w * h)
        for i in 0..<(w * h) {
            let a = ink[i] * inkContrast
            pixels[i] = light[i] * (ground[i] * (1 - a) + inkLevel * a)
        }
        // Chalk is grainy.
        if chalk {
            for i in 0..<(w * h) where ink[i] > 0 { pixels[i] -= Float(rng.uniform(0, 50)) * ink[i] }
        }

        // Camera: blur, noise, JPEG.
        let blurPasses = rng.int(0...2)
        if blurPasses > 0 { conditions.append("blur\(blurPasses)") }
        for _ in 0..<blurPasses { boxBlur3(&pixels, w: w, h: h) }
        if let d = options.defocus {
            // From a generator of its own, so the noise and JPEG quality stay those of the page
            // in focus: the same page, out of focus.
            var lens = SceneRandom(seed: seed ^ 0xDEF0_C05E_DEF0_C05E)
            conditions.append("defocus")
            gaussianBlur(&pixels, w: w, h: h, sigma: lens.uniform(in: d) * Double(w) / 640)
        }
        let sigma = rng.uniform(0, 9)
        if sigma > 4 { conditions.append("noise\(Int(sigma))") }
        var bytes = [UInt8](repeating: 0, count: w * h)
        for i in 0..<(w * h) {
            let v = Double(pixels[i]) + (sigma > 0.5 ? sigma * rng.gaussian() : 0)
            bytes[i] = UInt8(max(0, min(255, v.rounded())))
        }
        var image = GrayImage(width: w, height: h, pixels: bytes)
        if rng.chance(0.5) {
            let q = rng.int(35...90)
            conditions.append("jpeg\(q)")
            if let decoded = try? decodeJPEGGray(encodeJPEG(image, quality: q)) { image = decoded }
        }
        return Scene(image: image, digits: digits.map { ($0.0, $0.1) }, numbers: numbers.map { ($0.0, $0.1) },
                     distractors: distractors, conditions: conditions.joined(separator: " "))
    }

    // MARK: - Drawing

    /// Draws glyph `g` with its ink box `height` tall, left edge at page x `atX`, top at page y `y`.
    /// Returns the ink box in image pixels (coverage >= 0.3) and the page x of its right edge.
    private func drawGlyph(_ g: Int, atX: Double, y top: Double, height: Double, slant: Double, chalk: Bool,
                           strokeGamma: ClosedRange<Double>,
                           page: PageWarp, ink: inout [Float], w: Int, h: Int, rng: inout SceneRandom) -> (box: Box?, right: Double) {
        let tile = g * 784
        // Ink box of the tile.
        var x0 = 28, y0 = 28, x1 = -1, y1 = -1
        for ty in 0..<28 { for tx in 0..<28 where glyphs.pixels[tile + ty * 28 + tx] > 60 {
            x0 = min(x0, tx); x1 = max(x1, tx); y0 = min(y0, ty); y1 = max(y1, ty)
        } }
        guard x1 >= 0 else { return (nil, atX) }
        let inkW = Double(x1 - x0 + 1), inkH = Double(y1 - y0 + 1)
        let scale = height / inkH
        let stretch = rng.uniform(0.85, 1.2)
        let sx = scale * stretch, sy = scale
        let angle = rng.uniform(-0.16, 0.16)
        let shear = slant + rng.uniform(-0.08, 0.08)
        // Stroke weight: < 1 bolder, > 1 thinner.
        let gamma = Float(rng.uniform(in: strokeGamma))
        let cx = atX + inkW * sx / 2, cy = top + height / 2
        let ca = cos(angle), sa = sin(angle)
        // Page point -> tile point: undo rotation, shear, scale about the glyph centre.
        func toTile(_ px: Double, _ py: Double) -> (Double, Double) {
            let dx = px - cx, dy = py - cy
            let rx = ca * dx + sa * dy, ry = -sa * dx + ca * dy
            let ux = rx - shear * ry
            return (ux / sx + Double(x0) + inkW / 2, ry / sy + Double(y0) + inkH / 2)
        }
        // Image region: map the page-space bounding square through the warp.
        let r = max(inkW * sx, height) * 0.9 + 4
        var bx0 = Int.max, by0 = Int.max, bx1 = Int.min, by1 = Int.min
        for (px, py) in [(cx - r, cy - r), (cx + r, cy - r), (cx - r, cy + r), (cx + r, cy + r)] {
            let q = page.toImage(px, py)
            bx0 = min(bx0, Int(q.x) - 2); by0 = min(by0, Int(q.y) - 2); bx1 = max(bx1, Int(q.x) + 2); by1 = max(by1, Int(q.y) + 2)
        }
        bx0 = max(0, bx0); by0 = max(0, by0); bx1 = min(w - 1, bx1); by1 = min(h - 1, by1)
        guard bx0 < bx1, by0 < by1 else { return (nil, atX + inkW * sx) }
        var mx0 = Int.max, my0 = Int.max, mx1 = Int.min, my1 = Int.min
        for iy in by0...by1 {
            for ix in bx0...bx1 {
                let p = page.toPage(Double(ix), Double(iy))
                let t = toTile(p.x, p.y)
                var a = Float(sampleTile(tile, t.0 - 0.5, t.1 - 0.5)) / 255
                if a <= 0.01 { continue }
                a = powf(a, gamma)
                let i = iy * w + ix
                ink[i] = max(ink[i], a)
                if a >= 0.3 { mx0 = min(mx0, ix); my0 = min(my0, iy); mx1 = max(mx1, ix); my1 = max(my1, iy) }
            }
        }
        guard mx1 >= mx0 else { return (nil, atX + inkW * sx) }
        return (Box(x: mx0, y: my0, width: mx1 - mx0 + 1, height: my1 - my0 + 1), atX + inkW * sx)
    }

    private func sampleTile(_ tile: Int, _ x: Double, _ y: Double) -> Double {
        let ix = Int(x.rounded(.down)), iy = Int(y.rounded(.down))
        let fx = x - Double(ix), fy = y - Double(iy)
        func at(_ X: Int, _ Y: Int) -> Double { X < 0 || Y < 0 || X > 27 || Y > 27 ? 0 : Double(glyphs.pixels[tile + Y * 28 + X]) }
        return (at(ix, iy) * (1 - fx) + at(ix + 1, iy) * fx) * (1 - fy) + (at(ix, iy + 1) * (1 - fx) + at(ix + 1, iy + 1) * fx) * fy
    }

    /// Letters that do not look like digits, drawn as pen strokes in a unit box (y down).
    private static let letters: [[[(Double, Double)]]] = [
        [[(0, 1), (0.5, 0), (1, 1)], [(0.25, 0.55), (0.75, 0.55)]],                 // A
        [[(1, 0), (0, 0), (0, 1), (1, 1)], [(0, 0.5), (0.7, 0.5)]],                  // E
        [[(1, 0), (0, 0), (0, 1)], [(0, 0.5), (0.7, 0.5)]],                          // F
        [[(0, 0), (0, 1)], [(1, 0), (1, 1)], [(0, 0.5), (1, 0.5)]],                  // H
        [[(0, 0), (0, 1)], [(1, 0), (0, 0.6)], [(0.3, 0.4), (1, 1)]],                // K
        [[(0, 1), (0, 0), (0.5, 0.6), (1, 0), (1, 1)]],                              // M
        [[(0, 1), (0, 0), (1, 1), (1, 0)]],                                          // N
        [[(0, 1), (0, 0), (0.8, 0), (1, 0.25), (0.8, 0.5), (0, 0.5)], [(0.4, 0.5), (1, 1)]], // R
        [[(0, 0), (0.5, 1), (1, 0)]],                                                // V
        [[(0, 0), (0.25, 1), (0.5, 0.4), (0.75, 1), (1, 0)]],                        // W
        [[(0, 0), (1, 1)], [(1, 0), (0, 1)]],                                        // X
        [[(0, 0), (0.5, 0.5), (1, 0)], [(0.5, 0.5), (0.5, 1)]],                      // Y
        [[(0.5, 0.1), (0.5, 0.9)], [(0.1, 0.5), (0.9, 0.5)]],                        // +
        [[(0.1, 0.35), (0.9, 0.35)], [(0.1, 0.65), (0.9, 0.65)]],                    // =
        [[(1, 0.1), (0.2, 0), (0, 0.5), (0.2, 1), (1, 0.9)]],                        // C
    ]

    /// Kinds 0-4: a word of letters; 5-7: a scribble; 8: a stain; 9: a dot cluster / tick mark.
    private func drawDistractor(kind: Int, in spot: Box, height: Double, page: PageWarp, ink: inout [Float],
                                w: Int, h: Int, rng: inout SceneRandom) -> Box? {
        var strokes: [[(Double, Double)]] = []
        let thickness = max(1.5, height * rng.uniform(0.06, 0.14))
        let x0 = Double(spot.x) + height * 0.1, y0 = Double(spot.y) + height * 0.15
        switch kind {
        case 0...4:
            let count = max(1, Int(Double(spot.width) / (height * 0.8)))
            for k in 0..<count {
                let letter = SceneGenerator.letters[rng.int(0...(SceneGenerator.letters.count - 1))]
                let lw = height * rng.uniform(0.55, 0.8), left = x0 + Double(k) * height * 0.8
                let tilt = rng.uniform(-0.15, 0.15)
                for s in letter {
                    strokes.append(s.map { (left + $0.0 * lw + tilt * ($0.1 - 0.5) * height + rng.uniform(-0.03, 0.03) * height,
                                            y0 + $0.1 * height + rng.uniform(-0.03, 0.03) * height) })
                }
            }
        case 5...7:
            var p = (x0 + rng.uniform(0, height * 0.3), y0 + rng.uniform(0, height))
            var s = [p]
            for _ in 0..<rng.int(4...12) {
                p = (min(Double(spot.maxX), max(Double(spot.x), p.0 + rng.uniform(-0.6, 0.8) * height)),
                     min(Double(spot.maxY), max(Double(spot.y), p.1 + rng.uniform(-0.6, 0.6) * height)))
                s.append(p)
            }
            strokes.append(smooth(s))
        case 8:
            // A stain: a soft filled ellipse of low contrast.
            let cx = Double(spot.x + spot.width / 2), cy = Double(spot.y + spot.height / 2)
            let rx = Double(spot.width) / 2, ry = Double(spot.height) / 2
            let strength = Float(rng.uniform(0.1, 0.35))
            for iy in max(0, spot.y)..<min(h, spot.maxY) {
                for ix in max(0, spot.x)..<min(w, spot.maxX) {
                    let q = page.toImage(Double(ix), Double(iy))
                    _ = q
                    let d = ((Double(ix) - cx) / rx) * ((Double(ix) - cx) / rx) + ((Double(iy) - cy) / ry) * ((Double(iy) - cy) / ry)
                    if d < 1 { let i = iy * w + ix; ink[i] = max(ink[i], strength * Float(1 - d * d)) }
                }
            }
            return spot
        default:
            // A tick mark or a short dash.
            strokes.append([(x0, y0 + height * 0.5), (x0 + height * 0.25, y0 + height * 0.8), (x0 + height * 0.7, y0 + height * 0.1)])
        }
        var box: Box? = nil
        for s in strokes {
            if let b = drawStroke(s, thickness: thickness, page: page, ink: &ink, w: w, h: h) {
                box = box.map { $0.union(b) } ?? b
            }
        }
        return box
    }

    /// Catmull-Rom-like smoothing of a scribble's control points.
    private func smooth(_ p: [(Double, Double)]) -> [(Double, Double)] {
        guard p.count > 2 else { return p }
        var out: [(Double, Double)] = []
        for i in 0..<(p.count - 1) {
            let a = p[max(0, i - 1)], b = p[i], c = p[i + 1], d = p[min(p.count - 1, i + 2)]
            for k in 0..<6 {
                let t = Double(k) / 6, t2 = t * t, t3 = t2 * t
                func f(_ a: Double, _ b: Double, _ c: Double, _ d: Double) -> Double {
                    0.5 * (2 * b + (-a + c) * t + (2 * a - 5 * b + 4 * c - d) * t2 + (-a + 3 * b - 3 * c + d) * t3)
                }
                out.append((f(a.0, b.0, c.0, d.0), f(a.1, b.1, c.1, d.1)))
            }
        }
        out.append(p[p.count - 1])
        return out
    }

    /// Draws an anti-aliased polyline given in page coordinates; returns its image box.
    private func drawStroke(_ points: [(Double, Double)], thickness: Double, page: PageWarp, ink: inout [Float], w: Int, h: Int) -> Box? {
        guard points.count >= 2 else { return nil }
        let pts = points.map { page.toImage($0.0, $0.1) }
        let r = thickness / 2 + 1
        var bx0 = Int.max, by0 = Int.max, bx1 = Int.min, by1 = Int.min
        for q in pts { bx0 = min(bx0, Int(q.x - r)); by0 = min(by0, Int(q.y - r)); bx1 = max(bx1, Int(q.x + r) + 1); by1 = max(by1, Int(q.y + r) + 1) }
        bx0 = max(0, bx0); by0 = max(0, by0); bx1 = min(w - 1, bx1); by1 = min(h - 1, by1)
        guard bx0 < bx1, by0 < by1 else { return nil }
        var mx0 = Int.max, my0 = Int.max, mx1 = Int.min, my1 = Int.min
        for iy in by0...by1 {
            for ix in bx0...bx1 {
                var d = Double.infinity
                let px = Double(ix), py = Double(iy)
                for k in 0..<(pts.count - 1) {
                    let a = pts[k], b = pts[k + 1]
                    let vx = b.x - a.x, vy = b.y - a.y
                    let len2 = vx * vx + vy * vy
                    let t = len2 > 0 ? max(0, min(1, ((px - a.x) * vx + (py - a.y) * vy) / len2)) : 0
                    let dx = px - a.x - t * vx, dy = py - a.y - t * vy
                    d = min(d, (dx * dx + dy * dy).squareRoot())
                }
                let a = Float(max(0, min(1, thickness / 2 + 0.5 - d)))
                if a > 0 {
                    let i = iy * w + ix
                    ink[i] = max(ink[i], a)
                    if a >= 0.3 { mx0 = min(mx0, ix); my0 = min(my0, iy); mx1 = max(mx1, ix); my1 = max(my1, iy) }
                }
            }
        }
        guard mx1 >= mx0 else { return nil }
        return Box(x: mx0, y: my0, width: mx1 - mx0 + 1, height: my1 - my0 + 1)
    }

    /// A free page-space box of about `width x height`, away from what is already placed; with
    /// `inPicture`, only one that the page's warp keeps within the picture (a page turned far
    /// puts parts of itself out of the frame; a number half out of the picture is not one to read).
    private func findSpot(width: Double, height: Double, w: Int, h: Int, occupied: [Box], inPicture page: PageWarp?,
                          rng: inout SceneRandom) -> Box? {
        let margin = Int(height * 0.35)
        let bw = Int(width) + 1, bh = Int(height) + 1
        guard bw + 2 * margin < w - 20, bh + 2 * margin < h - 20 else { return nil }
        for _ in 0..<40 {
            let x = rng.int((10 + margin)...(w - 10 - bw - margin)), y = rng.int((10 + margin)...(h - 10 - bh - margin))
            let b = Box(x: x, y: y, width: bw, height: bh)
            let grown = Box(x: x - margin, y: y - margin, width: bw + 2 * margin, height: bh + 2 * margin)
            if let page {
                let corners = [(b.x, b.y), (b.maxX, b.y), (b.x, b.maxY), (b.maxX, b.maxY)].map { page.toImage(Double($0.0), Double($0.1)) }
                if corners.contains(where: { $0.x < 2 || $0.y < 2 || $0.x > Double(w - 2) || $0.y > Double(h - 2) }) { continue }
            }
            if !occupied.contains(where: { $0.iou(grown) > 0 || overlaps($0, grown) }) { return b }
        }
        return nil
    }

    private func overlaps(_ a: Box, _ b: Box) -> Bool {
        a.x < b.maxX && b.x < a.maxX && a.y < b.maxY && b.y < a.maxY
    }
}

/// A printed box around a number (page coordinates): one cell per digit, from the digit's
/// left edge to its right edge; `comb` draws the lines between the cells.
private struct FormBox {
    var cells: [(left: Double, right: Double)]
    var top: Double, height: Double
    var comb: Bool
    var padding: Double
}

/// The page seen by a camera: a homography from page coordinates to image pixels close to the
/// identity (a few degrees of rotation, a little perspective), and its inverse.
struct PageWarp: Sendable {
    var forward: [Double]   // 3x3 row-major, page -> image
    var inverse: [Double]

    static func random(width: Int, height: Int, maximumAngle: Double, perspective: Double, rng: inout SceneRandom) -> PageWarp {
        let w = Double(width), h = Double(height)
        let angle = rng.uniform(-maximumAngle, maximumAngle)
        let px = rng.uniform(-perspective, perspective) / w, py = rng.uniform(-perspective, perspective) / h
        // Rotate about the centre, then a mild projective term.
        let c = cos(angle), s = sin(angle), cx = w / 2, cy = h / 2
        let rotation: [Double] = [c, -s, cx - c * cx + s * cy,
                                  s, c, cy - s * cx - c * cy,
                                  0, 0, 1]
        let toCentre: [Double] = [1, 0, -cx, 0, 1, -cy, 0, 0, 1]
        let perspective: [Double] = [1, 0, 0, 0, 1, 0, px, py, 1]
        let fromCentre: [Double] = [1, 0, cx, 0, 1, cy, 0, 0, 1]
        let forward = multiply(rotation, multiply(fromCentre, multiply(perspective, toCentre)))
        return PageWarp(forward: forward, inverse: invert(forward))
    }

    func toImage(_ x: Double, _ y: Double) -> (x: Double, y: Double) { apply(forward, x, y) }

    /// The page-space box around an image-space box.
    func boundingBox(of b: Box) -> Box {
        let corners = [(b.x, b.y), (b.maxX, b.y), (b.x, b.maxY), (b.maxX, b.maxY)].map { toPage(Double($0.0), Double($0.1)) }
        let x0 = Int(corners.map { $0.x }.min()!), x1 = Int(corners.map { $0.x }.max()!.rounded(.up))
        let y0 = Int(corners.map { $0.y }.min()!), y1 = Int(corners.map { $0.y }.max()!.rounded(.up))
        return Box(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
    }
    func toPage(_ x: Double, _ y: Double) -> (x: Double, y: Double) { apply(inverse, x, y) }

    private func apply(_ m: [Double], _ x: Double, _ y: Double) -> (x: Double, y: Double) {
        let d = m[6] * x + m[7] * y + m[8]
        return ((m[0] * x + m[1] * y + m[2]) / d, (m[3] * x + m[4] * y + m[5]) / d)
    }

    private static func multiply(_ a: [Double], _ b: [Double]) -> [Double] {
        var r = [Double](repeating: 0, count: 9)
        for i in 0..<3 { for j in 0..<3 { for k in 0..<3 { r[i * 3 + j] += a[i * 3 + k] * b[k * 3 + j] } } }
        return r
    }

    private static func invert(_ m: [Double]) -> [Double] {
        let a = m[0], b = m[1], c = m[2], d = m[3], e = m[4], f = m[5], g = m[6], h = m[7], i = m[8]
        let A = e * i - f * h, B = -(d * i - f * g), C = d * h - e * g
        let det = a * A + b * B + c * C
        return [A / det, -(b * i - c * h) / det, (b * f - c * e) / det,
                B / det, (a * i - c * g) / det, -(a * f - c * d) / det,
                C / det, -(a * h - b * g) / det, (a * e - b * d) / det]
    }
}

/// A soft-edged shadow: a half-plane darkened by a factor, with a blurred edge.
struct Shadow: Sendable {
    var nx: Double, ny: Double, offset: Double, softness: Double, darkness: Double
    static func random(width: Int, height: Int, rng: inout SceneRandom) -> Shadow {
        let angle = rng.uniform(0, 2 * Double.pi)
        let nx = cos(angle), ny = sin(angle)
        let cx = rng.uniform(0.2, 0.8) * Double(width), cy = rng.uniform(0.2, 0.8) * Double(height)
        return Shadow(nx: nx, ny: ny, offset: nx * cx + ny * cy, softness: rng.uniform(5, 80), darkness: rng.uniform(0.25, 0.6))
    }
    func factor(x: Double, y: Double) -> Double {
        let d = (nx * x + ny * y - offset) / softness
        let t = 1 / (1 + exp(-d))
        return 1 - darkness * t
    }
}

/// Gaussian blur in place, separable, taps out to 3 sigma (edges clamp).
func gaussianBlur(_ p: inout [Float], w: Int, h: Int, sigma: Double) {
    let r = max(1, Int((3 * sigma).rounded(.up)))
    var k = (-r...r).map { Float(exp(-Double($0 * $0) / (2 * sigma * sigma))) }
    let sum = k.reduce(0, +)
    for i in k.indices { k[i] /= sum }
    var t = p
    for y in 0..<h { for x in 0..<w {
        var v: Float = 0
        for j in -r...r { v += k[j + r] * p[y * w + min(w - 1, max(0, x + j))] }
        t[y * w + x] = v
    } }
    for y in 0..<h { for x in 0..<w {
        var v: Float = 0
        for j in -r...r { v += k[j + r] * t[min(h - 1, max(0, y + j)) * w + x] }
        p[y * w + x] = v
    } }
}

/// Three-by-three box blur in place (edges clamp).
func boxBlur3(_ p: inout [Float], w: Int, h: Int) {
    var t = p
    for y in 0..<h { for x in 0..<w {
        let l = p[y * w + max(0, x - 1)], c = p[y * w + x], r = p[y * w + min(w - 1, x + 1)]
        t[y * w + x] = (l + c + r) / 3
    } }
    for y in 0..<h { for x in 0..<w {
        let u = t[max(0, y - 1) * w + x], c = t[y * w + x], d = t[min(h - 1, y + 1) * w + x]
        p[y * w + x] = (u + c + d) / 3
    } }
}
