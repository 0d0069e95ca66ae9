import Imaging

/// Settings of the tracker. Defaults suit a hand-held page under a webcam at 15-30 fps.
public struct TrackerOptions: Sendable, Equatable {
    /// A detection continues a track when their boxes overlap at least this much (IoU).
    public var minimumOverlap: Double = 0.3
    /// Weight of the newest frame in the smoothed probabilities (exponential moving average);
    /// 1 = no smoothing.
    public var smoothing: Double = 0.4
    /// A label is reported only after the smoothed best digit stayed the same this many frames.
    public var stableFrames: Int = 3
    /// ...and its smoothed probability is at least this.
    public var minimumConfidence: Double = 0.5
    /// A track not seen for more than this many frames is gone (10: a third of a second at 30 fps,
    /// enough to bridge the frames a faint digit is missed in; measured on generated sequences).
    public var maximumMissedFrames: Int = 10
    public init() {}
}

/// Something that happened to a tracked digit.
public struct TrackEvent: Sendable, Equatable {
    public enum Kind: String, Sendable { case appeared, changed, gone }
    public var kind: Kind
    public var track: Int
    /// The frame it happened in (for `gone`, the frame in which the track was dropped).
    public var frame: Int
    /// Last box seen, in image pixels.
    public var box: Box
    /// The reported digit (for `changed`, the new one; for `gone`, the last one).
    public var digit: Int
    /// For `changed`: the digit it replaced.
    public var previousDigit: Int?
    /// Smoothed probability of `digit`.
    public var confidence: Double
    /// The number the digit was part of in that frame, if any.
    public var number: String?
}

/// One digit followed across frames.
public struct Track: Sendable, Equatable {
    public let id: Int
    public var box: Box
    /// Smoothed class probabilities (as many as the classifier gives: 10, or 11 with "not a digit").
    public var probabilities: [Double]
    /// The digit last reported in an event, nil until the track is stable.
    public var reportedDigit: Int?
    /// The smoothed best guess and for how many consecutive frames it has been the best guess.
    public var candidate: Int
    public var candidateFrames: Int
    public var missedFrames: Int
    public var number: String?

    /// Smoothed probability of the best guess.
    public var confidence: Double { candidate < probabilities.count ? probabilities[candidate] : 0 }
}

/// Associates readings across frames by box overlap, smooths each track's probabilities, and
/// reports a digit only once it is stable, so one flickering frame does not flip a label.
///
/// Deterministic: the same readings in the same order give the same tracks, ids and events.
/// Knows nothing of pixels: it sees boxes and probabilities only.
public final class Tracker {
    public let options: TrackerOptions
    public private(set) var tracks: [Track] = []
    private var nextID = 1

    public init(options: TrackerOptions = TrackerOptions()) { self.options = options }

    /// Feeds one frame's reading; returns what changed, in track order (gone events first).
    public func update(_ reading: FrameReading, frame: Int) -> [TrackEvent] {
        let detections = reading.detections
        var events: [TrackEvent] = []

        // Greedy association: the most overlapping pair first, each track and detection used once.
        var pairs: [(overlap: Double, track: Int, detection: Int)] = []
        for (t, track) in tracks.enumerated() {
            for (d, det) in detections.enumerated() {
                let o = track.box.iou(det.box)
                if o >= options.minimumOverlap { pairs.append((o, t, d)) }
            }
        }
        pairs.sort { $0.overlap != $1.overlap ? $0.overlap > $1.overlap : ($0.track, $0.detection) < ($1.track, $1.detection) }
        var trackMatch = [Int?](repeating: nil, count: tracks.count)
        var detectionUsed = [Bool](repeating: false, count: detections.count)
        for p in pairs where trackMatch[p.track] == nil && !detectionUsed[p.detection] {
            trackMatch[p.track] = p.detection
            detectionUsed[p.detection] = true
        }

        var kept: [Track] = []
        for (t, var track) in tracks.enumerated() {
            if let d = trackMatch[t] {
                let det = detections[d]
                track.box = det.box
                track.missedFrames = 0
                track.number = Tracker.number(containing: det.box, in: reading.numbers)
                let observed = Tracker.probabilities(of: det)
                if observed.count != track.probabilities.count {
                    track.probabilities = observed
                } else {
                    let a = options.smoothing
                    for i in observed.indices { track.probabilities[i] = a * observed[i] + (1 - a) * track.probabilities[i] }
                }
                advance(&track, frame: frame, events: &events)
                kept.append(track)
            } else {
                track.missedFrames += 1
                if track.missedFrames > options.maximumMissedFrames {
                    if let digit = track.reportedDigit {
                        events.append(TrackEvent(kind: .gone, track: track.id, frame: frame, box: track.box, digit: digit,
                                                 confidence: track.probabilities[digit], number: track.number))
                    }
                } else {
                    kept.append(track)
                }
            }
        }
        for (d, det) in detections.enumerated() where !detectionUsed[d] {
            let p = Tracker.probabilities(of: det)
            var track = Track(id: nextID, box: det.box, probabilities: p, reportedDigit: nil,
                              candidate: Tracker.argmax(p), candidateFrames: 0, missedFrames: 0,
                              number: Tracker.number(containing: det.box, in: reading.numbers))
            nextID += 1
            advance(&track, frame: frame, events: &events)
            kept.append(track)
        }
        tracks = kept
        // Gone events first, then by track id: a stable order for output and tests.
        return events.sorted { ($0.kind == .gone ? 0 : 1, $0.track) < ($1.kind == .gone ? 0 : 1, $1.track) }
    }

    /// Ends every track (end of stream): a gone event for each one that was reported.
    public func finish(frame: Int) -> [TrackEvent] {
        let events = tracks.compactMap { t -> TrackEvent? in
            guard let digit = t.reportedDigit else { return nil }
            return TrackEvent(kind: .gone, track: t.id, frame: frame, box: t.box, digit: digit,
                              confidence: t.probabilities[digit], number: t.number)
        }
        tracks = []
        return events
    }

    /// Digits currently reported, with their tracks (for display and per-frame stable output).
    public var stableTracks: [Track] { tracks.filter { $0.reportedDigit != nil } }

    private func advance(_ track: inout Track, frame: Int, events: inout [TrackEvent]) {
        let best = Tracker.argmax(track.probabilities)
        if best == track.candidate { track.candidateFrames += 1 } else { track.candidate = best; track.candidateFrames = 1 }
        // Class 10 ("not a digit") is never reported; it just holds the old label until stable.
        guard track.candidate < 10, track.candidateFrames >= options.stableFrames,
              track.confidence >= options.minimumConfidence, track.reportedDigit != track.candidate else { return }
        let previous = track.reportedDigit
        track.reportedDigit = track.candidate
        events.append(TrackEvent(kind: previous == nil ? .appeared : .changed, track: track.id, frame: frame,
                                 box: track.box, digit: track.candidate, previousDigit: previous,
                                 confidence: track.confidence, number: track.number))
    }

    static func probabilities(of d: Detection) -> [Double] {
        if d.probabilities.count >= 10 { return d.probabilities.map(Double.init) }
        // No distribution given: put the confidence on the digit, the rest spread evenly.
        let rest = (1 - Double(d.confidence)) / 9
        return (0..<10).map { $0 == d.digit ? Double(d.confidence) : rest }
    }

    static func argmax(_ p: [Double]) -> Int {
        var best = 0
        for i in p.indices where p[i] > p[best] { best = i }
        return best
    }

    /// The number whose box holds most of `box` (at least half of it), if any.
    static func number(containing box: Box, in numbers: [NumberReading]) -> String? {
        var best: (String, Int)?
        for n in numbers {
            let inter = box.intersectionArea(n.box)
            if 2 * inter >= box.area && inter > (best?.1 ?? 0) { best = (n.value, inter) }
        }
        return best?.0
    }
}
