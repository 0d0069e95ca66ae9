import Capture
import Foundation
import Imaging
import Recognition

/// Requests that reach the pipeline from outside its threads: stop (SIGTERM, SIGINT, the window)
/// and reopen the output (SIGHUP). Set from signal handlers' dispatch queues, read by both threads.
final class ControlFlags: @unchecked Sendable {
    private let lock = NSLock()
    private var stopReason: String?
    private var reopen = false
    private var running = false

    /// Set when the pipeline loop starts; before that a stop request ends the process at once
    /// (opening a source may block, e.g. sniffing an idle stdin, and nothing needs flushing yet).
    var isRunning: Bool {
        get { lock.lock(); defer { lock.unlock() }; return running }
        set { lock.lock(); running = newValue; lock.unlock() }
    }

    func requestStop(_ reason: String) {
        lock.lock(); if stopReason == nil { stopReason = reason }; lock.unlock()
    }
    var stopRequested: String? { lock.lock(); defer { lock.unlock() }; return stopReason }

    func requestReopen() { lock.lock(); reopen = true; lock.unlock() }
    /// True once per request.
    func takeReopenRequest() -> Bool {
        lock.lock(); defer { lock.unlock() }
        let r = reopen; reopen = false; return r
    }
}

/// Where JSON lines go (a file or stdout in the program, an array in tests).
protocol LineSink: AnyObject {
    func write(_ line: String) throws(OutputError)
    func reopen() throws(OutputError)
}
extension JSONLinesOutput: LineSink {}

/// What the window shows besides the frame.
struct LiveStatus: Sendable {
    var framesPerSecond: Double
    var latencyMs: Double
    var dropped: Int
    var corrupt: Int
    var frames: Int
}

/// A live view of the pipeline (the SDL window), driven from the recognition thread.
protocol LiveView: AnyObject {
    /// Handles pending input. Returns false when the user asked to quit.
    func handleInput() -> Bool
    /// Whether recognition should hold (space pressed): the last frame stays on screen.
    var isPaused: Bool { get }
    func show(_ frame: Frame, reading: FrameReading, tracks: [Track], status: LiveStatus)
}

/// How a run ended, and its figures.
struct RunSummary {
    var frames = 0
    var dropped = 0
    var corrupt = 0
    var reconnects = 0
    var seconds = 0.0
    var cpuSeconds = 0.0
    /// Recognition + tracking time per frame, ms.
    var processingMs: [Double] = []
    /// Frame arrival to line written, ms.
    var endToEndMs: [Double] = []
    var lines = 0
    /// Why it stopped, in words ("end of stream", "SIGTERM", …).
    var reason = ""
    /// An error that makes the exit status non-zero (one line for stderr).
    var failure: String?

    func percentile(_ values: [Double], _ p: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let s = values.sorted()
        return s[min(s.count - 1, Int((p * Double(s.count - 1)).rounded()))]
    }

    var report: String {
        let fps = seconds > 0 ? Double(frames) / seconds : 0
        let cpuPerFrame = frames > 0 ? 1000 * cpuSeconds / Double(frames) : 0
        let core = seconds > 0 ? 100 * cpuSeconds / seconds : 0
        return String(format: "%d frames in %.2f s (%.1f fps), CPU %.2f ms/frame (%.0f%% of one core), "
                      + "processing p50 %.2f ms p95 %.2f ms, end-to-end p50 %.2f ms p95 %.2f ms, "
                      + "dropped %d, corrupt %d, reconnects %d, %d lines",
                      frames, seconds, fps, cpuPerFrame, core,
                      percentile(processingMs, 0.5), percentile(processingMs, 0.95),
                      percentile(endToEndMs, 0.5), percentile(endToEndMs, 0.95),
                      dropped, corrupt, reconnects, lines) + "; " + reason
    }
}

/// CPU time of the whole process (all threads), seconds. getrusage(2)
func processCPUSeconds() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) * 1e-6
        + Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) * 1e-6
}

/// The live pipeline: a capture thread feeding a `FrameQueue`, and recognition, tracking, output
/// and the window on the calling thread.
///
/// Cameras hand over the newest frame (latest wins, drops counted); files and pipes are read no
/// faster than recognition (backpressure), unless `realtime` paces them like a camera.
final class LivePipeline {
    struct Settings {
        var emit = EmitMode.frames
        var realtime = false
        /// Pace of on-demand sources under `realtime` when they do not state a rate.
        var fallbackFrameRate = 30.0
        var maximumFrames: Int? = nil
        var statusInterval = 2.0
        /// Frames that may wait between capture and recognition for on-demand sources.
        var queueCapacity = 1
        /// Recognise at most this many frames per second from live sources (the newest frame at
        /// each turn; the others count as dropped). nil: every frame recognition can keep up with.
        var maximumRecognitionRate: Double? = nil
    }

    let source: any FrameSource
    let recognize: (GrayImage) -> FrameReading
    let tracker: Tracker
    let output: LineSink?
    let view: LiveView?
    let notifier: SystemdNotifier?
    let log: DaemonLog
    let control: ControlFlags
    let settings: Settings

    init(source: any FrameSource, recognize: @escaping (GrayImage) -> FrameReading, tracker: Tracker,
         output: LineSink?, view: LiveView?, notifier: SystemdNotifier?, log: DaemonLog,
         control: ControlFlags, settings: Settings) {
        self.source = source; self.recognize = recognize; self.tracker = tracker; self.output = output
        self.view = view; self.notifier = notifier; self.log = log; self.control = control
        self.settings = settings
    }

    /// What the capture thread shares with the recognition thread.
    final class CaptureState: @unchecked Sendable {
        private let lock = NSLock()
        private var stats = CaptureStatistics()
        private var error: String?
        private var done = false
        func publish(_ s: CaptureStatistics) { lock.lock(); stats = s; lock.unlock() }
        func fail(_ message: String) { lock.lock(); error = message; lock.unlock() }
        func finish() { lock.lock(); done = true; lock.unlock() }
        var statistics: CaptureStatistics { lock.lock(); defer { lock.unlock() }; return stats }
        var failure: String? { lock.lock(); defer { lock.unlock() }; return error }
        var finished: Bool { lock.lock(); defer { lock.unlock() }; return done }
    }

    var queuePolicy: FrameQueue.Policy {
        source.pacing == .live || settings.realtime ? .latestWins : .backpressure(capacity: settings.queueCapacity)
    }

    func run() -> RunSummary {
        control.isRunning = true
        let queue = FrameQueue(policy: queuePolicy)
        let state = CaptureState()
        let exited = DispatchSemaphore(value: 0)
        let startTime = MonotonicClock.now()
        let startCPU = processCPUSeconds()

        let thread = Thread { [source, control, notifier, log, settings] in
            LivePipeline.captureLoop(source: source, queue: queue, state: state, control: control,
                                     notifier: notifier, log: log, settings: settings)
            exited.signal()
        }
        thread.name = "digitd-capture"
        thread.start()

        var summary = RunSummary()
        var lastStatus = MonotonicClock.now()
        var window: [Double] = []   // arrival times of recent frames, for fps
        var lastFrameIndex = -1
        var lastSource = source.name
        let takeTimeout = view == nil ? 0.1 : 1.0 / 120
        var lastRecognition = -Double.infinity
        let policy = queuePolicy

        loop: while true {
            if let reason = control.stopRequested { summary.reason = reason; break }
            if let view {
                if !view.handleInput() { summary.reason = "window closed"; break }
                if view.isPaused { MonotonicClock.sleep(1.0 / 60); continue }
            }
            if control.takeReopenRequest(), let output {
                do {
                    try output.reopen()
                    log(.info, "reopened the output file")
                } catch {
                    summary.failure = error.description; summary.reason = "output error"; break
                }
            }
            if let rate = settings.maximumRecognitionRate, policy == .latestWins {
                let wait = lastRecognition + 1 / rate - MonotonicClock.now()
                if wait > 0 { MonotonicClock.sleep(min(wait, takeTimeout)); continue }
            }
            let taken = queue.take(timeout: takeTimeout)
            let now = MonotonicClock.now()
            if now - lastStatus >= settings.statusInterval {
                lastStatus = now
                let fps = window.count > 1 ? Double(window.count - 1) / (window.last! - window.first!) : 0
                let c = state.statistics
                notifier?.notify("STATUS=\(String(format: "%.1f", fps)) fps, \(summary.frames) frames, "
                                 + "\(tracker.stableTracks.count) digits in view, \(queue.dropped + c.droppedFrames) dropped")
            }
            switch taken {
            case .timedOut:
                continue
            case .finished:
                // The capture thread also ends on a stop request; say why it really ended.
                summary.reason = control.stopRequested ?? (state.failure == nil ? "end of stream" : "capture error")
                break loop
            case .frame(let frame):
                let t0 = MonotonicClock.now()
                lastRecognition = t0
                let reading = recognize(frame.image)
                let events = tracker.update(reading, frame: frame.index)
                let processing = 1000 * (MonotonicClock.now() - t0)
                lastFrameIndex = frame.index
                lastSource = frame.source
                do {
                    try emit(frame: frame, reading: reading, events: events, processingMs: processing, summary: &summary)
                } catch {
                    if case .closed = error {
                        log(.warning, error.description)
                    } else {
                        summary.failure = error.description
                    }
                    summary.reason = "output error"
                    break loop
                }
                summary.frames += 1
                summary.processingMs.append(processing)
                summary.endToEndMs.append(1000 * (MonotonicClock.now() - frame.arrival))
                window.append(frame.arrival)
                if window.count > 30 { window.removeFirst(window.count - 30) }
                if let view {
                    let fps = window.count > 1 ? Double(window.count - 1) / max(1e-6, window.last! - window.first!) : 0
                    let c = state.statistics
                    view.show(frame, reading: reading, tracks: tracker.stableTracks,
                              status: LiveStatus(framesPerSecond: fps, latencyMs: processing,
                                                 dropped: queue.dropped + c.droppedFrames, corrupt: c.corruptFrames,
                                                 frames: summary.frames))
                }
                if let limit = settings.maximumFrames, summary.frames >= limit {
                    summary.reason = "frame limit reached"
                    break loop
                }
            }
        }

        let endTime = MonotonicClock.now()
        let endCPU = processCPUSeconds()
        // A window keeps the last frame up at the end of a stream until the user closes it.
        if let view, summary.reason == "end of stream", summary.frames > 0 {
            log(.info, "end of stream; the window stays open until you press q")
            while control.stopRequested == nil && view.handleInput() { MonotonicClock.sleep(1.0 / 60) }
        }

        // Stop capture: wake it if it waits on a full queue, give it a moment to leave its read.
        control.requestStop(summary.reason)
        queue.cancel()
        let joined = exited.wait(timeout: .now() + 0.5) == .success
        if joined { source.close() }
        if let failure = state.failure, summary.failure == nil { summary.failure = failure }

        // At the end of a stream every digit is gone; a signal leaves them as they are.
        if settings.emit == .events, summary.failure == nil,
           summary.reason == "end of stream" || summary.reason == "frame limit reached" {
            for e in tracker.finish(frame: lastFrameIndex + 1) {
                do { try output?.write(TrackEventJSON.line(e, source: lastSource)); summary.lines += 1 } catch { break }
            }
        }
        let c = state.statistics
        summary.dropped = queue.dropped + c.droppedFrames
        summary.corrupt = c.corruptFrames
        summary.reconnects = c.reconnects
        summary.seconds = endTime - startTime
        summary.cpuSeconds = endCPU - startCPU
        notifier?.notify("STOPPING=1")
        return summary
    }

    private func emit(frame: Frame, reading: FrameReading, events: [TrackEvent], processingMs: Double,
                      summary: inout RunSummary) throws(OutputError) {
        guard let output else { return }
        switch settings.emit {
        case .frames:
            let e2e = 1000 * (MonotonicClock.now() - frame.arrival)
            try output.write(TrackEventJSON.frameLine(source: frame.source, frame: frame.index, reading: reading,
                                                      latencyMs: processingMs, endToEndMs: e2e))
            summary.lines += 1
        case .events:
            for e in events {
                try output.write(TrackEventJSON.line(e, source: frame.source))
                summary.lines += 1
            }
        }
    }

    /// The capture thread: reads frames, paces them under `realtime`, hands them over, pings the
    /// watchdog, and says READY=1 with the first frame.
    static func captureLoop(source: any FrameSource, queue: FrameQueue, state: CaptureState, control: ControlFlags,
                            notifier: SystemdNotifier?, log: DaemonLog, settings: Settings) {
        var lastPing = 0.0
        var ready = false
        var lastCorrupt = 0
        var lastCorruptLog = -Double.infinity
        let pace = settings.realtime && source.pacing == .onDemand
        var paceStart = 0.0
        var paced = 0
        defer { queue.finish(); state.finish() }
        while control.stopRequested == nil {
            let result: FrameResult
            do {
                result = try source.nextFrame()
            } catch {
                state.fail("\(error)")   // reported once, as the run's failure
                return
            }
            let stats = source.statistics
            state.publish(stats)
            let now = MonotonicClock.now()
            // The first corrupt frame is logged; after that at most one line per 10 s.
            if stats.corruptFrames != lastCorrupt && (lastCorrupt == 0 || now - lastCorruptLog >= 10) {
                log(.warning, "\(source.name): skipped a corrupt frame (\(stats.corruptFrames) so far)")
                lastCorrupt = stats.corruptFrames
                lastCorruptLog = now
            }
            if let interval = notifier?.watchdogInterval, now - lastPing >= interval {
                notifier?.notify("WATCHDOG=1")
                lastPing = now
            }
            switch result {
            case .end:
                return
            case .noFrameYet:
                continue
            case .frame(let frame):
                if !ready {
                    ready = true
                    notifier?.notify("READY=1\nSTATUS=streaming from \(source.name)")
                    log(.debug, "first frame from \(source.name): \(frame.image.width)x\(frame.image.height)")
                }
                var frame = frame
                if pace {
                    let fps = source.nominalFrameRate ?? settings.fallbackFrameRate
                    if paced == 0 { paceStart = now }
                    MonotonicClock.sleep(paceStart + Double(paced) / fps - now)
                    paced += 1
                    frame.arrival = MonotonicClock.now()
                }
                if !queue.put(frame) { return }
            }
        }
    }
}
