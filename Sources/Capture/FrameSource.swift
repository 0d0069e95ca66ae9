import Imaging

#if canImport(Glibc)
import Glibc
#endif

/// One picture from a source, as gray pixels.
public struct Frame: Sendable {
    /// Position within the source, counting from 0 (frames skipped as corrupt are not counted).
    public var index: Int
    /// What the frame came from: the device path, stream path (`-` for stdin) or image file path.
    public var source: String
    /// The luma plane (or the decoded image converted to gray).
    public var image: GrayImage
    /// When capture got the frame, in seconds of `MonotonicClock`.
    public var arrival: Double

    public init(index: Int, source: String, image: GrayImage, arrival: Double = MonotonicClock.now()) {
        self.index = index; self.source = source; self.image = image; self.arrival = arrival
    }
}

/// What asking a source for its next frame gives.
public enum FrameResult: Sendable {
    case frame(Frame)
    /// Nothing yet (a camera with no new buffer within its poll timeout, or waiting to reconnect).
    /// Ask again; this is a value, not an error, so the caller can check for shutdown in between.
    case noFrameYet
    /// The source has no more frames (end of file or stream, and not looping).
    case end
}

/// How a consumer should treat a source that runs faster than recognition.
public enum Pacing: Sendable, Equatable {
    /// Frames arrive on their own clock (a camera): keep only the newest, count the rest as dropped.
    case live
    /// Frames are read on demand (files, pipes): read no faster than they are processed.
    case onDemand
}

/// Counters a source keeps for the status line and the final report.
public struct CaptureStatistics: Sendable, Equatable {
    /// Frames that could not be decoded or were cut short, skipped.
    public var corruptFrames = 0
    /// Times a camera was (re)opened after losing it.
    public var reconnects = 0
    /// Frames the source itself discarded for newer ones (a camera's drained buffers).
    public var droppedFrames = 0
    public init() {}
}

/// A supply of frames: a V4L2 camera, an MJPEG or Y4M stream, or image files.
///
/// A source is used by one thread at a time (the capture thread), which is why the classes that
/// implement it are `@unchecked Sendable`: they are handed over once, never shared.
public protocol FrameSource: AnyObject, Sendable {
    /// The name frames carry as `source`.
    var name: String { get }
    var pacing: Pacing { get }
    /// Frames per second the source is meant to play at, when it says (Y4M `F`, camera setting).
    var nominalFrameRate: Double? { get }
    var statistics: CaptureStatistics { get }
    /// Blocks until a frame is ready, the source has ended, or (for live sources) a short timeout.
    func nextFrame() throws -> FrameResult
    /// Releases the device or file; `nextFrame` is not called afterwards.
    func close()
}

/// Severity of a message from capture code; the executable maps it to its own log levels.
public enum CaptureLogLevel: Int, Sendable, Comparable {
    case debug, info, warning, error
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

public typealias CaptureLog = @Sendable (CaptureLogLevel, String) -> Void

/// Seconds on the monotonic clock (CLOCK_MONOTONIC), for latencies and pacing.
public enum MonotonicClock {
    public static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Sleeps for `seconds` (nothing if not positive).
    public static func sleep(_ seconds: Double) {
        guard seconds > 0 else { return }
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
        var remaining = timespec()
        while nanosleep(&request, &remaining) == -1 && errno == EINTR { request = remaining }
    }
}

/// A source that cannot be opened or read for a reason the user can fix (missing file, bad stream).
public struct CaptureError: Error, CustomStringConvertible, Equatable, Sendable {
    public var source: String
    public var fault: String
    public init(source: String, fault: String) { self.source = source; self.fault = fault }
    public var description: String { "\(source): \(fault)" }
}
