import Testing
@testable import NeuralNet
@testable import Training

struct AugmentationTests {
    let digit: [UInt8] = Array(TrainingTests.mnistTest.images[0..<784])   // a 7

    func augmented(_ options: AugmentationOptions, seed: UInt64) -> [Float] {
        var out = [Float](repeating: 0, count: 784), scratch = out
        var rng = RandomSource(seed: seed)
        digit.withUnsafeBufferPointer { Augmenter.augment($0.baseAddress!, into: &out, scratch: &scratch, options: options, random: &rng) }
        return out
    }

    @Test func withEverythingOffTheDigitIsUnchanged() {
        let out = augmented(.none, seed: 1)
        let worst = zip(out, digit).map { abs($0 - Float($1) / 255) }.max()!
        #expect(worst < 1e-6, "largest change \(worst)")
    }

    @Test func theSameSeedGivesTheSameCropAndAnotherSeedADifferentOne() {
        let a = augmented(AugmentationOptions(), seed: 5), b = augmented(AugmentationOptions(), seed: 5)
        #expect(a == b)
        #expect(a != augmented(AugmentationOptions(), seed: 6))
    }

    @Test func aPureShiftMovesTheCentreOfMassByAboutTheShift() {
        var o = AugmentationOptions.none
        o.shiftPixels = 3
        func centre(_ img: [Float]) -> (Float, Float) {
            var m: Float = 0, x: Float = 0, y: Float = 0
            for i in 0..<784 { m += img[i]; x += img[i] * Float(i % 28); y += img[i] * Float(i / 28) }
            return (x / m, y / m)
        }
        let before = centre(augmented(.none, seed: 1))
        for seed in UInt64(1)...5 {
            let after = centre(augmented(o, seed: seed))
            #expect(abs(after.0 - before.0) <= 3.3 && abs(after.1 - before.1) <= 3.3)
        }
    }

    @Test func thickerStrokesHaveMoreInkAndThinnerLess() {
        var img = digit.map { Float($0) / 255 }, scratch = img
        let ink = img.reduce(0, +)
        Augmenter.morphology(&img, scratch: &scratch, dilate: true, strength: 1)
        #expect(img.reduce(0, +) > ink * 1.3)
        var thin = digit.map { Float($0) / 255 }
        Augmenter.morphology(&thin, scratch: &scratch, dilate: false, strength: 1)
        #expect(thin.reduce(0, +) < ink * 0.8)
    }

    @Test func unknownEffectNamesAreRefused() {
        var o = AugmentationOptions()
        let known = o.disable("elastic"), unknown = o.disable("sparkle")
        #expect(known && o.elastic == 0)
        #expect(!unknown)
    }

    @Test func negativesAreInkInsideTheTwentyPixelBox() {
        var rng = RandomSource(seed: 3)
        var out = [Float](repeating: 0, count: 784)
        for _ in 0..<50 {
            NegativeSamples.draw(into: &out, random: &rng)
            let ink = out.reduce(0, +)
            #expect(ink > 5, "a negative with almost no ink")
            var border: Float = 0
            for i in 0..<784 where i % 28 < 2 || i % 28 > 25 || i / 28 < 2 || i / 28 > 25 { border += out[i] }
            #expect(border < ink * 0.05)
        }
    }
}
