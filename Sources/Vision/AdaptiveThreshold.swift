import Imaging

/// How the adaptive threshold decides what is ink.
public struct ThresholdSettings: Sendable, Equatable {
    /// Side of the square averaging window in pixels (odd); 0 = `defaultWindow` for the image.
    public var window: Int = 0
    /// A pixel is ink only if it differs from its neighbourhood mean by at least this many levels...
    public var minimumContrast: Int = 14
    /// ...and by at least this percentage of the mean, so bright well-lit paper needs more
    /// contrast than a page in shadow (ink contrast scales with the light, for either polarity).
    public var relativeContrast: Int = 14
    public var polarity: InkPolarity = .automatic
    /// If above 0, pixels that pass only this lower contrast (levels, and the same fraction of
    /// the relative rule) are marked `weakInk` (64) instead of 0, for `LineRemover` to follow
    /// faint lines; the remover clears them.
    public var weakContrast: Int = 0
    public init() {}

    /// A window of about 1/6 of the short side: larger than the tallest digit expected (1/7 of
    /// the frame) and several times the stroke width of any digit
    /// that fits the frame, small enough to follow shadows and lighting gradients.
    public static func defaultWindow(width: Int, height: Int) -> Int {
        max(15, min(width, height) / 6) | 1
    }
}

/// Adaptive threshold by local mean (integral image): ink where a pixel is darker (dark ink) or
/// lighter (light ink) than the mean of the window around it by the contrast in `settings`.
/// Returns a mask (255 = ink, 0 = background) and the polarity used (see `detectPolarity`).
public func adaptiveThreshold(_ image: GrayImage, settings: ThresholdSettings = .init()) -> (mask: GrayImage, polarity: InkPolarity) {
    var mask = GrayImage(width: image.width, height: image.height)
    var integral = [UInt32](repeating: 0, count: (image.width + 1) * (image.height + 1))
    let polarity = image.pixels.withUnsafeBufferPointer { p in
        integral.withUnsafeMutableBufferPointer { i in
            mask.pixels.withUnsafeMutableBufferPointer { m in
                adaptiveThreshold(p, width: image.width, height: image.height, settings: settings, integral: i, mask: m)
            }
        }
    }
    return (mask, polarity)
}

/// Fills `integral` (`(width + 1) * (height + 1)`, first row and column zero) with the sums of
/// `pixels` above and left of each point. UInt32 holds up to 16.8 million pixels of 255.
public func integralImage(_ pixels: UnsafeBufferPointer<UInt8>, width: Int, height: Int,
                          into integral: UnsafeMutableBufferPointer<UInt32>) {
    precondition(width * height <= 16_777_215, "integralImage: \(width)x\(height) overflows UInt32")
    let stride = width + 1
    for x in 0...width { integral[x] = 0 }
    for y in 0..<height {
        var rowSum: UInt32 = 0
        let o = (y + 1) * stride, above = y * stride, src = y * width
        integral[o] = 0
        for x in 0..<width {
            rowSum &+= UInt32(pixels[src + x])
            integral[o + x + 1] = integral[above + x + 1] &+ rowSum
        }
    }
}

/// The buffer form: `pixels` and `mask` are `width * height`, `integral` `(width+1)*(height+1)`.
public func adaptiveThreshold(_ pixels: UnsafeBufferPointer<UInt8>, width: Int, height: Int,
                              settings: ThresholdSettings,
                              integral: UnsafeMutableBufferPointer<UInt32>,
                              mask: UnsafeMutableBufferPointer<UInt8>) -> InkPolarity {
    precondition(pixels.count >= width * height && mask.count >= width * height
                 && integral.count >= (width + 1) * (height + 1))
    guard width > 0, height > 0 else { return settings.polarity == .lightOnDark ? .lightOnDark : .darkOnLight }
    integralImage(pixels, width: width, height: height, into: integral)
    var fixed = settings
    if settings.polarity == .automatic {
        let window = settings.window > 0 ? settings.window : ThresholdSettings.defaultWindow(width: width, height: height)
        fixed.polarity = detectPolarity(pixels, width: width, height: height, integral: integral, radius: window / 2,
                                        minimumContrast: settings.minimumContrast)
    }
    applyThreshold(pixels, width: width, height: height, settings: fixed, integral: UnsafeBufferPointer(integral), mask: mask)
    return fixed.polarity
}

/// The threshold's rule on a picture whose integral image is made (`integralImage`), with the
/// polarity decided (`.automatic` counts as dark ink on light paper).
public func applyThreshold(_ pixels: UnsafeBufferPointer<UInt8>, width: Int, height: Int,
                           settings: ThresholdSettings,
                           integral: UnsafeBufferPointer<UInt32>,
                           mask: UnsafeMutableBufferPointer<UInt8>) {
    precondition(pixels.count >= width * height && mask.count >= width * height
                 && integral.count >= (width + 1) * (height + 1))
    guard width > 0, height > 0 else { return }
    let window = settings.window > 0 ? settings.window : ThresholdSettings.defaultWindow(width: width, height: height)
    let r = window / 2
    let stride = width + 1
    let minC = settings.minimumContrast, rel = settings.relativeContrast
    let polarity = settings.polarity == .lightOnDark ? InkPolarity.lightOnDark : .darkOnLight
    let dark = polarity == .darkOnLight
    let weakC = settings.weakContrast
    let weakRel = minC > 0 ? rel * weakC / minC : 0
    let ii = integral.baseAddress!, src = pixels.baseAddress!, out = mask.baseAddress!
    let weakOn = weakC > 0
    // Largest window pixel count for which every product below fits in Int32: sums up to
    // 255 * count, times 100, rel or weakRel; contrasts times count.
    let factor = max(100, abs(rel), abs(weakRel), abs(minC), abs(weakC), 1) * 255 * 2
    let int32Limit = minC >= 0 && weakC >= 0 && rel >= 0 ? Int(Int32.max) / factor : 0
    // Dark ink if mean - p >= max(minC, rel% of mean), light ink if p - mean >= the same,
    // compared in units of 1/count to avoid a division per pixel.
    @inline(__always) func classify(_ sum: Int, _ count: Int, _ value: UInt8) -> UInt8 {
        let p = Int(value) * count
        let d = dark ? sum - p : p - sum
        if d < weakC * count || d <= 0 { return 0 }
        if d >= minC * count && d * 100 >= rel * sum { return 255 }
        return weakOn && d * 100 >= weakRel * sum ? weakInk : 0
    }
    for y in 0..<height {
        let y0 = max(0, y - r), y1 = min(height, y + r + 1)
        let top = ii + y0 * stride, bottom = ii + y1 * stride
        let rows = y1 - y0
        let row = src + y * width, o = out + y * width
        // Borders, where the window is clipped.
        let left = min(r, width), right = max(left, width - r - 1)
        for x in 0..<left {
            let x0 = 0, x1 = min(width, x + r + 1)
            let sum = Int(bottom[x1] &- bottom[x0] &- top[x1] &+ top[x0])
            o[x] = classify(sum, rows * (x1 - x0), row[x])
        }
        // Interior: the whole window fits; one count, four loads per pixel.
        let count = rows * (2 * r + 1)
        let bR = bottom + r + 1, bL = bottom - r, tR = top + r + 1, tL = top - r
        if count <= int32Limit {
            // The same rule in 32-bit lanes without branches, so the loop vectorises.
            let c = Int32(count)
            let weakCc = Int32(weakC) * c, minCc = Int32(minC) * c
            let weakValue: Int32 = weakOn ? Int32(weakInk) : 0
            if count < 65_536 && rel == 14 && weakRel == 9 {
                interiorRunDefaultContrast(bR, bL, tR, tL, row, o, from: left, to: right, dark: dark, count: c,
                                           minCc: minCc, weakCc: weakCc, weakValue: weakValue)
            } else {
                interiorRun(bR, bL, tR, tL, row, o, from: left, to: right, dark: dark, count: c,
                            minCc: minCc, weakCc: weakCc, rel: Int32(rel), weakRel: Int32(weakRel), weakValue: weakValue)
            }
        } else {
            for x in left..<right {
                let sum = Int(bR[x] &- bL[x] &- tR[x] &+ tL[x])
                o[x] = classify(sum, count, row[x])
            }
        }
        for x in right..<width {
            let x0 = max(0, x - r), x1 = width
            let sum = Int(bottom[x1] &- bottom[x0] &- top[x1] &+ top[x0])
            o[x] = classify(sum, rows * (x1 - x0), row[x])
        }
    }
}

/// The interior of one row of `adaptiveThreshold`: window sums from the integral rows (`bR` etc.
/// already offset by the radius), then the contrast rule in 32-bit lanes without branches.
@inline(__always)
private func interiorRun(_ bR: UnsafePointer<UInt32>, _ bL: UnsafePointer<UInt32>,
                         _ tR: UnsafePointer<UInt32>, _ tL: UnsafePointer<UInt32>,
                         _ row: UnsafePointer<UInt8>, _ o: UnsafeMutablePointer<UInt8>, from left: Int, to right: Int,
                         dark: Bool, count c: Int32, minCc: Int32, weakCc: Int32, rel: Int32, weakRel: Int32, weakValue: Int32) {
    if dark {
        for x in left..<right {
            let sum = Int32(bitPattern: bR[x] &- bL[x] &- tR[x] &+ tL[x])
            let d = sum &- Int32(row[x]) &* c
            let d100 = d &* 100
            let strong = d >= minCc && d100 >= rel &* sum
            let weak = d100 >= weakRel &* sum
            let v: Int32 = strong ? 255 : (weak ? weakValue : 0)
            o[x] = UInt8(truncatingIfNeeded: (d < weakCc || d <= 0) ? 0 : v)
        }
    } else {
        for x in left..<right {
            let sum = Int32(bitPattern: bR[x] &- bL[x] &- tR[x] &+ tL[x])
            let d = Int32(row[x]) &* c &- sum
            let d100 = d &* 100
            let strong = d >= minCc && d100 >= rel &* sum
            let weak = d100 >= weakRel &* sum
            let v: Int32 = strong ? 255 : (weak ? weakValue : 0)
            o[x] = UInt8(truncatingIfNeeded: (d < weakCc || d <= 0) ? 0 : v)
        }
    }
}

/// `interiorRun` for the default contrasts (relative 14%, weak 9%) in explicit 8-lane SIMD, with
/// no packed 32-bit multiply (baseline x86-64 has none; LLVM emulates it with several
/// instructions): pixel x count is two 16-bit products (count below 2^16), and the products by
/// 100, 14 and 9 are shifts and adds. Same integers, same mask.
@inline(__always)
private func interiorRunDefaultContrast(_ bR: UnsafePointer<UInt32>, _ bL: UnsafePointer<UInt32>,
                                        _ tR: UnsafePointer<UInt32>, _ tL: UnsafePointer<UInt32>,
                                        _ row: UnsafePointer<UInt8>, _ o: UnsafeMutablePointer<UInt8>, from left: Int, to right: Int,
                                        dark: Bool, count c: Int32, minCc: Int32, weakCc: Int32, weakValue: Int32) {
    typealias V = SIMD8<Int32>
    let cLo = SIMD8<UInt16>(repeating: UInt16(c & 255)), cHi = SIMD8<UInt16>(repeating: UInt16(c >> 8))
    let minV = V(repeating: minCc), weakV = V(repeating: weakCc)
    let strongByte = V(repeating: 255), weakByte = V(repeating: weakValue), zero = V(repeating: 0)
    @inline(__always) func load(_ p: UnsafePointer<UInt32>, _ x: Int) -> V {
        V(truncatingIfNeeded: UnsafeRawPointer(p + x).loadUnaligned(as: SIMD8<UInt32>.self))
    }
    var x = left
    while x + 8 <= right {
        let sum = load(bR, x) &- load(bL, x) &- load(tR, x) &+ load(tL, x)
        let p = SIMD8<UInt16>(truncatingIfNeeded: UnsafeRawPointer(row + x).loadUnaligned(as: SIMD8<UInt8>.self))
        // p * c = p * (c & 255) + (p * (c >> 8)) << 8, each partial product below 2^16.
        let pc = V(truncatingIfNeeded: p &* cLo) &+ (V(truncatingIfNeeded: p &* cHi) &<< 8)
        let d = dark ? sum &- pc : pc &- sum
        let d100 = (d &<< 6) &+ (d &<< 5) &+ (d &<< 2)
        let rel = (sum &<< 4) &- (sum &<< 1), weakRel = (sum &<< 3) &+ sum
        var v = zero.replacing(with: weakByte, where: d100 .>= weakRel)
        v.replace(with: strongByte, where: (d .>= minV) .& (d100 .>= rel))
        v.replace(with: zero, where: (d .< weakV) .| (d .<= zero))
        UnsafeMutableRawPointer(o + x).storeBytes(of: SIMD8<UInt8>(truncatingIfNeeded: v), as: SIMD8<UInt8>.self)
        x += 8
    }
    interiorRun(bR, bL, tR, tL, row, o, from: x, to: right, dark: dark, count: c,
                minCc: minCc, weakCc: weakCc, rel: 14, weakRel: 9, weakValue: weakValue)
}

/// Decides which way round ink is from the skew of the deviations from the local mean, sampled
/// on a sparse grid: ink is sparse and far from its surroundings (a long tail on its side),
/// while the paper beside a stroke is only a little off its window's mean. Deviations below
/// `minimumContrast` (sensor noise, flat paper) do not vote.
public func detectPolarity(_ pixels: UnsafeBufferPointer<UInt8>, width: Int, height: Int,
                           integral: UnsafeBufferPointer<UInt32>, radius r: Int, minimumContrast: Int) -> InkPolarity {
    let stride = width + 1
    var skew: Double = 0
    let step = 3
    var y = 1
    while y < height {
        let y0 = max(0, y - r), y1 = min(height, y + r + 1)
        let top = y0 * stride, bottom = y1 * stride
        var x = 1
        while x < width {
            let x0 = max(0, x - r), x1 = min(width, x + r + 1)
            let sum = Float(integral[bottom + x1] &- integral[bottom + x0] &- integral[top + x1] &+ integral[top + x0])
            let d = Float(pixels[y * width + x]) - sum / Float((y1 - y0) * (x1 - x0))
            if abs(d) >= Float(minimumContrast) { skew += Double(d * d * d) }
            x += step
        }
        y += step
    }
    return skew > 0 ? .lightOnDark : .darkOnLight
}

public func detectPolarity(_ pixels: UnsafeBufferPointer<UInt8>, width: Int, height: Int,
                           integral: UnsafeMutableBufferPointer<UInt32>, radius: Int, minimumContrast: Int) -> InkPolarity {
    detectPolarity(pixels, width: width, height: height, integral: UnsafeBufferPointer(integral),
                   radius: radius, minimumContrast: minimumContrast)
}

/// How far the strongest ink of a picture stands out from its surroundings: a high quantile of
/// the deviations from the local mean on the ink's side, in levels and in percent of the mean.
public struct InkContrast: Sendable, Equatable {
    public var levels: Int
    public var percent: Int
    /// The picture's noise: about one standard deviation of the deviations from the local mean,
    /// in levels, from their mean size with each deviation capped at 8 levels (so that the ink
    /// weighs little).
    public var noise: Float = 0
    public init(levels: Int, percent: Int, noise: Float = 0) {
        self.levels = levels; self.percent = percent; self.noise = noise
    }
}

/// How the threshold's contrast rules follow a page's ink: on a picture whose strongest ink
/// (`estimateInkContrast` at `quantile`) stands out little, both rules are lowered to `fraction`
/// of that ink's contrast, in levels and in percent of the mean, but not below `floorLevels` /
/// `floorPercent`, nor, in levels, below `noiseMultiple` times the picture's noise (a dim, noisy
/// picture with nothing written on it would otherwise threshold into a field of specks). Ink
/// that stands out well keeps the rules as they are. `fraction` 0 turns this off.
public struct FaintInkRule: Sendable, Equatable {
    public var fraction = 0.45
    public var quantile = 0.998
    public var floorLevels = 6
    public var floorPercent = 6
    public var noiseMultiple = 3.0
    /// Samples on a ruled or grid line do not count in the page's ink contrast: this many pixels
    /// to each side along the line, or 1/60 of the picture's short side if more; 0 counts them.
    public var lineReach = 4
    public init() {}

    /// The `lineReach` for `estimateInkContrast` on a picture of this size.
    public func lineReach(width: Int, height: Int) -> Int {
        lineReach > 0 ? max(lineReach, min(width, height) / 60) : 0
    }

    /// Lowers the rules of `threshold` for a page whose strongest ink is `c`; returns whether
    /// either rule went down (the page is faint).
    public func lower(_ threshold: inout ThresholdSettings, for c: InkContrast) -> Bool {
        let levels = threshold.minimumContrast, percent = threshold.relativeContrast
        let aboveNoise = Int((Double(c.noise) * noiseMultiple).rounded(.up))
        threshold.minimumContrast = min(levels, max(floorLevels, aboveNoise, Int(Double(c.levels) * fraction)))
        threshold.relativeContrast = min(percent, max(floorPercent, Int(Double(c.percent) * fraction)))
        return threshold.minimumContrast < levels || threshold.relativeContrast < percent
    }
}

/// Estimates `InkContrast` from every `step`th pixel of every `step`th row, each compared with
/// the mean of the window around it (`radius`, from the integral image): the `quantile` (e.g.
/// 0.998) of the deviations towards the ink (darker for `darkInk`, else lighter), from
/// histograms (levels 0-255, percent 0-100; deviations the other way, and any below 8 levels,
/// count as 0). Ink covers a few percent of a page with writing, so the quantile lands on the
/// cores of the strokes; on a page without ink it lands on noise, lines and stains. With
/// `lineReach` k > 0, a sample whose neighbours k pixels away on both sides, along its row or
/// its column, are inked too (at least halfway from the mean to it) lies on a ruled or grid line
/// and counts as 0: printed lines cover as much of a page as the writing, and may be far darker
/// than it. (Every 8th pixel of every 8th row: 3,600 samples of a 640x360 working image, 0.03
/// ms; every 4th of every 4th cost 0.1 ms.)
public func estimateInkContrast(_ pixels: UnsafeBufferPointer<UInt8>, width: Int, height: Int,
                                integral: UnsafeBufferPointer<UInt32>, radius r: Int, darkInk: Bool,
                                quantile: Double = 0.998, step: Int = 8, lineReach k: Int = 0) -> InkContrast {
    precondition(step >= 1 && (0...1).contains(quantile))
    guard width > 0, height > 0, let src = pixels.baseAddress, let ii = integral.baseAddress else {
        return InkContrast(levels: 0, percent: 0)
    }
    let stride = width + 1
    return withUnsafeTemporaryAllocation(of: Int.self, capacity: 256 + 101) { buffer in
        let levels = buffer.baseAddress!, percent = levels + 256
        levels.initialize(repeating: 0, count: 256 + 101)
        var samples = 0
        var capped: Float = 0
        var y = step / 2
        while y < height {
            let y0 = max(0, y - r), y1 = min(height, y + r + 1)
            let top = ii + y0 * stride, bottom = ii + y1 * stride, rows = Float(y1 - y0)
            let row = src + y * width
            var x = step / 2
            while x < width {
                samples += 1
                let x0 = max(0, x - r), x1 = min(width, x + r + 1)
                let mean = Float(bottom[x1] &- bottom[x0] &- top[x1] &+ top[x0]) / (rows * Float(x1 - x0))
                let d = darkInk ? mean - Float(row[x]) : Float(row[x]) - mean
                capped += min(abs(d), 8)
                // Below 8 levels (the paper and its noise): nothing to record. No contrast rule
                // is lowered below 6 anyway (0.45 of 13 levels).
                if d >= 8 {
                    var onLine = false
                    if k > 0 {
                        // On a line: the pixels `k` away on both sides along the row (or the
                        // column) are as far towards the ink, at least halfway from the mean.
                        let half = darkInk ? mean - d / 2 : mean + d / 2
                        @inline(__always) func inked(_ p: UnsafePointer<UInt8>) -> Bool { darkInk ? Float(p.pointee) <= half : Float(p.pointee) >= half }
                        onLine = (x >= k && x + k < width && inked(row + x - k) && inked(row + x + k))
                            || (y >= k && y + k < height && inked(row + x - k * width) && inked(row + x + k * width))
                    }
                    if !onLine {
                        levels[Int(min(255, d))] += 1
                        percent[mean > 0 ? Int(min(100, d * 100 / mean)) : 100] += 1
                    }
                }
                x += step
            }
            y += step
        }
        // The quantile counts every sample: those in no histogram bin sit at 0.
        let rank = Int((Double(max(samples, 1) - 1) * quantile).rounded())
        func valueAt(_ histogram: UnsafeMutablePointer<Int>, _ bins: Int) -> Int {
            var recorded = 0
            for v in 0..<bins { recorded += histogram[v] }
            var seen = samples - recorded
            if seen > rank { return 0 }
            for v in 0..<bins {
                seen += histogram[v]
                if seen > rank { return v }
            }
            return bins - 1
        }
        // The mean absolute deviation of Gaussian noise is 0.8 of its standard deviation.
        return InkContrast(levels: valueAt(levels, 256), percent: valueAt(percent, 101),
                           noise: capped / Float(max(samples, 1)) / 0.8)
    }
}

/// The mask `adaptiveThreshold` made, asked one pixel at a time from the picture and its
/// integral image: ink a later stage removed (a line) can be looked at again without a copy of
/// the mask. `pixels` and `integral` are what the threshold read and wrote.
public struct ThresholdProbe {
    let pixels: UnsafeBufferPointer<UInt8>, integral: UnsafeBufferPointer<UInt32>
    let width: Int, height: Int, radius: Int
    let minC: Int, rel: Int, weakC: Int, weakRel: Int
    let dark: Bool

    public init(pixels: UnsafeBufferPointer<UInt8>, integral: UnsafeBufferPointer<UInt32>, width: Int, height: Int,
                settings: ThresholdSettings, polarity: InkPolarity) {
        self.pixels = pixels; self.integral = integral; self.width = width; self.height = height
        let window = settings.window > 0 ? settings.window : ThresholdSettings.defaultWindow(width: width, height: height)
        radius = window / 2
        minC = settings.minimumContrast; rel = settings.relativeContrast; weakC = settings.weakContrast
        weakRel = minC > 0 ? rel * weakC / minC : 0
        dark = polarity != .lightOnDark
    }

    /// Whether the threshold marked (x, y) as ink, strong or weak.
    public func isInk(_ x: Int, _ y: Int) -> Bool {
        let stride = width + 1
        let x0 = max(0, x - radius), x1 = min(width, x + radius + 1)
        let y0 = max(0, y - radius), y1 = min(height, y + radius + 1)
        let sum = Int(integral[y1 * stride + x1] &- integral[y1 * stride + x0] &- integral[y0 * stride + x1] &+ integral[y0 * stride + x0])
        let count = (y1 - y0) * (x1 - x0)
        let p = Int(pixels[y * width + x]) * count
        let d = dark ? sum - p : p - sum
        if d < weakC * count || d <= 0 { return false }
        if d >= minC * count && d * 100 >= rel * sum { return true }
        return weakC > 0 && d * 100 >= weakRel * sum
    }
}
