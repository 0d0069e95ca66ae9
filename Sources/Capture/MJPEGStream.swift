import Imaging

/// Frames from an MJPEG stream: JPEG images one after another, from a file or stdin.
///
/// Each JPEG is found by walking its marker segments from SOI to EOI (entropy-coded data is scanned
/// for the next marker, so an `FF D9` inside a thumbnail or stuffed data does not end it early).
/// Bytes between images are skipped; an image that is malformed or fails to decode is skipped and
/// counted in `statistics.corruptFrames`; one cut short at the end of the stream is counted too.
public final class MJPEGStream: FrameSource, @unchecked Sendable {
    public let name: String
    public let pacing = Pacing.onDemand
    public let nominalFrameRate: Double?
    public private(set) var statistics = CaptureStatistics()
    /// Largest JPEG accepted; a longer run without EOI is treated as corrupt.
    public static let maximumFrameBytes = 32 << 20
    private let reader: ByteReader
    private let loop: Bool
    private var nextIndex = 0
    private var ended = false

    public convenience init(path: String, frameRate: Double? = nil, loop: Bool = false) throws {
        self.init(reader: try ByteReader(path: path), frameRate: frameRate, loop: loop)
    }

    /// Parses a stream held in memory (tests).
    public convenience init(bytes: [UInt8], name: String = "<memory>") {
        self.init(reader: ByteReader(bytes: bytes, name: name), frameRate: nil, loop: false)
    }

    init(reader: ByteReader, frameRate: Double?, loop: Bool) {
        self.reader = reader; self.name = reader.path
        self.nominalFrameRate = frameRate; self.loop = loop
    }

    public func nextFrame() throws -> FrameResult {
        while !ended {
            guard try seekStartOfImage() else {
                if loop && nextIndex > 0 && reader.rewind() { continue }
                ended = true; break
            }
            switch try measureImage() {
            case .complete(let length):
                let bytes = reader.take(length)
                do {
                    let image = try bytes.withUnsafeBytes { try decodeJPEGGray($0) }
                    let frame = Frame(index: nextIndex, source: name, image: image)
                    nextIndex += 1
                    return .frame(frame)
                } catch {
                    statistics.corruptFrames += 1
                }
            case .malformed(let skip):
                statistics.corruptFrames += 1
                reader.consume(skip)
            case .truncated:
                statistics.corruptFrames += 1
                reader.consume(reader.available)
                ended = true
            }
        }
        return .end
    }

    /// Skips to the next `FF D8 FF`; false at end of input.
    private func seekStartOfImage() throws -> Bool {
        while true {
            var i = 0
            while i + 3 <= reader.available {
                if reader[i] == 0xFF && reader[i + 1] == 0xD8 && reader[i + 2] == 0xFF {
                    reader.consume(i); return true
                }
                i += 1
            }
            if reader.atEnd { reader.consume(reader.available); return false }
            reader.consume(max(0, reader.available - 2))
            try reader.readChunk()
        }
    }

    enum Measure { case complete(Int), malformed(skip: Int), truncated }

    /// Finds the length of the JPEG starting at the reader's position (which holds SOI).
    private func measureImage() throws -> Measure {
        var p = 2
        func need(_ n: Int) throws -> Bool {
            if n > MJPEGStream.maximumFrameBytes { return false }
            return try reader.fill(n)
        }
        while true {
            guard try need(p + 2) else { return reader.atEnd ? .truncated : .malformed(skip: 2) }
            guard reader[p] == 0xFF else { return .malformed(skip: 2) }
            var m = reader[p + 1]
            while m == 0xFF {   // fill bytes before a marker
                p += 1
                guard try need(p + 2) else { return reader.atEnd ? .truncated : .malformed(skip: 2) }
                m = reader[p + 1]
            }
            switch m {
            case 0xD9:
                return .complete(p + 2)
            case 0xD8, 0x00:
                // A new image starts before this one ended: this one is broken.
                return .malformed(skip: p)
            case 0x01, 0xD0...0xD7:
                p += 2
            default:
                guard try need(p + 4) else { return reader.atEnd ? .truncated : .malformed(skip: 2) }
                let length = Int(reader[p + 2]) << 8 | Int(reader[p + 3])
                guard length >= 2 else { return .malformed(skip: p) }
                p += 2 + length
                if m == 0xDA {
                    // Entropy-coded data: runs to the next FF that is neither stuffing (FF 00)
                    // nor a restart marker (FF D0...D7).
                    while true {
                        guard try need(p + 2) else { return reader.atEnd ? .truncated : .malformed(skip: 2) }
                        if reader[p] == 0xFF {
                            let next = reader[p + 1]
                            if next != 0x00 && !(0xD0...0xD7).contains(next) && next != 0xFF { break }
                        }
                        p += 1
                    }
                }
            }
        }
    }

    public func close() { reader.close() }
}
