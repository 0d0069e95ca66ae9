import ArgumentParser
import Capture
import Foundation
import Recognition
import TOMLKit

/// What `digitd run` writes per line.
enum EmitMode: String, CaseIterable, ExpressibleByArgument, Sendable {
    /// One line per frame: every detection and number (the `digitd scan --json` shape plus `frame`).
    case frames
    /// One line per tracker event: a digit appeared, changed or is gone.
    case events
}

/// The pixel format asked of a camera.
enum CameraFormatChoice: String, CaseIterable, ExpressibleByArgument, Sendable {
    case auto, grey, yuyv, nv12, yuv420

    var fourCC: FourCC? {
        switch self {
        case .auto: return nil
        case .grey: return .grey
        case .yuyv: return .yuyv
        case .nv12: return .nv12
        case .yuv420: return .yuv420
        }
    }
}

/// Every setting of `digitd run`, after defaults, the config file and the flags are combined.
/// Pure values: the runtime state (devices, threads, counters) lives in `LivePipeline`.
struct RunConfiguration: Equatable, Sendable {
    var source = "/dev/video0"
    /// nil: the shipped default model.
    var model: String? = nil
    /// With the shipped model: screen every crop with the small network beside it
    /// (digitd-screen.safetensors) and run the full model only on the crops it is unsure of.
    var cascade = true
    var logLevel = LogLevel.info
    var notify = true

    var cameraWidth = 640
    var cameraHeight = 480
    var cameraFrameRate = 30.0
    var cameraFormat = CameraFormatChoice.auto
    var cameraBuffers = 4

    var loop = false
    var realtime = false
    /// Pace of sources that do not state a frame rate (MJPEG, images) under `realtime`.
    var inputFrameRate = 30.0

    var emit = EmitMode.frames
    /// nil: standard output.
    var outputFile: String? = nil

    var headless = false
    var fullscreen = false
    var snapshotDirectory = "."

    var minimumConfidence: Float = RecognizerOptions().minimumConfidence
    /// Turn tilted pages level before reading them (`RecognizerOptions.levelTiltedPages`).
    var levelTiltedPages = RecognizerOptions().levelTiltedPages
    /// ...from this many degrees off the horizontal.
    var levelFromDegrees = RecognizerOptions.cameraLevelFrom
    /// OpenBLAS threads for the network. One frame's ~20 crops are too small a batch to share:
    /// more threads mostly spin (measured: 36% vs 60% of a core at 1280x720, 30 fps).
    var networkThreads = 1
    /// Recognitions per second from live sources (cameras, --realtime); 0 = as many as possible.
    var maximumRecognitionRate = 0.0
    var tracker = TrackerOptions()

    /// Stop after this many frames (benchmarks and tests); nil = until the source ends or a signal.
    var maximumFrames: Int? = nil

    /// The system-wide file read when no --config is given, if it exists.
    static let systemPath = "/etc/digitd/digitd.toml"

    var sourceOptions: SourceOptions {
        var o = SourceOptions()
        o.camera.width = cameraWidth
        o.camera.height = cameraHeight
        o.camera.frameRate = cameraFrameRate
        o.camera.format = cameraFormat.fourCC
        o.camera.bufferCount = cameraBuffers
        o.loop = loop
        o.frameRate = inputFrameRate
        return o
    }
}

/// A config file problem, reported as `FILE:LINE: message` so an editor can jump to it.
struct ConfigurationError: Error, CustomStringConvertible, Equatable {
    var path: String
    var line: Int?
    var message: String
    var description: String { line.map { "\(path):\($0): \(message)" } ?? "\(path): \(message)" }
}

extension RunConfiguration {
    /// One documented key of the config file: its dotted name and how it sets the configuration.
    struct Key: Sendable {
        let name: String
        /// Returns an error message (without the key name) when the value does not fit.
        let apply: @Sendable (inout RunConfiguration, any TOMLValueConvertible) -> String?
    }

    static func string(_ name: String, _ set: @escaping @Sendable (inout RunConfiguration, String) -> Void) -> Key {
        Key(name: name) { c, v in
            guard let s = v.string else { return "must be a string" }
            set(&c, s); return nil
        }
    }

    static func optionalString(_ name: String, _ set: @escaping @Sendable (inout RunConfiguration, String?) -> Void) -> Key {
        Key(name: name) { c, v in
            guard let s = v.string else { return "must be a string (\"\" for none)" }
            set(&c, s.isEmpty ? nil : s); return nil
        }
    }

    static func bool(_ name: String, _ set: @escaping @Sendable (inout RunConfiguration, Bool) -> Void) -> Key {
        Key(name: name) { c, v in
            guard let b = v.bool else { return "must be true or false" }
            set(&c, b); return nil
        }
    }

    static func integer(_ name: String, _ range: ClosedRange<Int>, _ set: @escaping @Sendable (inout RunConfiguration, Int) -> Void) -> Key {
        Key(name: name) { c, v in
            guard let i = v.int, range.contains(i) else {
                return "must be an integer from \(range.lowerBound) to \(range.upperBound)"
            }
            set(&c, i); return nil
        }
    }

    static func number(_ name: String, _ range: ClosedRange<Double>, _ set: @escaping @Sendable (inout RunConfiguration, Double) -> Void) -> Key {
        Key(name: name) { c, v in
            guard let d = v.double ?? v.int.map(Double.init), range.contains(d) else {
                return "must be a number from \(range.lowerBound) to \(range.upperBound)"
            }
            set(&c, d); return nil
        }
    }

    static func choice<E: RawRepresentable & CaseIterable>(_ name: String, _ set: @escaping @Sendable (inout RunConfiguration, E) -> Void) -> Key
    where E.RawValue == String {
        Key(name: name) { c, v in
            guard let s = v.string, let e = E(rawValue: s) else {
                return "must be one of " + E.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            }
            set(&c, e); return nil
        }
    }

    /// Every key Config/digitd.toml documents.
    static let keys: [Key] = [
        string("source") { $0.source = $1 },
        optionalString("model") { $0.model = $1 },
        bool("cascade") { $0.cascade = $1 },
        choice("log_level") { (c: inout RunConfiguration, v: LogLevel) in c.logLevel = v },
        bool("notify") { $0.notify = $1 },
        integer("camera.width", 16...8192) { $0.cameraWidth = $1 },
        integer("camera.height", 16...8192) { $0.cameraHeight = $1 },
        number("camera.fps", 1...240) { $0.cameraFrameRate = $1 },
        choice("camera.format") { (c: inout RunConfiguration, v: CameraFormatChoice) in c.cameraFormat = v },
        integer("camera.buffers", 2...32) { $0.cameraBuffers = $1 },
        bool("input.loop") { $0.loop = $1 },
        bool("input.realtime") { $0.realtime = $1 },
        number("input.fps", 1...240) { $0.inputFrameRate = $1 },
        choice("output.emit") { (c: inout RunConfiguration, v: EmitMode) in c.emit = v },
        optionalString("output.file") { $0.outputFile = $1 },
        bool("window.headless") { $0.headless = $1 },
        bool("window.fullscreen") { $0.fullscreen = $1 },
        string("window.snapshot_dir") { $0.snapshotDirectory = $1 },
        number("recognition.min_confidence", 0...1) { $0.minimumConfidence = Float($1) },
        bool("recognition.level_tilted_pages") { $0.levelTiltedPages = $1 },
        number("recognition.level_from", 0...34) { $0.levelFromDegrees = $1 },
        integer("recognition.threads", 1...64) { $0.networkThreads = $1 },
        number("recognition.max_fps", 0...240) { $0.maximumRecognitionRate = $1 },
        number("tracker.min_overlap", 0.01...1) { $0.tracker.minimumOverlap = $1 },
        number("tracker.smoothing", 0.01...1) { $0.tracker.smoothing = $1 },
        integer("tracker.stable_frames", 1...1000) { $0.tracker.stableFrames = $1 },
        number("tracker.min_confidence", 0...1) { $0.tracker.minimumConfidence = $1 },
        integer("tracker.max_missed_frames", 0...10000) { $0.tracker.maximumMissedFrames = $1 },
    ]

    /// Applies the settings in a TOML text on top of `self`; the first problem is thrown with its line.
    mutating func apply(toml text: String, path: String) throws(ConfigurationError) {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let e as TOMLParseError {
            throw ConfigurationError(path: path, line: e.source.begin.line, message: e.description)
        } catch {
            throw ConfigurationError(path: path, line: nil, message: "\(error)")
        }
        let lines = RunConfiguration.keyLines(text)
        let known = Dictionary(uniqueKeysWithValues: RunConfiguration.keys.map { ($0.name, $0) })
        let sections = Set(RunConfiguration.keys.compactMap { $0.name.split(separator: ".").count == 2 ? String($0.name.split(separator: ".")[0]) : nil })

        // Visit keys in file order, so the first problem reported is the first in the file.
        var entries: [(name: String, value: any TOMLValueConvertible)] = []
        for (key, value) in table {
            if let sub = value.table, sections.contains(key) {
                for (k, v) in sub { entries.append(("\(key).\(k)", v)) }
            } else {
                entries.append((key, value))
            }
        }
        entries.sort { (lines[$0.name] ?? Int.max, $0.name) < (lines[$1.name] ?? Int.max, $1.name) }
        for (name, value) in entries {
            guard let key = known[name] else {
                let hint = RunConfiguration.closest(to: name, in: Array(known.keys)).map { " (did you mean '\($0)'?)" } ?? ""
                throw ConfigurationError(path: path, line: lines[name], message: "unknown key '\(name)'\(hint)")
            }
            if let problem = key.apply(&self, value) {
                throw ConfigurationError(path: path, line: lines[name], message: "'\(name)' \(problem), not \(value)")
            }
        }
    }

    /// Reads and applies a config file.
    mutating func apply(file path: String) throws(ConfigurationError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(path: path, line: nil, message: "cannot read the config file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError(path: path, line: nil, message: "the config file is not UTF-8 text")
        }
        try apply(toml: text, path: path)
    }

    /// Line numbers (from 1) of `key = value` lines by dotted name, and of `[section]` headers.
    /// TOMLKit reports parse errors with lines but not where a well-formed key was; this is enough
    /// for the flat layout of digitd.toml (no dotted keys or inline tables).
    static func keyLines(_ text: String) -> [String: Int] {
        var result: [String: Int] = [:]
        var section = ""
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("#") || line.isEmpty { continue }
            if line.hasPrefix("[") {
                section = line.trimmingCharacters(in: CharacterSet(charactersIn: "[] \t"))
                    .split(separator: "#")[0].trimmingCharacters(in: .whitespaces)
                    .trimmingCharacters(in: CharacterSet(charactersIn: "[] \t\"'"))
                if result[section] == nil { result[section] = i + 1 }
                continue
            }
            guard let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq].trimmingCharacters(in: CharacterSet(charactersIn: " \t\"'"))
            let name = section.isEmpty ? key : "\(section).\(key)"
            if result[name] == nil { result[name] = i + 1 }
        }
        return result
    }

    /// The known key nearest to a misspelt one (edit distance at most 3).
    static func closest(to name: String, in candidates: [String]) -> String? {
        func distance(_ a: [Character], _ b: [Character]) -> Int {
            var row = Array(0...b.count)
            for i in 1...max(1, a.count) where !a.isEmpty {
                var prev = row[0]; row[0] = i
                for j in 1...max(1, b.count) where !b.isEmpty {
                    let old = row[j]
                    row[j] = min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1))
                    prev = old
                }
            }
            return a.isEmpty ? b.count : row[b.count]
        }
        let a = Array(name)
        let best = candidates.map { ($0, distance(a, Array($0))) }.min { ($0.1, $0.0) < ($1.1, $1.0) }
        return best.flatMap { $0.1 <= 3 ? $0.0 : nil }
    }
}
