import Foundation

/// Terminal helpers shared by the commands: a progress line and Ctrl-C handling.
enum Terminal {
    static let isTTY = isatty(STDERR_FILENO) != 0

    /// Writes a progress line to stderr: redrawn in place on a terminal, one line every
    /// `every` calls (or when `force`) when stderr is a file or journald.
    nonisolated(unsafe) private static var calls = 0
    static func progress(_ line: String, force: Bool = false, every: Int = 20) {
        calls += 1
        if isTTY {
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
        } else if force || calls % every == 0 {
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    static func endProgress() {
        if isTTY { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    static func bar(_ fraction: Double, width: Int = 24) -> String {
        let f = min(1, max(0, fraction))
        let full = Int(f * Double(width))
        return "[" + String(repeating: "#", count: full) + String(repeating: ".", count: width - full) + "]"
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "--:--" }
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%02d:%02d", s / 60, s % 60)
    }

    static func warn(_ message: String) {
        FileHandle.standardError.write(Data(("digitd: " + message + "\n").utf8))
    }
}

/// SIGINT/SIGTERM set a flag that long jobs poll, so they can save and exit cleanly.
enum Interrupt {
    nonisolated(unsafe) static var requested: sig_atomic_t = 0
    static func install() {
        signal(SIGINT) { _ in Interrupt.requested = 1 }
        signal(SIGTERM) { _ in Interrupt.requested = 1 }
    }
    static var isRequested: Bool { requested != 0 }
}

/// A failure caused by the user's input or environment (missing file, no model, unwritable
/// directory): printed by the
/// argument parser as one line, `Error: <message>`, exit status 1 — without the usage text a
/// `ValidationError` would add.
struct CommandError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}
