import Foundation
import Imaging
import Testing
@testable import Capture

@Suite struct FrameQueueTests {
    func frame(_ i: Int) -> Frame { Frame(index: i, source: "test", image: GrayImage(width: 1, height: 1)) }

    @Test func latestWinsKeepsTheNewestFrameAndCountsTheReplacedOnes() {
        let q = FrameQueue(policy: .latestWins)
        for i in 0..<5 { #expect(q.put(frame(i))) }
        guard case .frame(let f) = q.take(timeout: 0) else { Issue.record("no frame"); return }
        #expect(f.index == 4)
        #expect(q.dropped == 4)
        guard case .timedOut = q.take(timeout: 0.01) else { Issue.record("expected a timeout"); return }
    }

    @Test func backpressureBlocksTheProducerUntilTheConsumerTakesAFrame() async throws {
        let q = FrameQueue(policy: .backpressure(capacity: 2))
        let produced = Counter()
        let producer = Thread {
            for i in 0..<5 { q.put(Frame(index: i, source: "t", image: GrayImage(width: 1, height: 1))); produced.increment() }
            q.finish()
        }
        producer.start()
        try await Task.sleep(for: .milliseconds(100))
        #expect(produced.value == 2)   // the third put waits
        var seen: [Int] = []
        loop: while true {
            switch q.take(timeout: 1) {
            case .frame(let f): seen.append(f.index)
            case .finished: break loop
            case .timedOut: Issue.record("timed out"); break loop
            }
        }
        #expect(seen == [0, 1, 2, 3, 4])
        #expect(q.dropped == 0)
    }

    @Test func cancellingWakesABlockedProducer() async throws {
        let q = FrameQueue(policy: .backpressure(capacity: 1))
        let result = Counter()
        let producer = Thread {
            q.put(Frame(index: 0, source: "t", image: GrayImage(width: 1, height: 1)))
            if !q.put(Frame(index: 1, source: "t", image: GrayImage(width: 1, height: 1))) { result.increment() }
        }
        producer.start()
        try await Task.sleep(for: .milliseconds(50))
        q.cancel()
        try await Task.sleep(for: .milliseconds(50))
        #expect(result.value == 1)
        guard case .finished = q.take(timeout: 0) else { Issue.record("expected finished"); return }
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func increment() { lock.lock(); n += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return n }
}
