import Foundation
import NeuralNet

/// On-the-fly augmentation aimed at handwriting seen through a camera or a scanner.
/// Works on 28x28 float crops in MNIST polarity (0 background, 1 ink). Every effect can be
/// switched off; ranges are the maximum deviation, drawn uniformly.
public struct AugmentationOptions: Sendable, Codable, Equatable {
    public var rotationDegrees: Float = 12
    public var shiftPixels: Float = 2.5
    public var scaleRange: Float = 0.15        // 1 ± this
    public var aspectRange: Float = 0.12       // x scale vs y scale
    public var shear: Float = 0.25
    public var elastic: Float = 1.2            // displacement sd in pixels on a coarse grid
    public var strokeProbability: Float = 0.25 // thicker or thinner strokes
    public var blurProbability: Float = 0.12
    public var noiseProbability: Float = 0.12
    public var contrastProbability: Float = 0.15
    public var fogProbability: Float = 0.06
    public var clutterProbability: Float = 0.06
    /// Fraction of each batch that is a synthetic "not a digit" (class 10); 0 for a 10-class model.
    public var negativeFraction: Float = 0.08

    public init() {}

    /// The names `disable(_:)` understands, one per effect.
    public static let effectNames = ["rotation", "shift", "scale", "aspect", "shear", "elastic", "stroke", "blur",
                                     "noise", "contrast", "fog", "clutter", "negatives"]

    /// Turns one effect off by name; false if the name is unknown.
    public mutating func disable(_ name: String) -> Bool {
        switch name {
        case "rotation": rotationDegrees = 0
        case "shift": shiftPixels = 0
        case "scale": scaleRange = 0
        case "aspect": aspectRange = 0
        case "shear": shear = 0
        case "elastic": elastic = 0
        case "stroke": strokeProbability = 0
        case "blur": blurProbability = 0
        case "noise": noiseProbability = 0
        case "contrast": contrastProbability = 0
        case "fog": fogProbability = 0
        case "clutter": clutterProbability = 0
        case "negatives": negativeFraction = 0
        default: return false
        }
        return true
    }

    /// Everything off: the raw digits (for evaluation and tests).
    public static var none: AugmentationOptions {
        var o = AugmentationOptions()
        o.rotationDegrees = 0; o.shiftPixels = 0; o.scaleRange = 0; o.aspectRange = 0; o.shear = 0
        o.elastic = 0; o.strokeProbability = 0; o.blurProbability = 0; o.noiseProbability = 0
        o.contrastProbability = 0; o.fogProbability = 0; o.clutterProbability = 0; o.negativeFraction = 0
        return o
    }
}

/// Pure functions over one 28x28 crop; `scratch` must hold 784 floats.
public enum Augmenter {
    public static let side = 28

    /// Warps `source` (UInt8 0..255, 784) into `out` (Float 0..1) with a random affine map plus a
    /// smooth elastic displacement, then applies the photometric effects in `options`.
    public static func augment(_ source: UnsafePointer<UInt8>, into out: UnsafeMutablePointer<Float>,
                               scratch: UnsafeMutablePointer<Float>, options o: AugmentationOptions,
                               random rng: inout RandomSource) {
        for i in 0..<784 { scratch[i] = Float(source[i]) * (1 / 255) }
        let geometric = o.rotationDegrees > 0 || o.shiftPixels > 0 || o.scaleRange > 0 || o.shear > 0 || o.elastic > 0
        if geometric {
            warp(scratch, into: out, options: o, random: &rng)
        } else {
            out.update(from: scratch, count: 784)
        }
        photometric(out, scratch: scratch, options: o, random: &rng)
    }

    static func warp(_ src: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>,
                     options o: AugmentationOptions, random rng: inout RandomSource) {
        let angle = rng.uniform(-o.rotationDegrees, o.rotationDegrees) * .pi / 180
        let scale = 1 + rng.uniform(-o.scaleRange, o.scaleRange)
        let aspect = 1 + rng.uniform(-o.aspectRange, o.aspectRange)
        let sx = scale * aspect, sy = scale / aspect
        let sh = rng.uniform(-o.shear, o.shear)
        let tx = rng.uniform(-o.shiftPixels, o.shiftPixels), ty = rng.uniform(-o.shiftPixels, o.shiftPixels)
        // Forward map M = R * Shear * S; we need M^-1 to pull source pixels.
        let c = cosf(angle), s = sinf(angle)
        let m00 = c * sx + (-s) * 0, m01 = c * sh * sy - s * sy
        let m10 = s * sx, m11 = s * sh * sy + c * sy
        let det = m00 * m11 - m01 * m10
        let i00 = m11 / det, i01 = -m01 / det, i10 = -m10 / det, i11 = m00 / det
        // Elastic: a 5x5 grid of random displacements, bilinearly interpolated (separably: each
        // row first interpolates the grid's rows, then each pixel the result's columns).
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 30 * 30 + 60) { buffer in
            let padded = buffer.baseAddress!, gx = padded + 900, gy = gx + 25, rx = gy + 25, ry = rx + 5
            pad(src, into: padded)
            gx.initialize(repeating: 0, count: 60)
            if o.elastic > 0 { for k in 0..<25 { gx[k] = rng.normal() * o.elastic; gy[k] = rng.normal() * o.elastic } }
            let centre: Float = 13.5
            for y in 0..<28 {
                let fy = Float(y) / 27 * 4
                let y0 = min(Int(fy), 3), ay = fy - Float(y0)
                for k in 0..<5 {
                    rx[k] = gx[y0 * 5 + k] * (1 - ay) + gx[y0 * 5 + k + 5] * ay
                    ry[k] = gy[y0 * 5 + k] * (1 - ay) + gy[y0 * 5 + k + 5] * ay
                }
                let dyBase = Float(y) - centre - ty
                for x in 0..<28 {
                    let fx = Float(x) / 27 * 4
                    let x0 = min(Int(fx), 3), ax = fx - Float(x0)
                    let dx = Float(x) - centre - tx + rx[x0] * (1 - ax) + rx[x0 + 1] * ax
                    let dy = dyBase + ry[x0] * (1 - ax) + ry[x0 + 1] * ax
                    let u = i00 * dx + i01 * dy + centre, v = i10 * dx + i11 * dy + centre
                    out[y * 28 + x] = bilinearPadded(padded, u, v)
                }
            }
        }
    }

    /// Bilinear sample at (u, v) of a 28x28 image stored with a one-pixel zero border (30x30);
    /// 0 outside.
    @inline(__always)
    static func bilinearPadded(_ padded: UnsafePointer<Float>, _ u: Float, _ v: Float) -> Float {
        guard u > -1, v > -1, u < 28, v < 28 else { return 0 }
        let fu = u.rounded(.down), fv = v.rounded(.down)
        let i = (Int(fv) + 1) * 30 + Int(fu) + 1, ax = u - fu, ay = v - fv
        return (padded[i] * (1 - ax) + padded[i + 1] * ax) * (1 - ay) + (padded[i + 30] * (1 - ax) + padded[i + 31] * ax) * ay
    }

    /// `src` (28x28) into `padded` (30x30) with a one-pixel zero border, so that
    /// `bilinearPadded` reads need no bounds checks.
    static func pad(_ src: UnsafePointer<Float>, into padded: UnsafeMutablePointer<Float>) {
        padded.initialize(repeating: 0, count: 900)
        for y in 0..<28 { (padded + (y + 1) * 30 + 1).update(from: src + y * 28, count: 28) }
    }

    static func photometric(_ img: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                            options o: AugmentationOptions, random rng: inout RandomSource) {
        if rng.uniform() < o.strokeProbability {
            let thicker = rng.uniform() < 0.55
            morphology(img, scratch: scratch, dilate: thicker, strength: rng.uniform(0.4, 1))
        }
        if rng.uniform() < o.clutterProbability { clutterLine(img, random: &rng) }
        if rng.uniform() < o.blurProbability {
            blur(img, scratch: scratch, passes: rng.uniform() < 0.5 ? 1 : 2)
        }
        if rng.uniform() < o.contrastProbability {
            let high = rng.uniform(0.25, 1), gamma = rng.uniform(0.6, 1.6)
            for i in 0..<784 { img[i] = high * powf(img[i], gamma) }
        }
        if rng.uniform() < o.fogProbability {
            let fog = rng.uniform(0.1, 0.45)
            for i in 0..<784 { img[i] = fog + (1 - fog) * img[i] }
        }
        if rng.uniform() < o.noiseProbability {
            let sd = rng.uniform(0.03, 0.25)
            for i in 0..<784 { img[i] = min(1, max(0, img[i] + rng.normal() * sd)) }
        }
    }

    /// Grey-level dilation (thicker) or erosion (thinner) with a plus-shaped element, blended
    /// with the original by `strength` so the change ranges from subtle to a full pixel.
    public static func morphology(_ img: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>, dilate: Bool, strength: Float) {
        scratch.update(from: img, count: 784)
        for y in 0..<28 {
            for x in 0..<28 {
                let i = y * 28 + x
                var v = scratch[i]
                // plus-shaped neighbourhood, clipped at the border
                let left = x > 0 ? scratch[i - 1] : v, right = x < 27 ? scratch[i + 1] : v
                let up = y > 0 ? scratch[i - 28] : v, down = y < 27 ? scratch[i + 28] : v
                v = dilate ? max(v, left, right, up, down) : min(v, left, right, up, down)
                img[y * 28 + x] = scratch[y * 28 + x] + strength * (v - scratch[y * 28 + x])
            }
        }
    }

    /// 3x3 binomial blur, `passes` times.
    public static func blur(_ img: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>, passes: Int) {
        for _ in 0..<passes {
            scratch.update(from: img, count: 784)
            for y in 0..<28 {
                for x in 0..<28 {
                    var s: Float = 0, w: Float = 0
                    for dy in -1...1 {
                        for dx in -1...1 {
                            let a = x + dx, b = y + dy
                            guard a >= 0, a < 28, b >= 0, b < 28 else { continue }
                            let k: Float = (dx == 0 ? 2 : 1) * (dy == 0 ? 2 : 1)
                            s += k * scratch[b * 28 + a]; w += k
                        }
                    }
                    img[y * 28 + x] = s / w
                }
            }
        }
    }

    /// A faint straight line across the crop (a ruled line or a neighbour's stroke).
    static func clutterLine(_ img: UnsafeMutablePointer<Float>, random rng: inout RandomSource) {
        let horizontal = rng.uniform() < 0.7
        let pos = rng.uniform(2, 26), slope = rng.uniform(-0.15, 0.15)
        let width = rng.uniform(0.6, 1.6), level = rng.uniform(0.25, 0.8)
        for y in 0..<28 {
            for x in 0..<28 {
                let d = horizontal ? abs(Float(y) - (pos + slope * (Float(x) - 14))) : abs(Float(x) - (pos + slope * (Float(y) - 14)))
                let a = min(1, max(0, width - d + 0.5)) * level
                img[y * 28 + x] = max(img[y * 28 + x], a)
            }
        }
    }
}
