import Imaging
import Testing
@testable import Recognition

@Test func sceneCrops_labelDigitsByOverlap_andKeepFragmentsAndNeighboursOut() {
    let labeller = SceneCropLabeller()
    let truth: [(box: Box, digit: Int)] = [(Box(x: 100, y: 100, width: 20, height: 40), 7), (Box(x: 125, y: 100, width: 20, height: 40), 3)]
    #expect(labeller.label(Box(x: 101, y: 102, width: 19, height: 37), truth: truth) == 7)   // the 7, tightened
    #expect(labeller.label(Box(x: 124, y: 99, width: 22, height: 42), truth: truth) == 3)
    #expect(labeller.label(Box(x: 300, y: 300, width: 20, height: 30), truth: truth) == 10)  // far from any digit
    #expect(labeller.label(Box(x: 102, y: 105, width: 8, height: 12), truth: truth) == nil)  // a piece of the 7
    #expect(labeller.label(Box(x: 100, y: 100, width: 45, height: 40), truth: truth) == 10)  // 7 and 3 read as one
    #expect(labeller.label(Box(x: 100, y: 95, width: 38, height: 48), truth: truth) == nil)  // the 7 and part of the 3
    #expect(labeller.label(Box(x: 60, y: 60, width: 130, height: 110), truth: truth) == 10)  // a scribble around both
    // half of the 7, cut from a wider blob: not a digit (read as one it is a false detection)
    #expect(labeller.label(Box(x: 100, y: 100, width: 9, height: 40), truth: truth, cutPiece: true) == 10)
    #expect(labeller.label(Box(x: 100, y: 100, width: 9, height: 40), truth: truth) == nil)
    #expect(labeller.label(Box(x: 124, y: 100, width: 21, height: 40), truth: truth, cutPiece: true) == 3)   // a piece that is the 3
}

@Test func sceneCrops_comeFromThePipeline_withDigitsAndNotDigits() {
    let generator = SceneGenerator(glyphs: .fromFont())
    let labeller = SceneCropLabeller()
    var images: [UInt8] = [], labels: [UInt8] = []
    var options = SceneGenerator.Options()
    options.width = 640; options.height = 480
    var truthDigits = 0
    for seed in 1...4 as ClosedRange<UInt64> {
        let scene = generator.render(seed: seed, options: options)
        truthDigits += scene.digits.count
        labeller.collect(scene, images: &images, labels: &labels)
    }
    #expect(images.count == labels.count * 784)
    let digits = labels.filter { $0 < 10 }.count
    // Most true digits come back as crops with their labels; distractors come back as class 10.
    #expect(digits * 10 >= truthDigits * 7, "\(digits) digit crops for \(truthDigits) digits")
    #expect(labels.contains(10) && labels.allSatisfy { $0 <= 10 })
    // crops are MNIST-like: dark background, some ink
    let first = images[0..<784]
    #expect(first.filter { $0 > 128 }.count > 20 && Int(first[0]) + Int(first[27]) + Int(first[783]) < 60)
}
