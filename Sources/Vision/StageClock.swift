import Glibc

/// Wall-clock timing of pipeline stages on a monotonic clock, in milliseconds.
public struct StageClock: Sendable {
    public private(set) var stages: [(stage: String, ms: Double)] = []
    private var last: Double

    public init() { last = StageClock.nowMilliseconds() }

    /// Milliseconds on the monotonic clock.
    public static func nowMilliseconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) * 1000 + Double(t.tv_nsec) / 1_000_000
    }

    /// Records the time since the previous mark (or the start) under `stage`.
    public mutating func mark(_ stage: String) {
        let now = StageClock.nowMilliseconds()
        stages.append((stage, now - last))
        last = now
    }
}
