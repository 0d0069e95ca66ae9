import Foundation
import NeuralNet

/// Synthetic "not a digit" crops (class 10): what the vision pipeline will hand the network
/// that is not a digit — letters that do not look like digits, scribbles, stains, dashes,
/// hatching, crosses. Each is drawn as anti-aliased strokes in a 20x20 box centred in 28x28,
/// like a normalised candidate. Letters that handwriting confuses with digits (O, I, l, S, Z,
/// B, G, b, g, q) are left out on purpose: they would teach the network to reject real digits.
public enum NegativeSamples {
    typealias Stroke = [(Float, Float)]

    /// Glyphs on a unit square (x right, y down), each a list of polylines.
    static let glyphs: [[Stroke]] = [
        [[(0, 1), (0.5, 0), (1, 1)], [(0.22, 0.6), (0.78, 0.6)]],                          // A
        [[(1, 0), (0, 0), (0, 1), (1, 1)], [(0, 0.5), (0.75, 0.5)]],                       // E
        [[(1, 0), (0, 0), (0, 1)], [(0, 0.48), (0.7, 0.48)]],                              // F
        [[(0, 0), (0, 1)], [(1, 0), (1, 1)], [(0, 0.5), (1, 0.5)]],                         // H
        [[(0, 0), (0, 1)], [(1, 0), (0, 0.55)], [(0.3, 0.4), (1, 1)]],                      // K
        [[(0, 1), (0, 0), (0.5, 0.6), (1, 0), (1, 1)]],                                     // M
        [[(0, 1), (0, 0), (1, 1), (1, 0)]],                                                  // N
        [[(0, 1), (0, 0), (0.8, 0.05), (0.85, 0.4), (0, 0.5)], [(0.3, 0.5), (1, 1)]],         // R
        [[(0, 0), (0.25, 1), (0.5, 0.4), (0.75, 1), (1, 0)]],                               // W
        [[(0, 0), (1, 1)], [(1, 0), (0, 1)]],                                                // X
        [[(0, 0), (0, 1)], [(0, 0.55), (0.4, 0.4), (1, 0.45), (1, 1)]],                      // h
        [[(0, 1), (0, 0.35)], [(0, 0.5), (0.3, 0.35), (0.5, 0.45), (0.5, 1)], [(0.5, 0.5), (0.8, 0.35), (1, 0.45), (1, 1)]], // m
        [[(0, 0.3), (0, 1)], [(0, 0.45), (0.45, 0.3), (1, 0.4), (1, 1)]],                    // n
        [[(0, 0.3), (0.1, 0.9), (0.5, 1), (0.9, 0.85), (1, 0.3)], [(1, 0.3), (1, 1)]],      // u
        [[(0, 0.3), (0.5, 1), (1, 0.3)]],                                                    // v
        [[(0.3, 0), (0.3, 1)], [(0.7, 0), (0.7, 1)], [(0, 0.35), (1, 0.35)], [(0, 0.7), (1, 0.7)]], // #
        [[(0.5, 0.1), (0.5, 0.9)], [(0.1, 0.5), (0.9, 0.5)]],                               // +
        [[(0.5, 0), (0.5, 1)], [(0.07, 0.25), (0.93, 0.75)], [(0.93, 0.25), (0.07, 0.75)]], // *
        [[(0, 0.35), (1, 0.35)], [(0, 0.68), (1, 0.68)]],                                    // =
        [[(1, 0.6), (0, 0.6), (0.15, 0.2), (0.55, 0), (0.9, 0.2), (1, 0.6)], [(0, 0.6), (0.2, 0.95), (0.9, 1)]], // e
        [[(0, 0), (0, 1)], [(0.9, 0.25), (0, 0.7)], [(0.3, 0.55), (1, 1)]],                  // k
        [[(0, 0), (0.3, 0), (0.3, 1), (0, 1)], [(1, 0), (0.7, 0), (0.7, 1), (1, 1)]],        // [ ]
    ]

    /// Draws one negative into `out` (784 floats, 0 background .. 1 ink).
    public static func draw(into out: UnsafeMutablePointer<Float>, random rng: inout RandomSource) {
        out.update(repeating: 0, count: 784)
        let kind = rng.uniform()
        var strokes: [Stroke] = []
        let thickness = rng.uniform(1.0, 2.6)
        if kind < 0.55 {
            strokes = glyphs[Int(rng.uniform() * Float(glyphs.count)) % glyphs.count]
        } else if kind < 0.75 {
            strokes = [scribble(&rng)]
        } else if kind < 0.85 {
            stain(out, &rng); return
        } else if kind < 0.92 {
            // a dash or a slanted bar: after normalisation it spans the box
            let y = rng.uniform(0.35, 0.65), tilt = rng.uniform(-0.25, 0.25)
            strokes = [[(0, y - tilt), (1, y + tilt)]]
            drawStrokes(strokes, into: out, box: (4, 11 + rng.uniform(-2, 2), 20, 6), thickness: rng.uniform(1.2, 3.5), jitter: 0.02, &rng)
            return
        } else {
            // hatching: several parallel strokes
            let n = 3 + Int(rng.uniform() * 3), slope = rng.uniform(-0.6, 0.6)
            for i in 0..<n {
                let x = Float(i) / Float(n - 1)
                strokes.append([(x * 0.8, 0), (x * 0.8 + 0.2 + slope * 0.2, 1)])
            }
        }
        // Fit in a 20x20 box keeping a random aspect, centred, as the normaliser would.
        let aspect = rng.uniform(0.55, 1.3)
        let w: Float = aspect >= 1 ? 20 : 20 * aspect, h: Float = aspect >= 1 ? 20 / aspect : 20
        drawStrokes(strokes, into: out, box: (14 - w / 2, 14 - h / 2, w, h), thickness: thickness, jitter: 0.07, &rng)
    }

    /// A random-walk curve with sharp turns and self-crossings.
    static func scribble(_ rng: inout RandomSource) -> Stroke {
        var pts: Stroke = []
        var x = rng.uniform(0.1, 0.9), y = rng.uniform(0.1, 0.9), a = rng.uniform(0, 2 * .pi)
        for _ in 0..<(7 + Int(rng.uniform() * 8)) {
            pts.append((x, y))
            a += rng.uniform(-2.4, 2.4)
            x = min(1, max(0, x + cosf(a) * 0.35)); y = min(1, max(0, y + sinf(a) * 0.35))
        }
        return pts
    }

    /// A filled irregular blob (ink stain, thumbprint).
    static func stain(_ out: UnsafeMutablePointer<Float>, _ rng: inout RandomSource) {
        let rx = rng.uniform(5, 10), ry = rng.uniform(5, 10), angle = rng.uniform(0, .pi)
        let c = cosf(angle), s = sinf(angle), level = rng.uniform(0.5, 1)
        let wobble = (0..<4).map { _ in rng.uniform(-0.25, 0.25) }
        for y in 0..<28 {
            for x in 0..<28 {
                let dx = Float(x) - 13.5, dy = Float(y) - 13.5
                let u = (c * dx + s * dy) / rx, v = (-s * dx + c * dy) / ry
                let t = atan2f(v, u)
                let r = 1 + wobble[0] * sinf(2 * t) + wobble[1] * cosf(3 * t) + wobble[2] * sinf(5 * t + wobble[3])
                let d = (u * u + v * v).squareRoot() - r
                out[y * 28 + x] = level * min(1, max(0, 0.5 - d * 4))
            }
        }
    }

    static func drawStrokes(_ strokes: [Stroke], into out: UnsafeMutablePointer<Float>,
                            box: (Float, Float, Float, Float), thickness: Float, jitter: Float,
                            _ rng: inout RandomSource) {
        var segments: [(Float, Float, Float, Float)] = []
        for s in strokes {
            let p = s.map { (box.0 + ($0.0 + rng.uniform(-jitter, jitter)) * box.2,
                             box.1 + ($0.1 + rng.uniform(-jitter, jitter)) * box.3) }
            for i in 0..<(p.count - 1) { segments.append((p[i].0, p[i].1, p[i + 1].0, p[i + 1].1)) }
        }
        let half = thickness / 2
        for y in 0..<28 {
            for x in 0..<28 {
                let px = Float(x) + 0.5, py = Float(y) + 0.5
                var best = Float.greatestFiniteMagnitude
                for (x0, y0, x1, y1) in segments {
                    let vx = x1 - x0, vy = y1 - y0
                    let len2 = vx * vx + vy * vy
                    let t = len2 > 0 ? min(1, max(0, ((px - x0) * vx + (py - y0) * vy) / len2)) : 0
                    let dx = px - x0 - t * vx, dy = py - y0 - t * vy
                    best = min(best, dx * dx + dy * dy)
                }
                out[y * 28 + x] = min(1, max(0, half + 0.5 - best.squareRoot()))
            }
        }
    }
}
