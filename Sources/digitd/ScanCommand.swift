import ArgumentParser
import Foundation
import Imaging
import NeuralNet
import Recognition
import Vision

extension Digitd {
    struct Scan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "scan",
            abstract: "Read the digits and numbers in photos and scans.",
            discussion: """
            Reads JPEG, PNG, PGM and PPM files. Prints a summary per image, or with --json one JSON \
            object per line: source, frame, width, height, detections [box, digit, confidence], \
            numbers [value, box, confidence], latency_ms (pipeline and network, decoding excluded). \
            A file that cannot be read is reported on stderr; the others are still read, and the \
            exit status is 1.
            """)

        @Argument(help: "Image files.")
        var images: [String]

        @Flag(help: "One JSON object per image, one per line.")
        var json = false

        @Option(help: "Write the image with boxes, digits and numbers drawn on it (a file for one image, else a directory).")
        var annotate: String?

        @Option(help: "Write each 28x28 network input with its prediction, and the ink mask, into this directory.")
        var crops: String?

        @Flag(help: "Print the time of each pipeline stage.")
        var timings = false

        @OptionGroup var modelOptions: ModelOptions

        @Option(help: "Ink polarity: automatic, darkOnLight or lightOnDark.")
        var polarity: InkPolarity = .automatic

        @Option(help: "Least probability for a digit to be reported (0...1).")
        var minConfidence: Float = RecognizerOptions().minimumConfidence

        @OptionGroup var leveling: LevelingOptions

        func validate() throws {
            guard (0...1).contains(minConfidence) else { throw ValidationError("--min-confidence must be within 0...1") }
        }

        func run() async throws {
            let classifier = try modelOptions.loadClassifier(for: .pictures)
            var options = RecognizerOptions()
            options.polarity = polarity
            options.minimumConfidence = minConfidence
            leveling.apply(to: &options)
            options.keepDebugImages = crops != nil
            let recognizer = Recognizer(classifier: classifier, options: options)
            if let dir = crops { try ScanSupport.makeDirectory(dir) }
            if let a = annotate, images.count > 1 { try ScanSupport.makeDirectory(a) }

            var failures = 0
            for (index, path) in images.enumerated() {
                do {
                    let decodeStart = StageClock.nowMilliseconds()
                    let gray = try loadGrayImage(path: path)
                    let decodeMs = StageClock.nowMilliseconds() - decodeStart
                    let start = StageClock.nowMilliseconds()
                    let reading = recognizer.read(gray)
                    let latency = StageClock.nowMilliseconds() - start
                    if json {
                        ScanSupport.printLine(ScanSupport.jsonLine(source: path, frame: index, reading: reading, latencyMs: latency,
                                                                   timings: timings ? reading.timings : nil, decodeMs: timings ? decodeMs : nil))
                    } else {
                        ScanSupport.printLine(ScanSupport.summary(source: path, reading: reading, latencyMs: latency,
                                                                  timings: timings ? reading.timings : nil, decodeMs: decodeMs))
                    }
                    if let a = annotate {
                        let out = images.count > 1 ? (a as NSString).appendingPathComponent(ScanSupport.stem(path) + ".annotated.png") : a
                        try saveImage(ScanSupport.annotate(gray, reading), path: out)
                    }
                    if let dir = crops, let debug = reading.debug {
                        try saveImage(debug.binary, path: (dir as NSString).appendingPathComponent(ScanSupport.stem(path) + "-mask.png"))
                        for (k, c) in debug.candidates.enumerated() {
                            let name = String(format: "%@-%03d-%d-%.2f%@.png", ScanSupport.stem(path), k, c.digit, c.confidence, c.accepted ? "" : "-rejected")
                            try saveImage(c.cropImage, path: (dir as NSString).appendingPathComponent(name))
                        }
                    }
                } catch {
                    failures += 1
                    ScanSupport.printError("\(error)")
                }
            }
            if failures > 0 { throw ExitCode(1) }
        }
    }
}

extension InkPolarity: ExpressibleByArgument {}

/// Helpers shared by `scan`, `synth` and the vision benchmark.
enum ScanSupport {
    static func makeDirectory(_ path: String) throws {
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        catch { throw CommandError("\(path): cannot create directory: \(error.localizedDescription)") }
    }

    static func stem(_ path: String) -> String {
        ((path as NSString).lastPathComponent as NSString).deletingPathExtension
    }

    /// Writes a line to stdout and flushes it at once (scripts read line by line).
    static func printLine(_ s: String) {
        FileHandle.standardOutput.write((s + "\n").data(using: .utf8)!)
    }

    static func printError(_ s: String) {
        FileHandle.standardError.write(("digitd: " + s + "\n").data(using: .utf8)!)
    }

    /// A JSON string literal.
    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }

    static func number(_ v: Double, decimals: Int) -> String {
        var s = String(format: "%.\(decimals)f", v)
        if s.contains(".") { while s.hasSuffix("0") { s.removeLast() }; if s.hasSuffix(".") { s.removeLast() } }
        return s
    }

    static func box(_ b: Box) -> String { "[\(b.x),\(b.y),\(b.width),\(b.height)]" }

    /// One line of the scan/run JSON contract (DESIGN.md), keys in the documented order.
    static func jsonLine(source: String, frame: Int, reading: FrameReading, latencyMs: Double,
                         timings: [(stage: String, ms: Double)]? = nil, decodeMs: Double? = nil) -> String {
        let detections = reading.detections.map {
            "{\"box\":\(box($0.box)),\"digit\":\($0.digit),\"confidence\":\(number(Double($0.confidence), decimals: 3))}"
        }.joined(separator: ",")
        let numbers = reading.numbers.map {
            "{\"value\":\(quote($0.value)),\"box\":\(box($0.box)),\"confidence\":\(number(Double($0.confidence), decimals: 3))}"
        }.joined(separator: ",")
        var line = "{\"source\":\(quote(source)),\"frame\":\(frame),\"width\":\(reading.width),\"height\":\(reading.height),"
            + "\"detections\":[\(detections)],\"numbers\":[\(numbers)],\"latency_ms\":\(number(latencyMs, decimals: 2))"
        if let d = decodeMs { line += ",\"decode_ms\":\(number(d, decimals: 2))" }
        if let t = timings {
            line += ",\"stages_ms\":{" + t.map { "\(quote($0.stage)):\(number($0.ms, decimals: 3))" }.joined(separator: ",") + "}"
        }
        return line + "}"
    }

    static func summary(source: String, reading: FrameReading, latencyMs: Double,
                        timings: [(stage: String, ms: Double)]?, decodeMs: Double) -> String {
        var s = "\(source): \(reading.width)x\(reading.height), \(reading.detections.count) digit\(reading.detections.count == 1 ? "" : "s")"
        s += String(format: ", %.1f ms", latencyMs)
        if reading.numbers.isEmpty {
            s += ", no numbers"
        } else {
            s += "\n  numbers: " + reading.numbers.map { "\($0.value) (\(number(Double($0.confidence), decimals: 2)))" }.joined(separator: ", ")
        }
        for d in reading.detections {
            s += "\n  \(d.digit)  \(number(Double(d.confidence), decimals: 3))  at [\(d.box.x), \(d.box.y), \(d.box.width), \(d.box.height)]"
        }
        if let t = timings {
            s += "\n  stages: " + ([("decode", decodeMs)] + t.map { ($0.stage, $0.ms) }).map { String(format: "%@ %.2f ms", $0.0, $0.1) }.joined(separator: ", ")
        }
        return s
    }

    /// The picture with digit boxes (green, digit and confidence above) and number boxes
    /// (blue, value below) drawn on it.
    static func annotate(_ gray: GrayImage, _ reading: FrameReading) -> RGBImage {
        var rgb = gray.rgb()
        let scale = max(1, min(gray.width, gray.height) / 400)
        for n in reading.numbers where n.value.count > 1 {
            let b = Box(x: n.box.x - 3 * scale, y: n.box.y - 3 * scale, width: n.box.width + 6 * scale, height: n.box.height + 6 * scale)
            rgb.drawRectangle(b, color: (40, 90, 255), thickness: scale)
            rgb.drawText(n.value, x: b.x, y: b.maxY + 2 * scale, scale: scale + 1, color: (255, 255, 255), background: (40, 90, 255))
        }
        for d in reading.detections {
            rgb.drawRectangle(d.box, color: (0, 200, 0), thickness: scale)
            let label = "\(d.digit) " + String(format: "%.2f", d.confidence)
            rgb.drawText(label, x: d.box.x, y: d.box.y - 9 * scale - 2, scale: scale, color: (0, 0, 0), background: (120, 255, 120))
        }
        return rgb
    }
}
