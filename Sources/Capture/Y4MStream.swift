import Imaging

/// Frames from a YUV4MPEG2 stream (as `ffmpeg -f yuv4mpegpipe` writes it), from a file or stdin.
///
/// Only the luma (Y) plane is kept: recognition works on gray. A frame whose `FRAME` header or size
/// does not fit is skipped and counted in `statistics.corruptFrames`; the parser resynchronises on
/// the next `FRAME` line. A frame cut short at the end of the stream is counted and ends it.
public final class Y4MStream: FrameSource, @unchecked Sendable {
    public let name: String
    public let pacing = Pacing.onDemand
    public private(set) var nominalFrameRate: Double?
    public private(set) var statistics = CaptureStatistics()
    public let width: Int
    public let height: Int
    /// Bytes of one frame's payload (all planes).
    public let frameBytes: Int
    private let reader: ByteReader
    private let loop: Bool
    private var nextIndex = 0
    private var ended = false

    /// Opens `path` (`-` for stdin) and reads the stream header.
    public convenience init(path: String, loop: Bool = false) throws {
        try self.init(reader: ByteReader(path: path), loop: loop)
    }

    /// Parses a stream held in memory (tests).
    public convenience init(bytes: [UInt8], name: String = "<memory>") throws {
        try self.init(reader: ByteReader(bytes: bytes, name: name), loop: false)
    }

    init(reader: ByteReader, loop: Bool) throws {
        self.reader = reader
        self.name = reader.path
        self.loop = loop
        let header = try Y4MStream.parseHeader(reader)
        width = header.width; height = header.height
        frameBytes = header.frameBytes; nominalFrameRate = header.frameRate
    }

    struct Header { var width: Int; var height: Int; var frameBytes: Int; var frameRate: Double? }

    static func parseHeader(_ reader: ByteReader) throws -> Header {
        guard let line = try reader.readLine(limit: 1024),
              let text = String(bytes: line, encoding: .ascii), text.hasPrefix("YUV4MPEG2") else {
            throw CaptureError(source: reader.path, fault: "not a YUV4MPEG2 stream (no 'YUV4MPEG2' header line)")
        }
        var width = 0, height = 0, rate: Double?, colour = "420jpeg"
        for field in text.split(separator: " ").dropFirst() {
            let value = field.dropFirst()
            switch field.first {
            case "W": width = Int(value) ?? 0
            case "H": height = Int(value) ?? 0
            case "F":
                let parts = value.split(separator: ":")
                if parts.count == 2, let n = Double(parts[0]), let d = Double(parts[1]), n > 0, d > 0 { rate = n / d }
            case "C": colour = String(value)
            default: break
            }
        }
        guard width > 0, height > 0 else {
            throw CaptureError(source: reader.path, fault: "Y4M header has no valid W and H: \(text)")
        }
        do { try ImageLimits.check(width: width, height: height) } catch {
            throw CaptureError(source: reader.path, fault: "Y4M frame size \(width)x\(height) is too large")
        }
        let luma = width * height
        let cw = (width + 1) / 2, ch = (height + 1) / 2
        let frameBytes: Int
        switch colour {
        case let c where c.hasPrefix("420"): frameBytes = luma + 2 * cw * ch
        case let c where c.hasPrefix("422"): frameBytes = luma + 2 * cw * height
        case "444": frameBytes = 3 * luma
        case "444alpha": frameBytes = 4 * luma
        case let c where c.hasPrefix("mono"): frameBytes = luma
        default:
            throw CaptureError(source: reader.path, fault: "Y4M colour space C\(colour) is not supported (use 420, 422, 444 or mono)")
        }
        return Header(width: width, height: height, frameBytes: frameBytes, frameRate: rate)
    }

    private static let marker: [UInt8] = Array("FRAME".utf8)

    private func startsWithMarker(at offset: Int) -> Bool {
        guard reader.available >= offset + 5 else { return false }
        for i in 0..<5 where reader[offset + i] != Y4MStream.marker[i] { return false }
        return true
    }

    public func nextFrame() throws -> FrameResult {
        while !ended {
            try reader.fill(5)
            if reader.available == 0 {
                if loop && nextIndex > 0 && reader.rewind() {
                    _ = try Y4MStream.parseHeader(reader)
                    continue
                }
                ended = true; break
            }
            guard startsWithMarker(at: 0), let _ = try reader.readLine(limit: 1024) else {
                statistics.corruptFrames += 1
                try resynchronise(from: 1)
                continue
            }
            // The payload should be followed by the next FRAME line or the end of the stream;
            // otherwise this frame's size is wrong and its pixels cannot be trusted. Checked when
            // those bytes are already here: waiting for them would hold a live pipe's newest
            // frame back until the next one arrives. (A misfit not caught here is caught by the
            // next frame's header check.)
            try reader.fill(frameBytes)
            if reader.available < frameBytes {
                statistics.corruptFrames += 1   // cut short at the end of the stream
                reader.consume(reader.available)
                ended = true; break
            }
            if reader.available > frameBytes && !startsWithMarker(at: frameBytes) {
                // Either this frame is short (the next FRAME line starts inside it), or the bytes
                // after it are damaged. Only the first makes this frame's pixels wrong.
                if let early = (0..<frameBytes).first(where: startsWithMarker(at:)) {
                    statistics.corruptFrames += 1
                    reader.consume(early)
                    continue
                }
            }
            let luma = reader.take(width * height)
            reader.consume(frameBytes - width * height)
            let frame = Frame(index: nextIndex, source: name,
                              image: GrayImage(width: width, height: height, pixels: luma))
            nextIndex += 1
            return .frame(frame)
        }
        return .end
    }

    /// Discards bytes up to the next `FRAME` marker at or after `offset` (or to the end).
    private func resynchronise(from offset: Int) throws {
        var i = offset
        while true {
            while i + 5 <= reader.available {
                if startsWithMarker(at: i) { reader.consume(i); return }
                i += 1
            }
            if reader.atEnd { reader.consume(reader.available); return }
            // Keep the last 4 bytes: a marker may straddle the read boundary.
            let keep = min(4, reader.available)
            reader.consume(reader.available - keep)
            i = 0
            try reader.readChunk()
        }
    }

    public func close() { reader.close() }
}
