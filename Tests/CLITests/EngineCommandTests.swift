import Foundation
import Testing

/// `digitd eval`, `train`, `fetch` and `bench` as a user runs them: output shape, and one-line
/// errors with a non-zero exit for bad input.
final class EngineCommandTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/mnist").path
    let tmp: String = {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("digitd-cli-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }()
    deinit { try? FileManager.default.removeItem(atPath: tmp) }

    func run(_ args: [String], timeout: Double = 300) throws -> (status: Int32, out: String, err: String) {
        let p = try RunningDigitd(args)
        let status = try #require(p.wait(timeout: timeout), "digitd \(args.joined(separator: " ")) did not finish")
        return (status, p.output, p.errors)
    }

    func expectOneLineError(_ r: (status: Int32, out: String, err: String), mentioning fragment: String) {
        #expect(r.status != 0)
        let lines = r.err.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(r.err)")
        #expect(r.err.contains(fragment), "stderr: \(r.err)")
        #expect(!r.err.contains("Fatal error") && !r.err.contains("Stack dump"))
    }

    @Test func evalJSONCarriesTheContractFields() throws {
        let r = try run(["eval", "--json", "--images", Self.fixture + "/t10k-images-idx3-ubyte.gz",
                         "--labels", Self.fixture + "/t10k-labels-idx1-ubyte.gz", "--confusion-png", tmp + "/c.png"])
        #expect(r.status == 0, "\(r.err)")
        let lines = r.out.split(separator: "\n")
        #expect(lines.count == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        let accuracy = try #require(object["accuracy"] as? Double)
        #expect(accuracy >= 0.996 && accuracy <= 1)
        let confusion = try #require(object["confusion"] as? [[Int]])
        #expect(confusion.count == 10 && confusion.allSatisfy { $0.count == 10 })
        #expect(confusion.joined().reduce(0, +) == 10000)
        for key in ["precision", "recall", "f1"] { #expect((object[key] as? [Double])?.count == 10, "\(key)") }
        #expect(FileManager.default.fileExists(atPath: tmp + "/c.png"))
    }

    @Test func evalOfACorruptIDXFileIsOneLine() throws {
        FileManager.default.createFile(atPath: tmp + "/bad.idx", contents: Data([1, 2, 3, 4, 5, 6, 7, 8]))
        let r = try run(["eval", "--images", tmp + "/bad.idx", "--labels", Self.fixture + "/t10k-labels-idx1-ubyte.gz"])
        expectOneLineError(r, mentioning: tmp + "/bad.idx: wrong magic number")
    }

    @Test func evalWithACorruptModelIsOneLine() throws {
        FileManager.default.createFile(atPath: tmp + "/m.safetensors", contents: Data(repeating: 0x41, count: 100))
        let r = try run(["eval", "--model", tmp + "/m.safetensors", "--images", Self.fixture + "/t10k-images-idx3-ubyte.gz",
                         "--labels", Self.fixture + "/t10k-labels-idx1-ubyte.gz"])
        expectOneLineError(r, mentioning: tmp + "/m.safetensors: ")
    }

    @Test func trainWithoutDataSaysHowToFetchIt() throws {
        let r = try run(["train", "--data", tmp + "/nothing-here", "--out", tmp + "/m.safetensors"])
        expectOneLineError(r, mentioning: "digitd fetch")
    }

    @Test func aShortTrainRunWritesModelCheckpointHistoryAndCurves() throws {
        // the test fixture stands in for a training set: 10,000 images, 2,000 held out
        let data = tmp + "/data"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.fixture + "/t10k-images-idx3-ubyte.gz", toPath: data + "/train-images-idx3-ubyte.gz")
        try FileManager.default.copyItem(atPath: Self.fixture + "/t10k-labels-idx1-ubyte.gz", toPath: data + "/train-labels-idx1-ubyte.gz")
        let out = tmp + "/small.safetensors"
        let r = try run(["train", "--data", data, "--out", out, "--epochs", "1", "--holdout", "2000",
                         "--arch", "conv8k3p1,bn,relu,pool2,flatten,dense11"], timeout: 600)
        #expect(r.status == 0, "\(r.err)")
        #expect(r.err.contains("epoch 1: loss") && r.err.contains("validation"))
        for suffix in [".safetensors", ".safetensors.ckpt", ".history.json", ".curves.png"] {
            #expect(FileManager.default.fileExists(atPath: tmp + "/small" + suffix), "missing small\(suffix)")
        }
        let history = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: tmp + "/small.history.json"))) as? [[String: Any]]
        let validation = try #require(history?.first?["validationAccuracy"] as? Double)
        #expect(validation > 0.8, "validation accuracy \(validation) after one epoch")
        // --resume with all epochs done finishes at once
        let again = try run(["train", "--data", data, "--out", out, "--epochs", "1", "--holdout", "2000",
                             "--arch", "conv8k3p1,bn,relu,pool2,flatten,dense11", "--resume"])
        #expect(again.status == 0 && again.err.contains("resuming after epoch 1"), "\(again.err)")
    }

    /// A raw IDX pair of `count` 28x28 crops (a bar of ink) labelled `label`.
    private func writeCrops(_ name: String, count: Int, label: UInt8, rows: Int = 28) throws -> (images: String, labels: String) {
        func header(_ magic: UInt8, _ dims: [Int]) -> [UInt8] {
            [0, 0, 8, magic] + dims.flatMap { d in [24, 16, 8, 0].map { UInt8((d >> $0) & 255) } }
        }
        var image = [UInt8](repeating: 0, count: rows * 28)
        for y in 4..<(rows - 4) { image[y * 28 + 13] = 255; image[y * 28 + 14] = 255 }
        let images = tmp + "/\(name)-images.idx", labels = tmp + "/\(name)-labels.idx"
        try Data(header(3, [count, rows, 28]) + (0..<count).flatMap { _ in image }).write(to: URL(fileURLWithPath: images))
        try Data(header(1, [count]) + [UInt8](repeating: label, count: count)).write(to: URL(fileURLWithPath: labels))
        return (images, labels)
    }

    @Test func severalExtraSetsJoinTheTrainingPart_andBadOnesAreOneLine() throws {
        let data = tmp + "/data"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.fixture + "/t10k-images-idx3-ubyte.gz", toPath: data + "/train-images-idx3-ubyte.gz")
        try FileManager.default.copyItem(atPath: Self.fixture + "/t10k-labels-idx1-ubyte.gz", toPath: data + "/train-labels-idx1-ubyte.gz")
        let a = try writeCrops("a", count: 30, label: 10), b = try writeCrops("b", count: 12, label: 1)
        let base = ["train", "--data", data, "--out", tmp + "/x.safetensors", "--epochs", "1", "--holdout", "9000",
                    "--arch", "flatten,dense11"]
        let r = try run(base + ["--extra-images", a.images, "--extra-labels", a.labels,
                                "--extra-images", b.images, "--extra-labels", b.labels])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.err.contains("+ 42 extra"), "\(r.err)")
        // a usage error: ArgumentParser's first line says what is wrong, then the usage, exit 64
        let unpaired = try run(base + ["--extra-images", a.images, "--extra-labels", a.labels, "--extra-images", b.images])
        #expect(unpaired.status == 64)
        #expect(unpaired.err.hasPrefix("Error: --extra-images and --extra-labels go together"), "\(unpaired.err)")
        let tall = try writeCrops("tall", count: 3, label: 2, rows: 32)
        expectOneLineError(try run(base + ["--extra-images", tall.images, "--extra-labels", tall.labels]),
                           mentioning: tall.images + ": 32x28 images")
    }

    @Test func synthDrawsDigitsOfTheHeightAskedFor_andRefusesABadRange() throws {
        let r = try run(["synth", "--out", tmp + "/small", "--count", "1", "--seed", "2", "--digit-height", "0.03-0.05"])
        #expect(r.status == 0, "\(r.err)")
        let truth = try String(contentsOfFile: tmp + "/small/truth.jsonl", encoding: .utf8)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(truth.utf8)) as? [String: Any])
        let digits = try #require(object["digits"] as? [[String: Any]])
        #expect(!digits.isEmpty)
        for d in digits {
            let box = try #require(d["box"] as? [Int])
            #expect(box[3] <= 40, "a digit \(box[3]) pixels tall on a page asked for 0.03-0.05 of 720 or 480")
        }
        for bad in ["0.1", "0.2-0.1", "0-0.1", "0.1-0.9", "a-b"] {
            try expectUsageError(["synth", "--score", "1", "--digit-height", bad], saying: "Error: --digit-height wants MIN-MAX")
        }
    }

    /// A usage error: ArgumentParser's "Error: ..." line, then the usage hint; exit 64, nothing
    /// on stdout, no crash.
    private func expectUsageError(_ arguments: [String], saying prefix: String) throws {
        let e = try run(arguments)
        #expect(e.status == 64, "\(arguments): \(e.err)")
        #expect(e.err.split(separator: "\n").first?.hasPrefix(prefix) == true, "\(e.err)")
        #expect(e.out.isEmpty && !e.err.contains("Fatal error"))
    }

    @Test(arguments: [
        ("--stroke-gamma", ["2", "3-1.6", "0-2", "1-9", "x-2"], "Error: --stroke-gamma wants MIN-MAX", "1.6-3.5"),
        ("--boxes", ["-0.1", "1.5", "x"], "Error:", "1"),
        ("--ink-contrast", ["0.5", "0.6-0.2", "0-0.5", "0.5-1.5", "x-1"], "Error: --ink-contrast wants MIN-MAX", "0.3-0.3"),
        ("--defocus", ["1", "2-1", "0-1", "1-9", "a-b"], "Error: --defocus wants MIN-MAX", "1.5-1.5"),
        ("--page-rotation", ["46", "x"], "Error:", "20"),
        ("--level-from", ["35", "-1", "x"], "Error:", "0"),
    ])
    func synthRefusesABadSceneOption_andScoresAGoodOne(option: String, bad: [String], message: String, good: String) throws {
        for value in bad { try expectUsageError(["synth", "--score", "1", option, value], saying: message) }
        let r = try run(["synth", "--score", "2", "--seed", "3", "--json", option, good])
        #expect(r.status == 0, "\(r.err)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        #expect(object["f1"] != nil, "\(r.out)")
    }

    @Test func helpTeachesTheMainOptions() throws {
        let train = try run(["train", "--help"]).out
        for option in ["--data", "--epochs", "--resume", "--holdout", "--arch", "digitd fetch"] {
            #expect(train.contains(option), "train --help lacks \(option)")
        }
        let eval = try run(["eval", "--help"]).out
        for option in ["--images", "--labels", "--json", "--model", "--robustness"] {
            #expect(eval.contains(option), "eval --help lacks \(option)")
        }
    }
}
