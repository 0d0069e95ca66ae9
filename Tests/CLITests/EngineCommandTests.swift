import Foundation
import Testing

/// `digitd eval`, `train`, `fetch` and `bench` as a user runs them: output shape, and one-line
/// errors with a non-zero exit for bad input.
struct EngineCommandTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/mnist").path
    let tmp: String = {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("digitd-cli-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }()

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
