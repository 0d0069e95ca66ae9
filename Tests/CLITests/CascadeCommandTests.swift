import Foundation
import Testing

/// The cascade as a user meets it: on by default with the shipped models, off with
/// --no-cascade, a bad screen model is a one-line error.
struct CascadeCommandTests {
    static let fixture = EngineCommandTests.fixture
    let tmp: String = {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("digitd-cascade-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }()

    func run(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
        let p = try RunningDigitd(args)
        let status = try #require(p.wait(timeout: 300), "digitd \(args.joined(separator: " ")) did not finish")
        return (status, p.output, p.errors)
    }

    func evalJSON(_ extra: [String]) throws -> [String: Any] {
        let r = try run(["eval", "--json", "--images", Self.fixture + "/t10k-images-idx3-ubyte.gz",
                         "--labels", Self.fixture + "/t10k-labels-idx1-ubyte.gz"] + extra)
        #expect(r.status == 0, "\(r.err)")
        return try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
    }

    @Test func evalUsesTheCascadeByDefaultAndTheFullModelWithNoCascade() throws {
        let cascade = try evalJSON([])
        #expect(cascade["cascade"] as? Bool == true)
        let escalated = try #require(cascade["escalated_fraction"] as? Double)
        #expect(escalated > 0 && escalated < 0.3, "escalated \(escalated)")
        #expect((cascade["accuracy"] as? Double ?? 0) >= 0.996)
        let alone = try evalJSON(["--no-cascade"])
        #expect(alone["cascade"] as? Bool == false && alone["escalated_fraction"] == nil)
        #expect((alone["accuracy"] as? Double ?? 0) >= 0.996)
        // Threshold 0: the screen is always sure, so nothing is escalated (the screen alone).
        let screenOnly = try evalJSON(["--cascade-threshold", "0"])
        #expect(screenOnly["escalated_fraction"] as? Double == 0)
    }

    @Test func aCorruptScreenModelIsOneLine() throws {
        FileManager.default.createFile(atPath: tmp + "/s.safetensors", contents: Data(repeating: 0x41, count: 100))
        let r = try run(["eval", "--screen-model", tmp + "/s.safetensors", "--images", Self.fixture + "/t10k-images-idx3-ubyte.gz",
                         "--labels", Self.fixture + "/t10k-labels-idx1-ubyte.gz"])
        #expect(r.status != 0)
        #expect(r.err.split(separator: "\n").count == 1 && r.err.contains(tmp + "/s.safetensors: "), "stderr: \(r.err)")
    }
}
