import Foundation

/// Why output stopped. A closed pipe or a full disk ends the run cleanly with one line on stderr.
enum OutputError: Error, CustomStringConvertible, Equatable {
    case closed(String)
    case full(String)
    case failed(String, errno: Int32)
    case cannotOpen(String, errno: Int32)

    var description: String {
        switch self {
        case .closed(let name): return "\(name): the reader went away (broken pipe); stopping"
        case .full(let name): return "\(name): no space left on device; stopping"
        case .failed(let name, let e): return "\(name): write failed: \(String(cString: strerror(e)))"
        case .cannotOpen(let name, let e): return "\(name): cannot open for appending: \(String(cString: strerror(e)))"
        }
    }
}

/// JSON lines to stdout or a file opened for appending; each line goes out in one write(2), so it
/// is never held in a buffer and a reader sees whole lines. `reopen()` (on SIGHUP) starts a new
/// file after logrotate moved the old one.
final class JSONLinesOutput {
    /// nil: standard output.
    let path: String?
    private var fd: Int32
    private(set) var linesWritten = 0

    var name: String { path ?? "standard output" }

    init(path: String?) throws(OutputError) {
        self.path = path
        if let path { fd = try JSONLinesOutput.openForAppend(path) } else { fd = STDOUT_FILENO }
    }

    deinit { if path != nil && fd >= 0 { close(fd) } }

    private static func openForAppend(_ path: String) throws(OutputError) -> Int32 {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .cannotOpen(path, errno: errno) }
        return fd
    }

    /// Writes `line` and a newline, all of it, retrying EINTR and partial writes.
    func write(_ line: String) throws(OutputError) {
        var bytes = Array(line.utf8)
        bytes.append(0x0A)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n >= 0 { offset += n; continue }
            switch errno {
            case EINTR, EAGAIN: continue
            case EPIPE: throw .closed(name)
            case ENOSPC, EDQUOT: throw .full(name)
            case let e: throw .failed(name, errno: e)
            }
        }
        linesWritten += 1
    }

    /// Closes and opens the file again by name (stdout is left alone).
    func reopen() throws(OutputError) {
        guard let path else { return }
        let new = try JSONLinesOutput.openForAppend(path)
        close(fd)
        fd = new
    }
}
