#if canImport(Glibc)
import Glibc
#endif

/// Buffered reading from a file descriptor (a file, or stdin for `-`), for the stream parsers.
///
/// Keeps at most what one frame needs plus one read chunk, so memory stays bounded however long
/// the stream is.
final class ByteReader {
    let path: String
    private var fd: Int32
    private let ownsDescriptor: Bool
    private(set) var buffer: [UInt8] = []
    /// Index of the first unconsumed byte in `buffer`.
    private(set) var position = 0
    private(set) var atEnd = false
    private let chunk = 1 << 16

    /// Opens `path`, or takes stdin for `-`.
    init(path: String) throws {
        self.path = path
        if path == "-" {
            fd = STDIN_FILENO; ownsDescriptor = false
        } else {
            fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                throw CaptureError(source: path, fault: String(cString: strerror(errno)))
            }
            ownsDescriptor = true
        }
    }

    /// Wraps bytes already in memory (tests, sniffed headers).
    init(bytes: [UInt8], name: String) {
        path = name; fd = -1; ownsDescriptor = false; buffer = bytes; atEnd = true
    }

    deinit { close() }

    func close() {
        if ownsDescriptor && fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
    }

    var available: Int { buffer.count - position }

    /// Reads until at least `count` bytes are buffered or the input ends; returns whether they are.
    @discardableResult
    func fill(_ count: Int) throws -> Bool {
        while available < count && !atEnd { try readChunk(atLeast: count - available) }
        return available >= count
    }

    /// Reads once, up to `max(atLeast, 64 KiB)` bytes, so a whole frame usually takes one call;
    /// sets `atEnd` at end of input.
    func readChunk(atLeast wanted: Int = 0) throws {
        guard fd >= 0 else { atEnd = true; return }
        if position > 0 && position >= buffer.count / 2 {
            buffer.removeFirst(position); position = 0
        }
        let size = max(chunk, wanted)
        let old = buffer.count
        buffer.append(contentsOf: [UInt8](repeating: 0, count: size))   // memset + memcpy; repeatElement appends byte by byte
        var n: Int
        repeat {
            n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + old, size) }
        } while n < 0 && errno == EINTR
        if n < 0 {
            let e = errno
            buffer.removeLast(size)
            throw CaptureError(source: path, fault: "read: \(String(cString: strerror(e)))")
        }
        buffer.removeLast(size - n)
        if n == 0 { atEnd = true }
    }

    func consume(_ count: Int) { position += min(count, available) }

    /// The buffered byte at `offset` from the current position (which must be buffered).
    subscript(offset: Int) -> UInt8 { buffer[position + offset] }

    /// Copies and consumes `count` buffered bytes.
    func take(_ count: Int) -> [UInt8] {
        let bytes = Array(buffer[position..<(position + count)])
        position += count
        return bytes
    }

    /// Reads a line ending in `\n` (not included), at most `limit` bytes; nil at end or if too long.
    func readLine(limit: Int = 4096) throws -> [UInt8]? {
        var scanned = 0
        while true {
            while scanned < available {
                if self[scanned] == 0x0A {
                    let line = take(scanned); consume(1); return line
                }
                scanned += 1
                if scanned > limit { return nil }
            }
            if atEnd { return nil }
            try readChunk()
        }
    }

    /// Rewinds a file to its start (for `--loop`); false for stdin and pipes.
    func rewind() -> Bool {
        guard ownsDescriptor, fd >= 0, lseek(fd, 0, SEEK_SET) == 0 else { return false }
        buffer.removeAll(keepingCapacity: true); position = 0; atEnd = false
        return true
    }
}
