import Foundation

/// The hand-over between the capture thread and recognition.
///
/// - `latestWins`: one slot; a new frame replaces one not yet taken, and the replaced frame is
///   counted in `dropped`. For cameras (and `--realtime`): recognition always sees the newest frame.
/// - `backpressure(capacity:)`: `put` blocks while `capacity` frames wait. For files and pipes:
///   nothing is dropped and the reader never runs ahead of recognition by more than `capacity`.
///
/// Either way memory is bounded by a few frames, however slow the consumer.
public final class FrameQueue: @unchecked Sendable {
    public enum Policy: Sendable, Equatable {
        case latestWins
        case backpressure(capacity: Int)
    }

    public enum TakeResult: Sendable {
        case frame(Frame)
        case timedOut
        /// The producer finished (or the queue was cancelled) and no frame is left.
        case finished
    }

    public let policy: Policy
    private let condition = NSCondition()
    private var frames: [Frame] = []
    private var finished = false
    private var cancelled = false
    private var droppedCount = 0

    public init(policy: Policy) { self.policy = policy }

    /// Frames replaced before recognition took them (latest-wins only).
    public var dropped: Int { condition.lock(); defer { condition.unlock() }; return droppedCount }
    /// Frames waiting now.
    public var count: Int { condition.lock(); defer { condition.unlock() }; return frames.count }

    /// Hands a frame over. Returns false once the queue is cancelled (the producer should stop).
    @discardableResult
    public func put(_ frame: Frame) -> Bool {
        condition.lock(); defer { condition.unlock() }
        switch policy {
        case .latestWins:
            if !frames.isEmpty { droppedCount += frames.count; frames.removeAll(keepingCapacity: true) }
        case .backpressure(let capacity):
            while frames.count >= max(1, capacity) && !cancelled { condition.wait() }
        }
        guard !cancelled else { return false }
        frames.append(frame)
        condition.broadcast()
        return true
    }

    /// The oldest waiting frame; waits up to `timeout` seconds for one.
    public func take(timeout: Double) -> TakeResult {
        condition.lock(); defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: timeout)
        while frames.isEmpty && !finished && !cancelled {
            if !condition.wait(until: deadline) { break }
        }
        if cancelled { return .finished }
        if !frames.isEmpty {
            let f = frames.removeFirst()
            condition.broadcast()
            return .frame(f)
        }
        return finished ? .finished : .timedOut
    }

    /// The producer has no more frames; the consumer still gets those waiting.
    public func finish() {
        condition.lock(); finished = true; condition.broadcast(); condition.unlock()
    }

    /// Stop now: wakes both sides; waiting frames are discarded.
    public func cancel() {
        condition.lock(); cancelled = true; frames.removeAll(); condition.broadcast(); condition.unlock()
    }
}
