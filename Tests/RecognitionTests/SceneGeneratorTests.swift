import Imaging
import Testing
@testable import Recognition

@Test func sceneGenerator_isDeterministic_andItsTruthLiesOnInk() {
    let generator = SceneGenerator(glyphs: .fromFont())
    var options = SceneGenerator.Options()
    options.width = 640; options.height = 480; options.chalkboard = false
    let a = generator.render(seed: 42, options: options)
    let b = generator.render(seed: 42, options: options)
    #expect(a.image == b.image && a.digits.map { $0.box } == b.digits.map { $0.box })
    #expect(generator.render(seed: 43, options: options).image != a.image)
    #expect(!a.digits.isEmpty && a.numbers.map { $0.value.count }.reduce(0, +) == a.digits.count)
    for d in a.digits {
        #expect(d.box.x >= 0 && d.box.y >= 0 && d.box.maxX <= 640 && d.box.maxY <= 480)
        // Ink is darker than the paper around the box.
        var inside = 0, count = 0
        for y in d.box.y..<d.box.maxY { for x in d.box.x..<d.box.maxX { inside += Int(a.image[x, y]); count += 1 } }
        let ring = Box(x: max(0, d.box.x - 6), y: max(0, d.box.y - 6), width: d.box.width + 12, height: d.box.height + 12)
        var around = 0, ringCount = 0
        for y in ring.y..<min(480, ring.maxY) { for x in ring.x..<min(640, ring.maxX) where !(x >= d.box.x && x < d.box.maxX && y >= d.box.y && y < d.box.maxY) {
            around += Int(a.image[x, y]); ringCount += 1
        } }
        #expect(inside / count < around / max(ringCount, 1))
    }
}

@Test func sceneGenerator_drawsChalkboardsLightOnDark_andEmptyPagesWithoutDigits() {
    let generator = SceneGenerator(glyphs: .fromFont())
    var options = SceneGenerator.Options()
    options.width = 320; options.height = 240; options.chalkboard = true
    let board = generator.render(seed: 5, options: options)
    let mean = board.image.pixels.map(Int.init).reduce(0, +) / board.image.pixels.count
    #expect(mean < 110)
    options.withDigits = false
    let empty = generator.render(seed: 6, options: options)
    #expect(empty.digits.isEmpty && empty.numbers.isEmpty)
}

@Test func sceneGenerator_drawsDigitsOfTheHeightsAskedFor() {
    let generator = SceneGenerator(glyphs: .fromFont())
    var options = SceneGenerator.Options()
    options.width = 640; options.height = 480; options.chalkboard = false
    func heights(_ range: ClosedRange<Double>?) -> [Int] {
        options.digitHeights = range
        return (0..<4).flatMap { generator.render(seed: 70 + UInt64($0), options: options).digits.map { $0.box.height } }
    }
    let small = heights(0.03...0.05), large = heights(0.2...0.25), standard = heights(nil)
    #expect(!small.isEmpty && !large.isEmpty && !standard.isEmpty)
    // 0.05 x 480 = 24 pixels, give or take the per-digit size jitter, rotation and perspective;
    // never below the 16-pixel floor (less the jitter).
    #expect(small.allSatisfy { $0 >= 12 && $0 <= 32 }, "\(small)")
    #expect(large.allSatisfy { $0 >= 80 }, "\(large)")
    #expect(small.max()! < large.min()!)
    // The default stays the 0.045-0.14 mix, between the two.
    #expect(standard.min()! >= 16 && standard.max()! <= 80, "\(standard)")
}

@Test func sceneGenerator_writesNumbersWithTouchingDigitsAsOftenAsAsked() {
    let generator = SceneGenerator(glyphs: .fromFont())
    var options = SceneGenerator.Options()
    options.width = 640; options.height = 480; options.chalkboard = false
    // Neighbouring digits of one number whose ink boxes meet or overlap.
    func touchingPairs(_ fraction: Double) -> Int {
        options.touchingFraction = fraction
        var pairs = 0
        for seed in 0..<6 {
            let scene = generator.render(seed: 300 + UInt64(seed), options: options)
            var i = 0
            for number in scene.numbers {
                let boxes = scene.digits[i..<(i + number.value.count)].map { $0.box }
                i += number.value.count
                for (a, b) in zip(boxes, boxes.dropFirst()) where b.x <= a.maxX { pairs += 1 }
            }
        }
        return pairs
    }
    let none = touchingPairs(0), all = touchingPairs(1)
    #expect(all > 10 && all > 4 * max(none, 1), "touching pairs: \(none) with 0, \(all) with 1")
}

@Test func sceneGenerator_drawsThinnerStrokesWithAHigherStrokeGamma_andLeavesTheRestOfTheSceneAlone() {
    let generator = SceneGenerator(glyphs: .fromFont())
    var options = SceneGenerator.Options()
    options.width = 640; options.height = 480; options.chalkboard = false
    // Ink inside the true boxes: how far below the paper around each box the box is, summed.
    func inkAndBoxes(_ gamma: ClosedRange<Double>) -> (ink: Int, boxes: [Box]) {
        options.strokeGamma = gamma
        var ink = 0, boxes: [Box] = []
        for seed in 0..<3 {
            let scene = generator.render(seed: 90 + UInt64(seed), options: options)
            for d in scene.digits {
                boxes.append(d.box)
                var paper = 0, edge = 0
                for x in d.box.x..<d.box.maxX { paper += Int(scene.image[x, max(0, d.box.y - 3)]); edge += 1 }
                paper /= max(edge, 1)
                for y in d.box.y..<d.box.maxY { for x in d.box.x..<d.box.maxX { ink += max(0, paper - Int(scene.image[x, y])) } }
            }
        }
        return (ink, boxes)
    }
    let bold = inkAndBoxes(0.2...0.3), thin = inkAndBoxes(3.0...3.5), fixed = inkAndBoxes(3.0...3.0)
    #expect(!bold.boxes.isEmpty && bold.boxes.count == thin.boxes.count)
    #expect(Double(thin.ink) < 0.7 * Double(bold.ink), "ink \(thin.ink) with thin strokes, \(bold.ink) with bold ones")
    // The same digits in the same places: one random draw per digit whatever the range, so
    // the pages differ only in stroke weight (boxes move by the faint edge pixels at most).
    #expect(fixed.boxes.count == thin.boxes.count)
    for (a, b) in zip(bold.boxes, thin.boxes) {
        #expect(abs((a.x + a.maxX) - (b.x + b.maxX)) <= 12 && abs((a.y + a.maxY) - (b.y + b.maxY)) <= 12, "\(a) \(b)")
    }
}

@Test func sceneGenerator_drawsFormBoxesAroundNumbers_onlyWhenAskedTo() {
    let generator = SceneGenerator(glyphs: .fromFont())
    var options = SceneGenerator.Options()
    options.width = 640; options.height = 480; options.chalkboard = false
    // Asked for no boxes (the default), a scene is what it always was: no draw is spent on them.
    let plain = generator.render(seed: 77, options: options)
    #expect(!plain.conditions.contains("boxes"))
    options.boxedFraction = 0
    #expect(generator.render(seed: 77, options: options).image.pixels == plain.image.pixels)
    // Every number boxed: a printed line runs above each number, darker than the paper, across
    // its width (a box's top side, a little above the digits).
    options.boxedFraction = 1
    var lined = 0, numbers = 0
    for seed in 0..<4 {
        let scene = generator.render(seed: 70 + UInt64(seed), options: options)
        guard !scene.numbers.isEmpty else { continue }
        #expect(scene.conditions.contains("boxes"), "\(scene.conditions)")
        for n in scene.numbers {
            numbers += 1
            // Columns above the number with a pixel well darker than the paper further up,
            // within 0.4 heights of its top (the page may be tilted a little).
            let b = n.box
            let paperY = max(0, b.y - b.height), xs = b.x..<b.maxX
            let paper = xs.map { Int(scene.image[$0, paperY]) }.reduce(0, +) / max(1, xs.count)
            let rows = max(0, b.y - b.height * 2 / 5)..<b.y
            let best = xs.filter { x in rows.contains { Int(scene.image[x, $0]) < paper - 15 } }.count
            if best * 10 >= xs.count * 8 { lined += 1 }
        }
    }
    #expect(numbers >= 8 && lined * 10 >= numbers * 8, "\(lined) of \(numbers) numbers have a line above them")
}

/// `inkContrast` makes the writing fainter and `defocus` blurs the picture; both leave the
/// digits where they were (the same draws), and without them a page is what it always was.
@Test func sceneGenerator_drawsFainterInkAndDefocus_onlyWhenAskedTo() {
    let generator = SceneGenerator(glyphs: .fromFont())
    var options = SceneGenerator.Options()
    options.width = 640; options.height = 480; options.chalkboard = false
    // How far below the paper just above each digit box the box's pixels are, summed.
    func ink(_ scene: Scene) -> Int {
        var total = 0
        for d in scene.digits {
            var paper = 0
            for x in d.box.x..<d.box.maxX { paper += Int(scene.image[x, max(0, d.box.y - 3)]) }
            paper /= max(d.box.width, 1)
            for y in d.box.y..<d.box.maxY { for x in d.box.x..<d.box.maxX { total += max(0, paper - Int(scene.image[x, y])) } }
        }
        return total
    }
    // How deep the darkest stroke of each digit is below the paper above it, with the picture
    // averaged over 3x3 (the sensor noise, added after the lens, averages out): a blur spreads
    // the strokes and makes them shallower.
    func depth(_ scene: Scene) -> Int {
        var total = 0
        for d in scene.digits {
            let paper = Int(scene.image[d.box.x + d.box.width / 2, max(0, d.box.y - 4)])
            var darkest = 255
            for y in max(1, d.box.y)..<min(scene.image.height - 1, d.box.maxY) {
                for x in max(1, d.box.x)..<min(scene.image.width - 1, d.box.maxX) {
                    var sum = 0
                    for dy in -1...1 { for dx in -1...1 { sum += Int(scene.image[x + dx, y + dy]) } }
                    darkest = min(darkest, sum / 9)
                }
            }
            total += max(0, paper - darkest)
        }
        return total
    }
    for seed in UInt64(30)..<UInt64(33) {
        let plain = generator.render(seed: seed, options: options)
        #expect(!plain.conditions.contains("defocus"))
        var faint = options
        faint.inkContrast = 0.2...0.25
        var strong = options
        strong.inkContrast = 0.95...1.0
        let f = generator.render(seed: seed, options: faint), s = generator.render(seed: seed, options: strong)
        #expect(f.digits.map { $0.digit } == s.digits.map { $0.digit } && !f.digits.isEmpty)
        #expect(Double(ink(f)) < 0.4 * Double(ink(s)), "ink \(ink(f)) faint, \(ink(s)) strong")
        var blurred = options
        blurred.defocus = 3...3.5
        let b = generator.render(seed: seed, options: blurred)
        #expect(b.conditions.contains("defocus"))
        #expect(b.digits.map { $0.digit } == plain.digits.map { $0.digit })
        #expect(Double(depth(b)) < 0.85 * Double(depth(plain)), "stroke depth \(depth(b)) out of focus, \(depth(plain)) in focus")
    }
}

/// `pageRotation`: a page turned further than the usual 3.4 degrees keeps every number wholly
/// inside the picture, and its lines of digits run tilted (the usual pages hardly are).
@Test func sceneGenerator_turnsThePageFurther_onlyWhenAskedTo() {
    let generator = SceneGenerator(glyphs: .fromFont())
    var options = SceneGenerator.Options()
    options.width = 640; options.height = 480
    var usualTilts: [Double] = []
    for seed in UInt64(41)..<UInt64(49) {
        if let t = writingTilt(generator.render(seed: seed, options: options).digits.map { $0.box }) { usualTilts.append(abs(t)) }
    }
    #expect(usualTilts.count >= 6 && usualTilts.filter { $0 > 0.1 }.count <= 1, "usual tilts \(usualTilts)")
    var turned = options
    turned.pageRotation = 0.45
    var tilts: [Double] = []
    for seed in UInt64(41)..<UInt64(49) {
        let scene = generator.render(seed: seed, options: turned)
        for d in scene.digits {
            #expect(d.box.x >= 1 && d.box.y >= 1 && d.box.maxX <= 639 && d.box.maxY <= 479, "\(d.box) at the edge")
        }
        if let t = writingTilt(scene.digits.map { $0.box }) { tilts.append(abs(t)) }
    }
    #expect(tilts.count >= 6 && tilts.filter { $0 > 0.1 }.count >= tilts.count / 2, "tilts \(tilts)")
}
