import Imaging
import Testing
@testable import Recognition

/// A detection whose network output puts `p` on `digit` and spreads the rest.
func detection(_ digit: Int, at box: Box, p: Float = 0.9) -> Detection {
    var probs = [Float](repeating: (1 - p) / 9, count: 10)
    probs[digit] = p
    return Detection(box: box, digit: digit, confidence: p, probabilities: probs)
}

func reading(_ detections: [Detection], numbers: [NumberReading] = []) -> FrameReading {
    FrameReading(width: 640, height: 480, detections: detections, numbers: numbers, timings: [])
}

/// Deterministic pseudo-random numbers (SplitMix64), so noisy sequences are the same every run.
struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}

@Suite struct TrackerTests {
    let box = Box(x: 100, y: 100, width: 30, height: 45)

    @Test func aSteadyDigitAppearsOnceItIsStableWithItsTrackAndNumber() {
        let tracker = Tracker()
        let number = NumberReading(value: "57", box: Box(x: 60, y: 95, width: 80, height: 55), confidence: 0.9)
        var events: [TrackEvent] = []
        for f in 0..<5 { events += tracker.update(reading([detection(7, at: box)], numbers: [number]), frame: f) }
        #expect(events.count == 1)
        #expect(events[0].kind == .appeared && events[0].digit == 7 && events[0].frame == 2)
        #expect(events[0].track == 1 && events[0].box == box && events[0].number == "57")
        #expect(events[0].confidence > 0.85)
    }

    @Test func oneFlickeringFrameDoesNotFlipTheLabel() {
        let tracker = Tracker()
        var events: [TrackEvent] = []
        for (f, d) in [7, 7, 7, 7, 1, 7, 7, 1, 7, 7].enumerated() {
            events += tracker.update(reading([detection(d, at: box)]), frame: f)
        }
        #expect(events.map(\.kind) == [.appeared])
        #expect(tracker.stableTracks.map(\.reportedDigit) == [7])
    }

    @Test func aLastingChangeIsReportedAsChangedWithThePreviousDigit() {
        let tracker = Tracker()
        var events: [TrackEvent] = []
        for (f, d) in ([3, 3, 3, 3] + Array(repeating: 8, count: 6)).enumerated() {
            events += tracker.update(reading([detection(d, at: box)]), frame: f)
        }
        #expect(events.map(\.kind) == [.appeared, .changed])
        #expect(events[1].digit == 8 && events[1].previousDigit == 3 && events[1].track == events[0].track)
    }

    @Test func aShortOcclusionKeepsTheTrackButALongOneEndsItWithGone() {
        let tracker = Tracker()
        var events: [TrackEvent] = []
        var f = 0
        for _ in 0..<4 { events += tracker.update(reading([detection(4, at: box)]), frame: f); f += 1 }
        for _ in 0..<3 { events += tracker.update(reading([]), frame: f); f += 1 }
        for _ in 0..<2 { events += tracker.update(reading([detection(4, at: box)]), frame: f); f += 1 }
        #expect(events.map(\.kind) == [.appeared])
        let limit = tracker.options.maximumMissedFrames
        for _ in 0...limit { events += tracker.update(reading([]), frame: f); f += 1 }
        #expect(events.map(\.kind) == [.appeared, .gone])
        #expect(events[1].track == events[0].track && events[1].digit == 4)
        #expect(events[1].frame == 9 + limit)
        #expect(tracker.tracks.isEmpty)
    }

    @Test func digitsMovingSlowlyKeepTheirTracks() {
        let tracker = Tracker()
        var events: [TrackEvent] = []
        for f in 0..<20 {
            let a = Box(x: 100 + 3 * f, y: 100 + f, width: 30, height: 45)
            let b = Box(x: 140 + 3 * f, y: 100 + f, width: 30, height: 45)
            events += tracker.update(reading([detection(2, at: b), detection(1, at: a)]), frame: f)
        }
        #expect(events.map(\.kind) == [.appeared, .appeared])
        #expect(Set(events.map(\.track)) == [1, 2])
        #expect(tracker.tracks.count == 2)
    }

    @Test func finishingEndsEveryReportedTrack() {
        let tracker = Tracker()
        for f in 0..<3 { _ = tracker.update(reading([detection(9, at: box)]), frame: f) }
        #expect(tracker.finish(frame: 3).map(\.kind) == [.gone])
    }

    /// A page under a shaky camera: boxes jitter by a few pixels, and each frame the network
    /// misreads each digit with probability 0.2. Counts label changes per track, single frames
    /// versus the tracker.
    @Test func theTrackerMakesLabelsSteadierThanSingleFrames() {
        var rng = SplitMix(state: 42)
        let truth = [1, 7, 4, 9, 3, 8, 5, 0, 2, 6]
        let frames = 300
        let tracker = Tracker()
        var rawFlips = 0, trackedFlips = 0, trackedWrong = 0
        var lastRaw = [Int?](repeating: nil, count: truth.count)
        var events: [TrackEvent] = []
        for f in 0..<frames {
            var dets: [Detection] = []
            for (i, digit) in truth.enumerated() {
                let jitter = { Int(rng.next() % 7) - 3 }
                let b = Box(x: 40 + 60 * i + jitter(), y: 200 + jitter(), width: 30, height: 45)
                let misread = rng.unit() < 0.2
                let d = misread ? (digit + 1 + Int(rng.next() % 9)) % 10 : digit
                dets.append(detection(d, at: b, p: Float(0.55 + 0.4 * rng.unit())))
                if let last = lastRaw[i], last != d { rawFlips += 1 }
                lastRaw[i] = d
            }
            events += tracker.update(reading(dets), frame: f)
        }
        trackedFlips = events.filter { $0.kind == .changed }.count
        trackedWrong = events.filter { $0.kind != .gone && !truth.contains($0.digit) }.count
        let appeared = events.filter { $0.kind == .appeared }
        print("tracker flicker test: \(truth.count) digits x \(frames) frames, misread rate 0.2:",
              "single-frame label flips per track \(Double(rawFlips) / Double(truth.count)),",
              "tracked flips per track \(Double(trackedFlips) / Double(truth.count)),",
              "tracks \(tracker.tracks.count), appeared \(appeared.count)")
        #expect(tracker.tracks.count == truth.count)
        #expect(appeared.sorted { $0.box.x < $1.box.x }.map(\.digit) == truth)
        #expect(trackedWrong == 0)
        #expect(trackedFlips * 10 < rawFlips)
    }
}
