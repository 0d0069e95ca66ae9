import ArgumentParser
import CBLAS
import Capture
import Display
import Foundation
import Imaging
import NeuralNet
import Recognition

extension Digitd {
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Read digits live from a camera, a Y4M/MJPEG stream or image files.",
            discussion: """
            Shows the frames with their digits in a window, or with --headless (or without a \
            display) writes JSON lines: one per frame (--emit frames, the scan --json shape plus \
            frame and end_to_end_ms) or one per tracker event (--emit events: appeared, changed, \
            gone). Settings come from --config FILE or /etc/digitd/digitd.toml, then the flags.

            SIGTERM/SIGINT stop capture, flush and exit 0; SIGHUP reopens --output (logrotate). \
            Under systemd (Type=notify) READY=1 is sent once frames flow, WATCHDOG=1 from the \
            capture loop and STATUS= with the frame rate.

            Window keys: q/Esc quit, space pause, t threshold view, c crops view, s snapshot, \
            f fullscreen.
            """)

        @Option(help: "Camera device (/dev/video0), Y4M or MJPEG file, '-' for stdin, an image, a folder or a glob.")
        var source: String?

        @Option(help: "Config file (TOML). Default: /etc/digitd/digitd.toml when it exists.")
        var config: String?

        @Option(help: "Model file (.safetensors). Default: the shipped model.")
        var model: String?

        @Flag(help: "Use the full model alone on every crop, without the screen network of the cascade.")
        var noCascade = false

        @Flag(help: "Open no window; write JSON lines.")
        var headless = false

        @Option(help: "What each JSON line is: frames or events.")
        var emit: EmitMode?

        @Option(help: "Append JSON lines to FILE instead of standard output; SIGHUP reopens it.")
        var output: String?

        @Option(help: "Least severity logged to stderr: debug, info, warning, error.")
        var logLevel: LogLevel?

        @Flag(inversion: .prefixedNo, help: "Start files and folders again at their end.")
        var loop: Bool?

        @Flag(inversion: .prefixedNo, help: "Pace files at their frame rate and keep only the newest frame, like a camera.")
        var realtime: Bool?

        @Option(help: "Frame rate for --realtime when the source states none (MJPEG, images).")
        var fps: Double?

        @Option(help: "Camera frame width to ask for.")
        var width: Int?

        @Option(help: "Camera frame height to ask for.")
        var height: Int?

        @Option(help: "Camera frame rate to ask for.")
        var cameraFps: Double?

        @Option(help: "Camera pixel format: auto, grey, yuyv, nv12 or yuv420.")
        var cameraFormat: CameraFormatChoice?

        @Flag(inversion: .prefixedNo, help: "Start the window fullscreen.")
        var fullscreen: Bool?

        @Option(help: "Least probability for a digit to be reported (0...1).")
        var minConfidence: Float?

        @Option(help: "Recognise at most this many frames per second from a camera (0 = every frame it can).")
        var maxFps: Double?

        @Option(help: "Frames a digit must stay the same before the tracker reports it.")
        var stableFrames: Int?

        @Option(help: "Stop after this many frames.")
        var maxFrames: Int?

        @Flag(inversion: .prefixedNo, help: "Speak the sd_notify protocol when $NOTIFY_SOCKET is set.")
        var notify: Bool?

        func validate() throws {
            if let fps, !(1...240).contains(fps) { throw ValidationError("--fps must be within 1...240") }
            if let cameraFps, !(1...240).contains(cameraFps) { throw ValidationError("--camera-fps must be within 1...240") }
            if let width, !(16...8192).contains(width) { throw ValidationError("--width must be within 16...8192") }
            if let height, !(16...8192).contains(height) { throw ValidationError("--height must be within 16...8192") }
            if let minConfidence, !(0...1).contains(minConfidence) { throw ValidationError("--min-confidence must be within 0...1") }
            if let stableFrames, stableFrames < 1 { throw ValidationError("--stable-frames must be at least 1") }
            if let maxFrames, maxFrames < 1 { throw ValidationError("--max-frames must be at least 1") }
            if let maxFps, !(0...240).contains(maxFps) { throw ValidationError("--max-fps must be within 0...240") }
        }

        /// Defaults, then the config file, then the flags.
        func resolveConfiguration() throws -> RunConfiguration {
            var c = RunConfiguration()
            if let path = config {
                try c.apply(file: path)
            } else if FileManager.default.fileExists(atPath: RunConfiguration.systemPath) {
                try c.apply(file: RunConfiguration.systemPath)
            }
            if let source { c.source = source }
            if let model { c.model = model }
            if noCascade { c.cascade = false }
            if headless { c.headless = true }
            if let emit { c.emit = emit }
            if let output { c.outputFile = output }
            if let logLevel { c.logLevel = logLevel }
            if let loop { c.loop = loop }
            if let realtime { c.realtime = realtime }
            if let fps { c.inputFrameRate = fps }
            if let width { c.cameraWidth = width }
            if let height { c.cameraHeight = height }
            if let cameraFps { c.cameraFrameRate = cameraFps }
            if let cameraFormat { c.cameraFormat = cameraFormat }
            if let fullscreen { c.fullscreen = fullscreen }
            if let minConfidence { c.minimumConfidence = minConfidence }
            if let stableFrames { c.tracker.stableFrames = stableFrames }
            if let maxFps { c.maximumRecognitionRate = maxFps }
            if let maxFrames { c.maximumFrames = maxFrames }
            if let notify { c.notify = notify }
            return c
        }

        /// On the main actor. Everything after setup runs synchronously on this one thread, so SDL
        /// is only ever called from the thread that created the window. (On Linux the async entry
        /// point gives up the process's first thread to libdispatch, so that one is not available.)
        @MainActor func run() async throws {
            let c: RunConfiguration
            do { c = try resolveConfiguration() } catch {
                ScanSupport.printError("\(error)")
                throw ExitCode(2)
            }
            let log = DaemonLog(threshold: c.logLevel)
            // A closed pipe must be an EPIPE we report, not a signal that kills us.
            signal(SIGPIPE, SIG_IGN)
            let control = ControlFlags()
            let signals = SignalHandlers(control: control, log: log)
            defer { signals.cancel() }

            let classifier: DigitClassifier
            do { classifier = try ModelOptions.loadClassifier(c.model, for: .pictures, cascade: CascadeChoice(enabled: c.cascade)) } catch {
                ScanSupport.printError("\(error)")
                throw ExitCode(1)
            }
            let source: any FrameSource
            do {
                source = try openFrameSource(c.source, options: c.sourceOptions, log: log.captureLog)
            } catch {
                ScanSupport.printError("\(error)")
                throw ExitCode(1)
            }

            openblas_set_num_threads(Int32(c.networkThreads))
            let outcome = live(c, classifier: classifier, source: source, control: control, log: log)
            let summary: RunSummary
            switch outcome {
            case .success(let s): summary = s
            case .failure(let code): throw code
            }
            log(.info, summary.report)
            if let failure = summary.failure {
                ScanSupport.printError(failure)
                throw ExitCode(1)
            }
        }

        /// Window, recognizer, output and the pipeline, on the thread that will own the window.
        func live(_ c: RunConfiguration, classifier: DigitClassifier, source: any FrameSource, control: ControlFlags,
                  log: DaemonLog) -> Result<RunSummary, ExitCode> {
            let view = c.headless ? nil : makeWindow(c, log: log)
            var recognizerOptions = RecognizerOptions()
            recognizerOptions.minimumConfidence = c.minimumConfidence
            recognizerOptions.levelTiltedPages = c.levelTiltedPages
            recognizerOptions.minimumTilt = c.levelFromDegrees * .pi / 180
            recognizerOptions.carryTiltBetweenFrames = true
            recognizerOptions.keepDebugImages = view != nil
            let recognizer = Recognizer(classifier: classifier, options: recognizerOptions)

            // Lines go to stdout when headless; with a window only to --output if given.
            let sink: JSONLinesOutput?
            do {
                sink = view == nil || c.outputFile != nil ? try JSONLinesOutput(path: c.outputFile) : nil
            } catch {
                ScanSupport.printError("\(error)")
                return .failure(ExitCode(1))
            }

            var settings = LivePipeline.Settings()
            settings.emit = c.emit
            settings.realtime = c.realtime
            settings.fallbackFrameRate = c.inputFrameRate
            settings.maximumFrames = c.maximumFrames
            settings.maximumRecognitionRate = c.maximumRecognitionRate > 0 ? c.maximumRecognitionRate : nil
            let pipeline = LivePipeline(
                source: source, recognize: { recognizer.read($0) }, tracker: Tracker(options: c.tracker),
                output: sink, view: view, notifier: c.notify ? SystemdNotifier() : nil, log: log,
                control: control, settings: settings)
            log(.info, "reading \(c.source) (\(source.pacing == .live || c.realtime ? "newest frame wins" : "every frame"))"
                + ", emitting \(c.emit.rawValue) to \(view != nil && c.outputFile == nil ? "the window only" : sink?.name ?? "-")")
            return .success(pipeline.run())
        }

        /// The SDL window, if a display is there; otherwise nil and a note in the log.
        func makeWindow(_ c: RunConfiguration, log: DaemonLog) -> LiveView? {
            guard OverlayWindow.displayAvailable() else {
                log(.info, "no display (DISPLAY/WAYLAND_DISPLAY unset): running headless")
                return nil
            }
            do {
                let window = try OverlayWindow(title: "digitd — \(c.source)", fullscreen: c.fullscreen,
                                               snapshotDirectory: c.snapshotDirectory)
                window.log = { message in log(.info, message) }
                log(.debug, "window opened")
                return WindowView(window: window)
            } catch {
                log(.warning, "cannot open a window (\(error)): running headless")
                return nil
            }
        }
    }
}

/// The pipeline's view protocol over the SDL window.
final class WindowView: LiveView {
    let window: OverlayWindow
    init(window: OverlayWindow) { self.window = window }
    func handleInput() -> Bool { window.handleEvents() }
    var isPaused: Bool { window.isPaused }
    func show(_ frame: Frame, reading: FrameReading, tracks: [Track], status: LiveStatus) {
        window.show(image: frame.image, reading: reading, tracks: tracks,
                    hud: HUD(framesPerSecond: status.framesPerSecond, latencyMs: status.latencyMs,
                             dropped: status.dropped, corrupt: status.corrupt, frame: frame.index))
    }
}

/// SIGTERM and SIGINT request a stop; SIGHUP a reopen of the output file. Dispatch sources run the
/// handlers on a queue, outside signal context, so they may lock and log.
final class SignalHandlers {
    private var sources: [DispatchSourceSignal] = []

    init(control: ControlFlags, log: DaemonLog) {
        let queue = DispatchQueue(label: "digitd.signals")
        for (sig, name) in [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT"), (SIGHUP, "SIGHUP")] {
            signal(sig, SIG_IGN)   // the dispatch source sees it; the default action must not run
            let s = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            if sig == SIGHUP {
                s.setEventHandler { log(.debug, "SIGHUP: reopening the output"); control.requestReopen() }
            } else {
                s.setEventHandler {
                    log(.info, "\(name): stopping")
                    control.requestStop(name)
                    // Still starting (maybe blocked opening the source): nothing to flush.
                    if !control.isRunning { exit(0) }
                }
            }
            s.resume()
            sources.append(s)
        }
    }

    func cancel() { sources.forEach { $0.cancel() } }
}
