import Foundation
import NeuralNet

/// Held-out style stress sets built from a labelled digit set (normally the MNIST test set):
/// each applies one corruption, at a fixed seed, to every image. Strengths are chosen to be
/// clearly visible yet leave the digit readable to a person.
public enum RobustnessSuite {
    public struct Corruption: Sendable {
        public let name: String
        public let apply: @Sendable (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, inout RandomSource) -> Void
    }

    static func affine(rotation: Float = 0, scale: Float = 1, shear: Float = 0, shift: (Float, Float) = (0, 0))
        -> @Sendable (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, inout RandomSource) -> Void {
        { img, scratch, rng in
            scratch.update(from: img, count: 784)
            // the inverse of M = scale * R * Shear, sampled bilinearly like the augmenter
            let a = rotation * .pi / 180, c = cosf(a), s = sinf(a)
            let m00 = c * scale, m01 = (c * shear - s) * scale, m10 = s * scale, m11 = (s * shear + c) * scale
            let det = m00 * m11 - m01 * m10
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 900) { buffer in
                let padded = buffer.baseAddress!
                Augmenter.pad(scratch, into: padded)
                for y in 0..<28 { for x in 0..<28 {
                    let dx = Float(x) - 13.5 - shift.0, dy = Float(y) - 13.5 - shift.1
                    let u = (m11 * dx - m01 * dy) / det + 13.5, v = (-m10 * dx + m00 * dy) / det + 13.5
                    img[y * 28 + x] = Augmenter.bilinearPadded(padded, u, v)
                } }
            }
        }
    }

    public static let corruptions: [Corruption] = [
        Corruption(name: "gaussian noise σ=0.25") { img, _, rng in
            for i in 0..<784 { img[i] = min(1, max(0, img[i] + rng.normal() * 0.25)) }
        },
        Corruption(name: "blur σ≈1.2 px") { img, scratch, _ in Augmenter.blur(img, scratch: scratch, passes: 3) },
        Corruption(name: "rotation ±15°") { img, scratch, rng in
            let sign: Float = rng.uniform() < 0.5 ? -1 : 1
            affine(rotation: sign * rng.uniform(10, 15))(img, scratch, &rng)
        },
        Corruption(name: "shear ±0.3") { img, scratch, rng in
            affine(shear: (rng.uniform() < 0.5 ? -1 : 1) * rng.uniform(0.2, 0.3))(img, scratch, &rng)
        },
        Corruption(name: "scale 0.75-1.2") { img, scratch, rng in
            affine(scale: rng.uniform() < 0.5 ? rng.uniform(0.75, 0.85) : rng.uniform(1.1, 1.2))(img, scratch, &rng)
        },
        Corruption(name: "translation ±3 px") { img, scratch, rng in
            let dx = (rng.uniform() < 0.5 ? -1 : 1) * rng.uniform(2, 3), dy = (rng.uniform() < 0.5 ? -1 : 1) * rng.uniform(0, 3)
            affine(shift: (dx, dy))(img, scratch, &rng)
        },
        Corruption(name: "thick strokes") { img, scratch, _ in Augmenter.morphology(img, scratch: scratch, dilate: true, strength: 1) },
        Corruption(name: "thin strokes") { img, scratch, _ in Augmenter.morphology(img, scratch: scratch, dilate: false, strength: 0.8) },
        Corruption(name: "low contrast (ink 25%)") { img, _, _ in for i in 0..<784 { img[i] *= 0.25 } },
        Corruption(name: "fog (background 40%)") { img, _, rng in
            for i in 0..<784 { img[i] = min(1, 0.4 + 0.6 * img[i] + rng.normal() * 0.03) }
        },
        Corruption(name: "clutter lines") { img, _, rng in
            for _ in 0..<2 { Augmenter.clutterLine(img, random: &rng) }
        },
    ]

    public struct Result: Sendable, Codable { public let name: String; public let accuracy: Double }

    /// Accuracy of `classifier` on each corrupted copy of `set`.
    public static func evaluate(_ classifier: DigitClassifier, on set: LabelledImages, seed: UInt64 = 2024) -> [Result] {
        corruptions.map { c in
            var rng = RandomSource(seed: seed)
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 784)
            defer { scratch.deallocate() }
            let report = Evaluator.evaluate(classifier, on: set) { _, img in c.apply(img, scratch, &rng) }
            return Result(name: c.name, accuracy: report.accuracy)
        }
    }
}
