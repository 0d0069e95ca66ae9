import ArgumentParser
import Capture
import Foundation

/// Log severity, lowest first. Option and config values: debug, info, warning, error.
enum LogLevel: String, CaseIterable, ExpressibleByArgument, Comparable, Sendable {
    case debug, info, warning, error

    static func < (a: LogLevel, b: LogLevel) -> Bool { a.order < b.order }
    private var order: Int { LogLevel.allCases.firstIndex(of: self)! }

    /// syslog(3) priority, as journald reads it from a `<N>` line prefix.
    var syslogPriority: Int { [7, 6, 4, 3][order] }

    init(_ capture: CaptureLogLevel) {
        switch capture {
        case .debug: self = .debug
        case .info: self = .info
        case .warning: self = .warning
        case .error: self = .error
        }
    }
}

/// Messages to stderr, one line each. Under systemd (JOURNAL_STREAM set) each line starts with a
/// `<priority>` prefix and carries no timestamp, since journald adds its own; otherwise a UTC time
/// and the level are written. Safe to call from any thread.
final class DaemonLog: @unchecked Sendable {
    let threshold: LogLevel
    let journal: Bool
    private let lock = NSLock()
    private let write: @Sendable (String) -> Void

    init(threshold: LogLevel, environment: [String: String] = ProcessInfo.processInfo.environment,
         write: @escaping @Sendable (String) -> Void = { line in FileHandle.standardError.write(Data(line.utf8)) }) {
        self.threshold = threshold
        self.journal = environment["JOURNAL_STREAM"].map { !$0.isEmpty } ?? false
        self.write = write
    }

    func callAsFunction(_ level: LogLevel, _ message: @autoclosure () -> String) {
        guard level >= threshold else { return }
        let text = message().replacingOccurrences(of: "\n", with: " ")
        let line: String
        if journal {
            line = "<\(level.syslogPriority)>\(text)\n"
        } else {
            line = "\(DaemonLog.timestamp()) digitd \(level.rawValue): \(text)\n"
        }
        lock.lock(); write(line); lock.unlock()
    }

    /// The capture module's log hook, forwarding here.
    var captureLog: CaptureLog { { [self] level, message in self(LogLevel(level), message) } }

    private static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = tm()
        var seconds = ts.tv_sec
        gmtime_r(&seconds, &t)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", t.tm_year + 1900, t.tm_mon + 1, t.tm_mday,
                      t.tm_hour, t.tm_min, t.tm_sec, ts.tv_nsec / 1_000_000)
    }
}
