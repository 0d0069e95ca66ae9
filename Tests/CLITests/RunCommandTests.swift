import Foundation
import Imaging
import Testing

/// End-to-end runs of the built `digitd` binary (next to the test bundle) on generated streams.
enum DigitdBinary {
    static var path: String? {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [dir.appendingPathComponent("digitd"), dir.deletingLastPathComponent().appendingPathComponent("digitd")]
        where FileManager.default.isExecutableFile(atPath: candidate.path) {
            return candidate.path
        }
        return nil
    }
}

/// A running digitd with its stdout and stderr collected.
final class RunningDigitd: @unchecked Sendable {
    let process = Process()
    let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
    private let lock = NSLock()
    private var out = Data(), err = Data()

    init(_ arguments: [String], environment: [String: String] = [:], feedStdin: Data? = nil,
         keepStdinOpen: Bool = false) throws {
        process.executableURL = URL(fileURLWithPath: try #require(DigitdBinary.path))
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for k in ["DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER", "NOTIFY_SOCKET", "JOURNAL_STREAM"] { env[k] = nil }
        env.merge(environment) { $1 }
        process.environment = env
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        stdout.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard let self else { return }
            self.lock.lock(); self.out.append(d); self.lock.unlock()
        }
        stderr.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard let self else { return }
            self.lock.lock(); self.err.append(d); self.lock.unlock()
        }
        try process.run()
        if let feedStdin {
            let handle = stdin.fileHandleForWriting
            DispatchQueue.global().async {
                handle.write(feedStdin)
                if !keepStdinOpen { try? handle.close() }
            }
        } else {
            try? stdin.fileHandleForWriting.close()
        }
    }

    var output: String { lock.lock(); defer { lock.unlock() }; return String(decoding: out, as: UTF8.self) }
    var errors: String { lock.lock(); defer { lock.unlock() }; return String(decoding: err, as: UTF8.self) }
    var lines: [String] { output.split(separator: "\n").map(String.init) }

    /// Waits up to `timeout` seconds for the process to end; its exit status, or nil if still running.
    func wait(timeout: Double) -> Int32? {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { return nil }
        usleep(50_000)   // let the readers drain
        return process.terminationStatus
    }

    func waitUntil(timeout: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while !condition() && Date() < deadline { usleep(10_000) }
        return condition()
    }

    func kill(_ signal: Int32) { Glibc.kill(process.processIdentifier, signal) }

    deinit { if process.isRunning { process.terminate() } }
}

/// A test folder with a page of handwritten digits from `digitd synth`, and streams built from it.
final class LiveFixtures: @unchecked Sendable {
    static let shared = LiveFixtures()
    let directory: String
    private(set) var page: GrayImage?

    private init() {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("digitd-run-tests-\(getpid())").path
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // Seed 2 gives a 640x480 paper scene with digits.
        guard let binary = DigitdBinary.path else { return }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["synth", "--out", directory + "/scenes", "--count", "1", "--seed", "2"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try? p.run()
        p.waitUntilExit()
        page = try? loadGrayImage(path: directory + "/scenes/scene-0000.png")
    }

    /// The page shifted by (dx, dy), edges filled with the page's corner value.
    func shifted(_ dx: Int, _ dy: Int) -> GrayImage {
        let g = page!
        var out = GrayImage(width: g.width, height: g.height, fill: g[0, 0])
        for y in 0..<g.height {
            let sy = y - dy
            guard sy >= 0 && sy < g.height else { continue }
            for x in 0..<g.width {
                let sx = x - dx
                if sx >= 0 && sx < g.width { out[x, y] = g[sx, sy] }
            }
        }
        return out
    }

    func write(_ bytes: [UInt8], _ name: String) -> String {
        let path = directory + "/" + name
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }
}

func y4mBytes(_ frames: [GrayImage], rate: String = "30:1") -> [UInt8] {
    let w = frames[0].width, h = frames[0].height
    var out = Array("YUV4MPEG2 W\(w) H\(h) F\(rate) Ip A1:1 C420jpeg\n".utf8)
    let chroma = [UInt8](repeating: 128, count: 2 * ((w + 1) / 2) * ((h + 1) / 2))
    for f in frames { out += Array("FRAME\n".utf8) + f.pixels + chroma }
    return out
}

/// The value of an integer field in a JSON line (enough for the flat fields checked here).
func intField(_ line: String, _ key: String) -> Int? {
    guard let r = line.range(of: "\"\(key)\":") else { return nil }
    return Int(line[r.upperBound...].prefix { $0.isNumber || $0 == "-" })
}

@Suite(.serialized) struct RunCommandTests {
    let fixtures = LiveFixtures.shared

    @Test func aY4MStreamOnStdinGivesOneLinePerFrameWithFrameAndSource() throws {
        try #require(fixtures.page != nil)
        let frames = (0..<5).map { fixtures.shifted($0, $0 / 2) }
        let run = try RunningDigitd(["run", "--headless", "--source", "-", "--emit", "frames"],
                                    feedStdin: Data(y4mBytes(frames)))
        #expect(run.wait(timeout: 30) == 0)
        let lines = run.lines
        #expect(lines.count == 5)
        for (i, line) in lines.enumerated() {
            #expect(line.hasPrefix("{\"source\":\"-\",\"frame\":\(i),\"width\":640,\"height\":480,\"detections\":[{\"box\""))
            #expect(line.contains("\"latency_ms\":") && line.contains("\"end_to_end_ms\":"))
        }
    }

    @Test func anMJPEGFileWithACorruptFrameSkipsItAndSaysSo() throws {
        try #require(fixtures.page != nil)
        var parts = (0..<4).map { encodeJPEG(fixtures.shifted(2 * $0, 0), quality: 85) }
        parts[1] = Array(parts[1].prefix(parts[1].count / 3))
        let path = fixtures.write(parts.flatMap { $0 }, "corrupt.mjpeg")
        let run = try RunningDigitd(["run", "--headless", "--source", path])
        #expect(run.wait(timeout: 30) == 0)
        #expect(run.lines.map { intField($0, "frame") } == [0, 1, 2])
        #expect(run.errors.contains("skipped a corrupt frame (1 so far)"))
        #expect(run.errors.contains("3 frames in") && run.errors.contains("corrupt 1"))
    }

    @Test func eventsModeReportsEachStableDigitOnceAndGoneAtTheEnd() throws {
        try #require(fixtures.page != nil)
        let frames = (0..<8).map { fixtures.shifted($0 % 2, 0) }
        let path = fixtures.write(y4mBytes(frames), "still.y4m")
        let run = try RunningDigitd(["run", "--headless", "--source", path, "--emit", "events"])
        #expect(run.wait(timeout: 30) == 0)
        let appeared = run.lines.filter { $0.hasPrefix("{\"event\":\"appeared\"") }
        let gone = run.lines.filter { $0.hasPrefix("{\"event\":\"gone\"") }
        #expect(appeared.count >= 3)
        #expect(gone.count == appeared.count)
        #expect(Set(appeared.compactMap { intField($0, "track") }).count == appeared.count)
        #expect(appeared.allSatisfy { intField($0, "frame") == 2 })   // stable after 3 frames
        #expect(gone.allSatisfy { intField($0, "frame") == 8 })
    }

    @Test func sigtermStopsCaptureFlushesAndExitsZeroWithinTwoSeconds() throws {
        try #require(fixtures.page != nil)
        let path = fixtures.write(y4mBytes((0..<3).map { fixtures.shifted($0, 0) }), "loop.y4m")
        let output = fixtures.directory + "/sigterm.jsonl"
        unlink(output)
        let run = try RunningDigitd(["run", "--headless", "--source", path, "--loop", "--realtime", "--output", output])
        let started = run.waitUntil(timeout: 20) { ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").count > 0 }
        #expect(started)
        let sent = Date()
        run.kill(SIGTERM)
        let status = run.wait(timeout: 5)
        let took = Date().timeIntervalSince(sent)
        #expect(status == 0)
        #expect(took < 2.0)
        print("SIGTERM to exit: \(String(format: "%.3f", took)) s")
        #expect(run.errors.contains("SIGTERM"))
        // Every line in the file is whole.
        let text = try String(contentsOfFile: output, encoding: .utf8)
        #expect(text.hasSuffix("\n") && text.split(separator: "\n").allSatisfy { $0.hasPrefix("{") && $0.hasSuffix("}") })
    }

    @Test func sigtermEndsARunWhoseStdinIsOpenButIdle() throws {
        try #require(fixtures.page != nil)
        let run = try RunningDigitd(["run", "--headless", "--source", "-"],
                                    feedStdin: Data(y4mBytes((0..<2).map { fixtures.shifted($0, 0) })), keepStdinOpen: true)
        #expect(run.waitUntil(timeout: 20) { run.lines.count == 2 })
        let sent = Date()
        run.kill(SIGTERM)
        #expect(run.wait(timeout: 5) == 0)
        #expect(Date().timeIntervalSince(sent) < 2.0)
    }

    @Test func sigtermWhileStillOpeningAnIdleStdinExitsZero() throws {
        let run = try RunningDigitd(["run", "--headless", "--source", "-"], feedStdin: Data(), keepStdinOpen: true)
        usleep(1_000_000)
        run.kill(SIGTERM)
        #expect(run.wait(timeout: 2) == 0)
    }

    @Test func sighupReopensTheOutputFileForLogrotate() throws {
        try #require(fixtures.page != nil)
        let path = fixtures.write(y4mBytes((0..<3).map { fixtures.shifted($0, 0) }), "hup.y4m")
        let output = fixtures.directory + "/hup.jsonl"
        unlink(output); unlink(output + ".1")
        let run = try RunningDigitd(["run", "--headless", "--source", path, "--loop", "--realtime", "--fps", "30",
                                     "--output", output])
        #expect(run.waitUntil(timeout: 20) { FileManager.default.fileExists(atPath: output) && ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").count > 0 })
        #expect(rename(output, output + ".1") == 0)
        run.kill(SIGHUP)
        #expect(run.waitUntil(timeout: 10) { ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").contains("\n") })
        run.kill(SIGTERM)
        #expect(run.wait(timeout: 5) == 0)
        #expect(run.errors.contains("reopened the output file"))
    }

    @Test func aClosedStdoutIsReportedAndEndsTheRunCleanly() throws {
        try #require(fixtures.page != nil)
        let path = fixtures.write(y4mBytes((0..<3).map { fixtures.shifted($0, 0) }), "pipe.y4m")
        let run = try RunningDigitd(["run", "--headless", "--source", path, "--loop"])
        #expect(run.waitUntil(timeout: 20) { !run.output.isEmpty })
        run.stdout.fileHandleForReading.readabilityHandler = nil
        try run.stdout.fileHandleForReading.close()
        let status = run.wait(timeout: 10)
        #expect(status == 0)
        #expect(run.errors.contains("broken pipe"))
        #expect(!run.errors.contains("Fatal error"))
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze")))
    func theUnitFilesVerifyAndScoreSafeInSystemdAnalyzeSecurity() throws {
        let binary = try #require(DigitdBinary.path)
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let dir = fixtures.directory + "/units"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for unit in ["digitd.service", "digitd@.service"] {
            let text = try String(contentsOf: repo.appendingPathComponent("systemd/\(unit)"), encoding: .utf8)
                .replacingOccurrences(of: "@BINDIR@", with: (binary as NSString).deletingLastPathComponent)
                .replacingOccurrences(of: "@DATADIR@", with: "/usr/local/share/digitd")
            try text.write(toFile: dir + "/" + unit, atomically: true, encoding: .utf8)
        }
        func analyze(_ arguments: [String]) throws -> (Int32, String) {
            let p = Process(), out = Pipe()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/systemd-analyze")
            p.arguments = arguments
            p.currentDirectoryURL = URL(fileURLWithPath: dir)
            p.standardOutput = out
            p.standardError = out
            try p.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return (p.terminationStatus, String(decoding: data, as: UTF8.self))
        }
        let (status, text) = try analyze(["verify", "--man=no", "./digitd.service", "./digitd@video0.service"])
        #expect(status == 0, "\(text)")
        let (_, security) = try analyze(["security", "--offline=yes", dir + "/digitd.service"])
        let score = security.split(separator: "\n").last { $0.contains("Overall exposure level") }
            .flatMap { line in line.split(separator: " ").compactMap { Double($0) }.first }
        #expect((score ?? 10) <= 1.0, "\(security.suffix(200))")
    }

    @Test func aBadConfigKeyIsOneLineNamingTheKeyAndLine() throws {
        let config = fixtures.write(Array("[camera]\nwidth = 640\nfsp = 30\n".utf8), "bad.toml")
        let run = try RunningDigitd(["run", "--headless", "--config", config])
        #expect(run.wait(timeout: 10) == 2)
        #expect(run.errors == "digitd: \(config):3: unknown key 'camera.fsp' (did you mean 'camera.fps'?)\n")
    }

    @Test func aMissingSourceIsOneLineAndExitStatusOne() throws {
        let run = try RunningDigitd(["run", "--headless", "--source", "/nonexistent/clip.y4m"])
        #expect(run.wait(timeout: 10) == 1)
        #expect(run.errors == "digitd: /nonexistent/clip.y4m: no such file or folder\n")
    }

    @Test func underSystemdReadyAndWatchdogAreSentToTheNotifySocket() throws {
        try #require(fixtures.page != nil)
        let path = fixtures.write(y4mBytes((0..<3).map { fixtures.shifted($0, 0) }), "notify.y4m")
        let name = "@digitd-run-test-\(getpid())"
        let fd = SystemdNotifierTests().bindSocket(name)
        defer { close(fd) }
        let run = try RunningDigitd(["run", "--headless", "--source", path, "--loop", "--realtime", "--output", "/dev/null"],
                                    environment: ["NOTIFY_SOCKET": name, "WATCHDOG_USEC": "200000"])
        var messages: [String] = []
        let deadline = Date(timeIntervalSinceNow: 20)
        while Date() < deadline && !(messages.contains { $0.contains("WATCHDOG=1") } && messages.contains { $0.hasPrefix("READY=1") }) {
            if let m = SystemdNotifierTests().receive(fd) { messages.append(m) }
        }
        run.kill(SIGTERM)
        #expect(run.wait(timeout: 5) == 0)
        #expect(messages.contains { $0.hasPrefix("READY=1\nSTATUS=streaming from ") })
        #expect(messages.contains("WATCHDOG=1"))
    }
}
