import Capture
import Foundation
import Imaging
import Recognition
import Testing
@testable import digitd

/// A frame source made up in memory: `count` frames, produced as fast as asked (on demand) or on
/// a clock every `interval` seconds (live), each recording when it was produced.
final class SyntheticSource: FrameSource, @unchecked Sendable {
    let name = "synthetic"
    let pacing: Pacing
    let nominalFrameRate: Double? = nil
    var statistics = CaptureStatistics()
    let count: Int
    let interval: Double
    private let lock = NSLock()
    private var produced = 0
    private var nextDue = 0.0

    init(count: Int, pacing: Pacing, interval: Double = 0) {
        self.count = count; self.pacing = pacing; self.interval = interval
    }

    var producedCount: Int { lock.lock(); defer { lock.unlock() }; return produced }

    func nextFrame() throws -> FrameResult {
        guard producedCount < count else { return .end }
        if interval > 0 {
            let now = MonotonicClock.now()
            if nextDue == 0 { nextDue = now }
            MonotonicClock.sleep(nextDue - now)
            nextDue += interval
        }
        lock.lock(); let i = produced; produced += 1; lock.unlock()
        return .frame(Frame(index: i, source: name, image: GrayImage(width: 4, height: 4, fill: UInt8(i % 256))))
    }

    func close() {}
}

final class MemorySink: LineSink {
    var lines: [String] = []
    var failAfter: Int?
    var failure = OutputError.closed("memory")
    var reopened = 0
    func write(_ line: String) throws(OutputError) {
        if let n = failAfter, lines.count >= n { throw failure }
        lines.append(line)
    }
    func reopen() throws(OutputError) { reopened += 1 }
}

func quietLog() -> DaemonLog { DaemonLog(threshold: .error, environment: [:], write: { _ in }) }

func emptyReading(_ image: GrayImage) -> FrameReading {
    FrameReading(width: image.width, height: image.height, detections: [], numbers: [], timings: [])
}

@Suite struct LivePipelineTests {
    func pipeline(_ source: any FrameSource, sink: MemorySink, emit: EmitMode = .frames, realtime: Bool = false,
                  control: ControlFlags = ControlFlags(),
                  recognize: @escaping (GrayImage) -> FrameReading) -> LivePipeline {
        var s = LivePipeline.Settings()
        s.emit = emit; s.realtime = realtime
        return LivePipeline(source: source, recognize: recognize, tracker: Tracker(), output: sink, view: nil,
                            notifier: nil, log: quietLog(), control: control, settings: s)
    }

    @Test func aFileIsReadNoFasterThanItIsProcessedAndNoFrameIsDropped() {
        let source = SyntheticSource(count: 40, pacing: .onDemand)
        let sink = MemorySink()
        var maxAhead = 0
        var processed = 0
        let p = pipeline(source, sink: sink) { image in
            maxAhead = max(maxAhead, source.producedCount - processed)
            processed += 1
            MonotonicClock.sleep(0.002)
            return emptyReading(image)
        }
        let summary = p.run()
        #expect(summary.frames == 40 && summary.dropped == 0)
        #expect(sink.lines.count == 40)
        #expect(sink.lines.enumerated().allSatisfy { $1.contains("\"frame\":\($0),") })
        // The frame being processed, one waiting in the queue, one held by the blocked reader.
        #expect(maxAhead <= 3)
        #expect(summary.reason == "end of stream")
    }

    @Test func aCameraFasterThanRecognitionDropsAllButTheNewestFrameAndCountsThem() {
        let source = SyntheticSource(count: 100, pacing: .live, interval: 0.001)
        let sink = MemorySink()
        var seen: [Int] = []
        let p = pipeline(source, sink: sink) { image in
            seen.append(Int(image.pixels[0]))
            MonotonicClock.sleep(0.01)
            return emptyReading(image)
        }
        let summary = p.run()
        #expect(summary.frames < 50)
        #expect(summary.frames + summary.dropped == 100)
        #expect(seen == seen.sorted())   // always forward, never an old frame after a new one
        #expect(seen.last == 99)         // the newest frame is the one recognised at the end
    }

    @Test func aRecognitionRateLimitRecognisesTheNewestFrameAtThatRate() {
        let source = SyntheticSource(count: 300, pacing: .live, interval: 0.002)   // 0.6 s at 500 fps
        var s = LivePipeline.Settings()
        s.maximumRecognitionRate = 20
        let p = LivePipeline(source: source, recognize: { emptyReading($0) }, tracker: Tracker(), output: MemorySink(),
                             view: nil, notifier: nil, log: quietLog(), control: ControlFlags(), settings: s)
        let summary = p.run()
        #expect((10...15).contains(summary.frames))
        #expect(summary.frames + summary.dropped == 300)
    }

    @Test func realtimeMakesAFileBehaveLikeACamera() {
        let source = SyntheticSource(count: 30, pacing: .onDemand)
        let p = pipeline(source, sink: MemorySink(), realtime: true) { image in
            MonotonicClock.sleep(0.02)
            return emptyReading(image)
        }
        #expect(p.queuePolicy == .latestWins)
    }

    @Test func aClosedOutputEndsTheRunCleanlyWithoutAFailure() {
        let source = SyntheticSource(count: 1000, pacing: .onDemand)
        let sink = MemorySink()
        sink.failAfter = 3
        let summary = pipeline(source, sink: sink) { emptyReading($0) }.run()
        #expect(sink.lines.count == 3)
        #expect(summary.reason == "output error" && summary.failure == nil)
        #expect(source.producedCount < 1000)
    }

    @Test func aFullDiskEndsTheRunWithAOneLineFailure() {
        let sink = MemorySink()
        sink.failAfter = 2
        sink.failure = .full("out.jsonl")
        let summary = pipeline(SyntheticSource(count: 10, pacing: .onDemand), sink: sink) { emptyReading($0) }.run()
        #expect(summary.failure == "out.jsonl: no space left on device; stopping")
    }

    @Test func aStopRequestEndsTheRunPromptly() {
        let control = ControlFlags()
        let source = SyntheticSource(count: Int.max, pacing: .live, interval: 0.005)
        let p = pipeline(source, sink: MemorySink(), control: control) { emptyReading($0) }
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.2) { control.requestStop("SIGTERM") }
        let start = MonotonicClock.now()
        let summary = p.run()
        #expect(summary.reason == "SIGTERM")
        // The issue's bound (2 s), measured from before the 0.2 s delay; a tighter one flaked
        // when the whole suite ran in parallel on 2 cores (1.03 s seen).
        #expect(MonotonicClock.now() - start < 2.0)
    }

    @Test func eventsModeWritesTrackerEventsAndGoneAtTheEndOfTheStream() {
        let box = Box(x: 10, y: 10, width: 20, height: 30)
        var probs = [Float](repeating: 0.01, count: 10); probs[7] = 0.91
        let sink = MemorySink()
        let p = pipeline(SyntheticSource(count: 6, pacing: .onDemand), sink: sink, emit: .events) { image in
            FrameReading(width: image.width, height: image.height,
                         detections: [Detection(box: box, digit: 7, confidence: 0.91, probabilities: probs)],
                         numbers: [NumberReading(value: "7", box: box, confidence: 0.91)], timings: [])
        }
        _ = p.run()
        #expect(sink.lines == [
            #"{"event":"appeared","source":"synthetic","frame":2,"track":1,"box":[10,10,20,30],"digit":7,"confidence":0.91,"number":"7"}"#,
            #"{"event":"gone","source":"synthetic","frame":6,"track":1,"box":[10,10,20,30],"digit":7,"confidence":0.91,"number":"7"}"#,
        ])
    }
}

@Suite struct RunConfigurationTests {
    func parse(_ text: String) throws(ConfigurationError) -> RunConfiguration {
        var c = RunConfiguration()
        try c.apply(toml: text, path: "digitd.toml")
        return c
    }

    @Test func theShippedConfigFileHoldsExactlyTheDefaults() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Config/digitd.toml").path
        var c = RunConfiguration()
        try c.apply(file: path)
        #expect(c == RunConfiguration())
        // ...and documents every key.
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let documented = Set(RunConfiguration.keyLines(text).keys)
        #expect(Set(RunConfiguration.keys.map(\.name)).subtracting(documented).isEmpty)
    }

    @Test func valuesFromTheFileAreApplied() throws {
        let c = try parse("source = \"clip.y4m\"\n[camera]\nwidth = 1280\nfps = 15\n[output]\nemit = \"events\"\nfile = \"/tmp/x\"\n[tracker]\nstable_frames = 5\n")
        #expect(c.source == "clip.y4m" && c.cameraWidth == 1280 && c.cameraFrameRate == 15)
        #expect(c.emit == .events && c.outputFile == "/tmp/x" && c.tracker.stableFrames == 5)
        let level = try parse("[recognition]\nlevel_tilted_pages = false\nlevel_from = 2.5\n")
        #expect(level.levelTiltedPages == false && level.levelFromDegrees == 2.5)
    }

    @Test func anUnknownKeyIsReportedWithItsNameAndLine() {
        #expect(throws: ConfigurationError(path: "digitd.toml", line: 4,
                                           message: "unknown key 'camera.widht' (did you mean 'camera.width'?)")) {
            try parse("# comment\n[camera]\nheight = 480\nwidht = 640\n")
        }
        #expect(throws: ConfigurationError(path: "digitd.toml", line: 1, message: "unknown key 'colour'")) {
            try parse("colour = \"red\"\n")
        }
    }

    @Test func aBadValueIsReportedWithItsNameLineAndWhatIsAllowed() {
        #expect(throws: ConfigurationError(path: "digitd.toml", line: 3,
                                           message: "'output.emit' must be one of \"frames\", \"events\", not \"lines\"")) {
            try parse("[output]\nfile = \"\"\nemit = \"lines\"\n")
        }
        #expect(throws: ConfigurationError(path: "digitd.toml", line: 2,
                                           message: "'camera.width' must be an integer from 16 to 8192, not 0")) {
            try parse("[camera]\nwidth = 0\n")
        }
    }

    @Test func aSyntaxErrorIsReportedWithItsLine() {
        do {
            _ = try parse("source = \"a\"\n\n[camera\n")
            Issue.record("expected an error")
        } catch {
            #expect(error.line == 3)
            #expect(error.description.hasPrefix("digitd.toml:3: "))
        }
    }

    @Test func flagsOverrideTheConfigFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("digitd-flags-\(getpid()).toml").path
        try "[camera]\nwidth = 1280\nheight = 720\n[input]\nloop = true\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { unlink(path) }
        let run = try Digitd.Run.parse(["--config", path, "--width", "800", "--no-loop", "--emit", "events"])
        let c = try run.resolveConfiguration()
        #expect(c.cameraWidth == 800 && c.cameraHeight == 720 && c.loop == false && c.emit == .events)
    }
}

@Suite struct SystemdNotifierTests {
    /// Binds a datagram socket at `name` (a path, or "@name" for the abstract namespace).
    func bindSocket(_ name: String) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var a = sockaddr_un()
        a.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(name.utf8)
        withUnsafeMutableBytes(of: &a.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            if bytes[0] == UInt8(ascii: "@") { raw[0] = 0 }
        }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count + (bytes[0] == UInt8(ascii: "@") ? 0 : 1))
        let r = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        #expect(r == 0)
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        return fd
    }

    func receive(_ fd: Int32) -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buffer, buffer.count, 0)
        return n > 0 ? String(decoding: buffer.prefix(n), as: UTF8.self) : nil
    }

    @Test func notificationsReachASocketAtAPath() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("digitd-notify-\(getpid())").path
        unlink(path)
        let fd = bindSocket(path)
        defer { close(fd); unlink(path) }
        let n = try #require(SystemdNotifier(environment: ["NOTIFY_SOCKET": path]))
        #expect(n.notify("READY=1\nSTATUS=streaming"))
        #expect(receive(fd) == "READY=1\nSTATUS=streaming")
        #expect(n.watchdogInterval == nil)
    }

    @Test func notificationsReachAnAbstractSocketAndTheWatchdogIntervalIsHalfTheTimeout() throws {
        let name = "@digitd-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = bindSocket(name)
        defer { close(fd) }
        let n = try #require(SystemdNotifier(environment: ["NOTIFY_SOCKET": name, "WATCHDOG_USEC": "30000000",
                                                           "WATCHDOG_PID": "\(getpid())"]))
        #expect(n.notify("WATCHDOG=1"))
        #expect(receive(fd) == "WATCHDOG=1")
        #expect(n.watchdogInterval == 15)
    }

    @Test func withoutNotifySocketThereIsNoNotifier() {
        #expect(SystemdNotifier(environment: [:]) == nil)
        #expect(SystemdNotifier(environment: ["NOTIFY_SOCKET": "relative"]) == nil)
    }

    @Test func theWatchdogOfAnotherProcessIsNotOurs() throws {
        let n = try #require(SystemdNotifier(environment: ["NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "1000000",
                                                           "WATCHDOG_PID": "1"]))
        #expect(n.watchdogInterval == nil)
    }
}

@Suite struct DaemonLogTests {
    final class Lines: @unchecked Sendable { var all: [String] = [] }

    @Test func underJournaldLinesCarryAPriorityAndNoTimestamp() {
        let lines = Lines()
        let log = DaemonLog(threshold: .info, environment: ["JOURNAL_STREAM": "8:1234"], write: { lines.all.append($0) })
        log(.warning, "camera lost")
        log(.debug, "not shown")
        #expect(lines.all == ["<4>camera lost\n"])
    }

    @Test func onATerminalLinesCarryATimeAndLevel() {
        let lines = Lines()
        let log = DaemonLog(threshold: .debug, environment: [:], write: { lines.all.append($0) })
        log(.error, "bad")
        #expect(lines.all.count == 1 && lines.all[0].hasSuffix(" digitd error: bad\n") && lines.all[0].hasPrefix("20"))
    }
}

@Suite struct RunHelpTests {
    /// The whole `digitd run --help` at 100 columns: what users read is part of the interface,
    /// so a change to it shows up here and is made on purpose.
    @Test func theHelpTextIsWhatUsersRead() {
        let expected = #"""
OVERVIEW: Read digits live from a camera, a Y4M/MJPEG stream or image files.

Shows the frames with their digits in a window, or with --headless (or without a display) writes
JSON lines: one per frame (--emit frames, the scan --json shape plus frame and end_to_end_ms) or
one per tracker event (--emit events: appeared, changed, gone). Settings come from --config FILE or
/etc/digitd/digitd.toml, then the flags.

SIGTERM/SIGINT stop capture, flush and exit 0; SIGHUP reopens --output (logrotate). Under systemd
(Type=notify) READY=1 is sent once frames flow, WATCHDOG=1 from the capture loop and STATUS= with
the frame rate.

Window keys: q/Esc quit, space pause, t threshold view, c crops view, s snapshot, f fullscreen.

USAGE: digitd run <options>

OPTIONS:
  --source <source>       Camera device (/dev/video0), Y4M or MJPEG file, '-' for stdin, an image,
                          a folder or a glob.
  --config <config>       Config file (TOML). Default: /etc/digitd/digitd.toml when it exists.
  --model <model>         Model file (.safetensors). Default: the shipped model.
  --no-cascade            Use the full model alone on every crop, without the screen network of the
                          cascade.
  --headless              Open no window; write JSON lines.
  --emit <emit>           What each JSON line is: frames or events. (values: frames, events)
  --output <output>       Append JSON lines to FILE instead of standard output; SIGHUP reopens it.
  --log-level <log-level> Least severity logged to stderr: debug, info, warning, error. (values:
                          debug, info, warning, error)
  --loop/--no-loop        Start files and folders again at their end.
  --realtime/--no-realtime
                          Pace files at their frame rate and keep only the newest frame, like a
                          camera.
  --fps <fps>             Frame rate for --realtime when the source states none (MJPEG, images).
  --width <width>         Camera frame width to ask for.
  --height <height>       Camera frame height to ask for.
  --camera-fps <camera-fps>
                          Camera frame rate to ask for.
  --camera-format <camera-format>
                          Camera pixel format: auto, grey, yuyv, nv12 or yuv420. (values: auto,
                          grey, yuyv, nv12, yuv420)
  --fullscreen/--no-fullscreen
                          Start the window fullscreen.
  --min-confidence <min-confidence>
                          Least probability for a digit to be reported (0...1).
  --max-fps <max-fps>     Recognise at most this many frames per second from a camera (0 = every
                          frame it can).
  --stable-frames <stable-frames>
                          Frames a digit must stay the same before the tracker reports it.
  --max-frames <max-frames>
                          Stop after this many frames.
  --notify/--no-notify    Speak the sd_notify protocol when $NOTIFY_SOCKET is set.
  --version               Show the version.
  -h, --help              Show help information.
"""#
        let actual = Digitd.helpMessage(for: Digitd.Run.self, columns: 100)
        func lines(_ s: String) -> [String] {
            s.split(separator: "\n", omittingEmptySubsequences: false).map { String($0.reversed().drop { $0 == " " }.reversed()) }
                .reversed().drop { $0.isEmpty }.reversed()
        }
        #expect(lines(actual) == lines(expected))
    }
}
