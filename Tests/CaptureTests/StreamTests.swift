import Foundation
import Imaging
import Testing
@testable import Capture

/// Raw Y4M bytes for gray frames (chroma planes filled with 128), as ffmpeg would write them.
func makeY4M(_ frames: [GrayImage], rate: String = "30000:1001") -> [UInt8] {
    let w = frames[0].width, h = frames[0].height
    var out = Array("YUV4MPEG2 W\(w) H\(h) F\(rate) Ip A1:1 C420jpeg XYSCSS=420JPEG\n".utf8)
    let chroma = 2 * ((w + 1) / 2) * ((h + 1) / 2)
    for f in frames {
        out += Array("FRAME\n".utf8)
        out += f.pixels
        out += [UInt8](repeating: 128, count: chroma)
    }
    return out
}

/// A small test picture whose pixels say which frame it is.
func pattern(_ n: Int, width: Int = 32, height: Int = 24) -> GrayImage {
    var g = GrayImage(width: width, height: height, fill: UInt8(20 * n + 10))
    g[n % width, 0] = 255
    return g
}

func drain(_ source: any FrameSource) throws -> [Frame] {
    var frames: [Frame] = []
    while true {
        switch try source.nextFrame() {
        case .frame(let f): frames.append(f)
        case .noFrameYet: continue
        case .end: return frames
        }
    }
}

@Suite struct Y4MStreamTests {
    @Test func aY4MStreamGivesEachFramesLumaPlaneAndItsRate() throws {
        let stream = try Y4MStream(bytes: makeY4M([pattern(0), pattern(1), pattern(2)]))
        let frames = try drain(stream)
        #expect(frames.map(\.index) == [0, 1, 2])
        #expect(frames.map(\.image) == [pattern(0), pattern(1), pattern(2)])
        #expect(abs(stream.nominalFrameRate! - 29.97) < 0.01)
        #expect(stream.statistics.corruptFrames == 0)
    }

    @Test func oddSizesUseRoundedUpChromaPlanes() throws {
        let a = pattern(1, width: 33, height: 25), b = pattern(2, width: 33, height: 25)
        #expect(try drain(Y4MStream(bytes: makeY4M([a, b]))).map(\.image) == [a, b])
    }

    @Test func aFrameWithABrokenHeaderIsSkippedAndCounted() throws {
        var bytes = makeY4M([pattern(0), pattern(1), pattern(2)])
        let second = bytes.indices.filter { bytes[$0...].starts(with: Array("FRAME".utf8)) }[1]
        bytes[second + 4] = UInt8(ascii: "X")   // "FRAMX"
        let stream = try Y4MStream(bytes: bytes)
        let frames = try drain(stream)
        #expect(frames.map(\.image) == [pattern(0), pattern(2)])
        #expect(frames.map(\.index) == [0, 1])
        #expect(stream.statistics.corruptFrames == 1)
    }

    @Test func aFrameMissingBytesIsSkippedAndTheNextOneStillRead() throws {
        var bytes = makeY4M([pattern(0), pattern(1), pattern(2)])
        let second = bytes.indices.filter { bytes[$0...].starts(with: Array("FRAME".utf8)) }[1]
        bytes.removeSubrange((second + 10)..<(second + 110))
        let stream = try Y4MStream(bytes: bytes)
        #expect(try drain(stream).map(\.image) == [pattern(0), pattern(2)])
        #expect(stream.statistics.corruptFrames == 1)
    }

    @Test func aStreamCutShortEndsAfterTheLastWholeFrame() throws {
        var bytes = makeY4M([pattern(0), pattern(1)])
        bytes.removeLast(300)
        let stream = try Y4MStream(bytes: bytes)
        #expect(try drain(stream).map(\.image) == [pattern(0)])
        #expect(stream.statistics.corruptFrames == 1)
    }

    @Test func aStreamWithoutTheMagicIsRefusedWithAClearMessage() {
        #expect(throws: CaptureError.self) { try Y4MStream(bytes: Array("RIFF....".utf8)) }
        #expect(throws: CaptureError.self) { try Y4MStream(bytes: Array("YUV4MPEG2 W0 H10\n".utf8)) }
    }
}

@Suite struct MJPEGStreamTests {
    /// The JPEGs of `n` test frames, large enough that lossy coding keeps the fill value close.
    func jpegs(_ n: Int) -> [[UInt8]] {
        (0..<n).map { encodeJPEG(GrayImage(width: 64, height: 48, fill: UInt8(40 * $0 + 20)), quality: 95) }
    }

    func meanValue(_ f: Frame) -> Int { f.image.pixels.reduce(0) { $0 + Int($1) } / f.image.pixels.count }

    @Test func concatenatedJPEGsAreSplitIntoFrames() throws {
        let parts = jpegs(3)
        let stream = MJPEGStream(bytes: parts[0] + [0, 1, 2] + parts[1] + parts[2])
        let frames = try drain(stream)
        #expect(frames.map(\.index) == [0, 1, 2])
        #expect(frames.map { abs(meanValue($0) - [20, 60, 100][$0.index]) <= 2 } == [true, true, true])
        #expect(stream.statistics.corruptFrames == 0)
    }

    @Test func aJPEGCutInTheMiddleIsSkippedAndCounted() throws {
        let parts = jpegs(3)
        let broken = Array(parts[1].prefix(parts[1].count / 2))
        let stream = MJPEGStream(bytes: parts[0] + broken + parts[2])
        let frames = try drain(stream)
        #expect(frames.count == 2)
        #expect(abs(meanValue(frames[1]) - 100) <= 2)
        #expect(stream.statistics.corruptFrames == 1)
    }

    @Test func aJPEGThatDoesNotDecodeIsSkippedAndCounted() throws {
        let parts = jpegs(2)
        // SOI, then a segment that is not a JPEG frame at all, then EOI.
        let junk: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x00, 0x00, 0xFF, 0xD9]
        let stream = MJPEGStream(bytes: parts[0] + junk + parts[1])
        #expect(try drain(stream).count == 2)
        #expect(stream.statistics.corruptFrames == 1)
    }

    @Test func aStreamCutShortCountsTheLastImageAsCorrupt() throws {
        let parts = jpegs(2)
        let stream = MJPEGStream(bytes: parts[0] + parts[1].dropLast(40))
        #expect(try drain(stream).count == 1)
        #expect(stream.statistics.corruptFrames == 1)
    }

    @Test func streamsAreReadFromFilesAndTellY4MFromMJPEGByTheirBytes() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("digitd-capture-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let y4m = dir.appendingPathComponent("clip.bin").path
        try Data(makeY4M([pattern(0), pattern(1)])).write(to: URL(fileURLWithPath: y4m))
        let mjpeg = dir.appendingPathComponent("clip.mjpeg").path
        try Data(jpegs(3).flatMap { $0 }).write(to: URL(fileURLWithPath: mjpeg))
        let a = try openFrameSource(y4m)
        #expect(a is Y4MStream)
        #expect(try drain(a).count == 2)
        let b = try openFrameSource(mjpeg)
        #expect(b is MJPEGStream)
        #expect(try drain(b).count == 3)
    }

    @Test func aLoopedFileStartsAgainAtTheEnd() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("digitd-loop-\(getpid()).y4m").path
        try Data(makeY4M([pattern(0), pattern(1)])).write(to: URL(fileURLWithPath: path))
        defer { unlink(path) }
        var options = SourceOptions(); options.loop = true
        let source = try openFrameSource(path, options: options)
        var indices: [Int] = []
        for _ in 0..<5 { if case .frame(let f) = try source.nextFrame() { indices.append(f.index) } }
        #expect(indices == [0, 1, 2, 3, 4])
    }
}

@Suite struct ImageFileSourceTests {
    @Test func aFolderIsReadInNameOrderSkippingOtherFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("digitd-images-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for (name, n) in [("frame-10.png", 3), ("frame-02.png", 1), ("frame-01.png", 0), ("frame-03.png", 2)] {
            try Data(encodePNG(pattern(n))).write(to: dir.appendingPathComponent(name))
        }
        try Data("notes".utf8).write(to: dir.appendingPathComponent("readme.txt"))
        try Data("not a png".utf8).write(to: dir.appendingPathComponent("frame-04.png"))
        let source = try ImageFileSource(pattern: dir.path)
        #expect(source.paths.map { ($0 as NSString).lastPathComponent }
                == ["frame-01.png", "frame-02.png", "frame-03.png", "frame-04.png", "frame-10.png"])
        let frames = try drain(source)
        #expect(frames.map(\.image) == [pattern(0), pattern(1), pattern(2), pattern(3)])
        #expect(source.statistics.corruptFrames == 1)
        let glob = try ImageFileSource(pattern: dir.path + "/frame-0[12].png")
        #expect(glob.paths.count == 2)
    }

    @Test func aMissingPathIsAnErrorNamingIt() {
        #expect(throws: CaptureError(source: "/nonexistent/x.png", fault: "no such file or folder")) {
            try ImageFileSource(pattern: "/nonexistent/x.png")
        }
    }
}
