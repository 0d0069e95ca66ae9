import Foundation
import Testing
@testable import Training

struct IDXDatasetTests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("digitd-idx-\(getpid())").path

    init() throws { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }

    func write(_ name: String, _ bytes: [UInt8]) -> String {
        let p = dir + "/" + name
        FileManager.default.createFile(atPath: p, contents: Data(bytes))
        return p
    }

    func header(_ magic: UInt8, _ dims: [Int]) -> [UInt8] {
        var h: [UInt8] = [0, 0, 8, magic]
        for d in dims { h += [UInt8(d >> 24 & 255), UInt8(d >> 16 & 255), UInt8(d >> 8 & 255), UInt8(d & 255)] }
        return h
    }

    @Test func readsARawImageAndLabelPair() throws {
        let img = write("i", header(3, [2, 2, 3]) + [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])
        let lab = write("l", header(1, [2]) + [7, 3])
        let set = try LabelledImages.load(images: img, labels: lab)
        #expect(set.count == 2 && set.rows == 2 && set.columns == 3)
        #expect(set.images[6] == 7 && set.labels == [7, 3])
    }

    @Test func readsTheGzipFixture() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().path
        let set = try LabelledImages.load(images: root + "/Fixtures/mnist/t10k-images-idx3-ubyte.gz",
                                          labels: root + "/Fixtures/mnist/t10k-labels-idx1-ubyte.gz")
        #expect(set.count == 10000 && set.rows == 28)
        #expect(Array(set.labels.prefix(5)) == [7, 2, 1, 0, 4])   // the well-known first test labels
    }

    @Test func wrongMagicNumberIsNamed() {
        let p = write("bad", [0x12, 0x34, 0x56, 0x78, 0, 0, 0, 1, 5])
        #expect(throws: IDXError(path: p, fault: "wrong magic number 0x12345678 (want 0x00000801 labels or 0x00000803 images)")) {
            try IDXFile.read(path: p)
        }
    }

    @Test func truncatedDataSaysHowMuchIsMissing() {
        let p = write("trunc", header(3, [2, 2, 2]) + [1, 2, 3])
        #expect(throws: IDXError(path: p, fault: "truncated data: 3 of 8 bytes for 2x2x2")) { try IDXFile.read(path: p) }
    }

    @Test func imageLabelCountMismatchNamesBothFiles() {
        let img = write("i3", header(3, [3, 1, 1]) + [1, 2, 3])
        let lab = write("l2", header(1, [2]) + [1, 2])
        #expect(throws: IDXError(path: lab, fault: "holds 2 labels but \(img) holds 3 images")) {
            try LabelledImages.load(images: img, labels: lab)
        }
    }

    @Test func swappedImageAndLabelFilesAreRejected() {
        let img = write("i1", header(3, [1, 1, 1]) + [9])
        let lab = write("l1", header(1, [1]) + [1])
        #expect(throws: IDXError.self) { try LabelledImages.load(images: lab, labels: img) }
    }

    @Test func truncatedGzipIsReportedNotCrashed() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().path
        let whole = try Data(contentsOf: URL(fileURLWithPath: root + "/Fixtures/mnist/t10k-labels-idx1-ubyte.gz"))
        let p = write("cut.gz", [UInt8](whole.prefix(whole.count / 2)))
        #expect(throws: IDXError(path: p, fault: "truncated gzip stream")) { try IDXFile.read(path: p) }
    }

    @Test func missingFileSaysSo() {
        #expect(throws: IDXError(path: dir + "/nope", fault: "no such file")) { try IDXFile.read(path: dir + "/nope") }
    }

    @Test func labelOutsideZeroToNineIsRejected() {
        let img = write("i4", header(3, [1, 1, 1]) + [9])
        let lab = write("l4", header(1, [1]) + [12])
        #expect(throws: IDXError(path: lab, fault: "label 12 is not a digit 0-9")) { try LabelledImages.load(images: img, labels: lab) }
    }
}

struct IDXWriteTests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("digitd-idxw-\(getpid())").path
    init() throws { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }

    @Test(arguments: ["", ".gz"]) func aWrittenSetReadsBackTheSame(suffix: String) throws {
        let images = (0..<(3 * 28 * 28)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let set = LabelledImages(count: 3, rows: 28, columns: 28, images: images, labels: [4, 10, 0])
        let (i, l) = (dir + "/i" + suffix, dir + "/l" + suffix)
        try set.write(images: i, labels: l)
        let raw = [UInt8](FileManager.default.contents(atPath: i)!)
        #expect((raw[0] == 0x1f && raw[1] == 0x8b) == (suffix == ".gz"))
        let back = try LabelledImages.load(images: i, labels: l, maximumLabel: 10)
        #expect(back.count == 3 && back.rows == 28 && back.images == images && back.labels == [4, 10, 0])
        // MNIST readers (the default) refuse the "not a digit" label, naming it
        #expect(throws: IDXError(path: l, fault: "label 10 is not a digit 0-9")) { try LabelledImages.load(images: i, labels: l) }
    }

    @Test func anUnwritableDirectoryIsOneError() {
        #expect(throws: IDXError.self) {
            try IDXFile.write(path: "/nonexistent-dir/x.gz", dimensions: [1], data: [1])
        }
    }
}
