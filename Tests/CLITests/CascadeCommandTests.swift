import Foundation
import Testing

/// The cascade as a user meets it: on by default with the shipped models, off with
/// --no-cascade, a bad screen model is a one-line error.
final class CascadeCommandTests {
    static let fixture = EngineCommandTests.fixture
    let tmp: String = {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("digitd-cascade-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }()
    deinit { try? FileManager.default.removeItem(atPath: tmp) }

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

    @Test func aSecondOpinionModelIsAveragedIn_andACorruptOneIsOneLine() throws {
        let images = Self.fixture + "/t10k-images-idx3-ubyte.gz", labels = Self.fixture + "/t10k-labels-idx1-ubyte.gz"
        FileManager.default.createFile(atPath: tmp + "/o.safetensors", contents: Data(repeating: 0x41, count: 100))
        let bad = try run(["eval", "--second-opinion", tmp + "/o.safetensors", "--images", images, "--labels", labels])
        #expect(bad.status != 0)
        #expect(bad.err.split(separator: "\n").count == 1 && bad.err.contains(tmp + "/o.safetensors"), "stderr: \(bad.err)")
        // the default model as its own second opinion: the mean of two equal answers is the answer
        let models = URL(fileURLWithPath: Self.fixture).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Models").path
        let same = try run(["eval", "--json", "--second-opinion", models + "/digitd-default.safetensors", "--images", images, "--labels", labels])
        let plain = try run(["eval", "--json", "--images", images, "--labels", labels])
        #expect(same.status == 0 && plain.status == 0, "stderr: \(same.err)")
        let a = try #require(try JSONSerialization.jsonObject(with: Data(same.out.utf8)) as? [String: Any])
        let b = try #require(try JSONSerialization.jsonObject(with: Data(plain.out.utf8)) as? [String: Any])
        #expect(a["accuracy"] as? Double == b["accuracy"] as? Double)
    }

    @Test func picturesUseTheSceneModelBesideTheDefaultAndDigitsTheDefault() throws {
        // A copy of the shipped models whose scene model is corrupt: commands that read pictures
        // must pick it (and fail, naming it); eval reads MNIST digits with the default model.
        let models = URL(fileURLWithPath: Self.fixture).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Models").path
        for name in ["digitd-default.safetensors", "digitd-screen.safetensors"] {
            try FileManager.default.copyItem(atPath: models + "/" + name, toPath: tmp + "/" + name)
        }
        FileManager.default.createFile(atPath: tmp + "/digitd-scene.safetensors", contents: Data(repeating: 0x41, count: 100))
        let env = ["DIGITD_MODEL": tmp + "/digitd-default.safetensors"]
        let page = tmp + "/page.pgm"
        FileManager.default.createFile(atPath: page, contents: Data("P5 64 48 255\n".utf8) + Data(repeating: 200, count: 64 * 48))
        let scan = try RunningDigitd(["scan", page], environment: env)
        #expect(try #require(scan.wait(timeout: 120)) != 0)
        #expect(scan.errors.contains(tmp + "/digitd-scene.safetensors"), "stderr: \(scan.errors)")
        // (one blank 28x28 image, label 0, raw IDX: the model choice is what is tested)
        FileManager.default.createFile(atPath: tmp + "/i.idx", contents: Data([0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 28, 0, 0, 0, 28] + [UInt8](repeating: 0, count: 784)))
        FileManager.default.createFile(atPath: tmp + "/l.idx", contents: Data([0, 0, 8, 1, 0, 0, 0, 1, 0]))
        let eval = try RunningDigitd(["eval", "--images", tmp + "/i.idx", "--labels", tmp + "/l.idx"], environment: env)
        #expect(try #require(eval.wait(timeout: 120)) == 0, "stderr: \(eval.errors)")
    }

    @Test func theSceneModelTakesItsOwnScreen_andEvalTheDefaultScreen() throws {
        // Good full models, a corrupt scene screen: pictures must pick it (and fail, naming it);
        // eval keeps digitd-screen.safetensors.
        let models = URL(fileURLWithPath: Self.fixture).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Models").path
        for name in ["digitd-default.safetensors", "digitd-screen.safetensors", "digitd-scene.safetensors"] {
            try FileManager.default.copyItem(atPath: models + "/" + name, toPath: tmp + "/" + name)
        }
        let sceneScreen = tmp + "/digitd-scene-screen.safetensors"
        FileManager.default.createFile(atPath: sceneScreen, contents: Data(repeating: 0x41, count: 100))
        let env = ["DIGITD_MODEL": tmp + "/digitd-default.safetensors"]
        let page = tmp + "/page.pgm"
        FileManager.default.createFile(atPath: page, contents: Data("P5 64 48 255\n".utf8) + Data(repeating: 200, count: 64 * 48))
        let scan = try RunningDigitd(["scan", page], environment: env)
        #expect(try #require(scan.wait(timeout: 120)) != 0)
        #expect(scan.errors.contains(sceneScreen), "stderr: \(scan.errors)")
        FileManager.default.createFile(atPath: tmp + "/i.idx", contents: Data([0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 28, 0, 0, 0, 28] + [UInt8](repeating: 0, count: 784)))
        FileManager.default.createFile(atPath: tmp + "/l.idx", contents: Data([0, 0, 8, 1, 0, 0, 0, 1, 0]))
        let eval = try RunningDigitd(["eval", "--images", tmp + "/i.idx", "--labels", tmp + "/l.idx"], environment: env)
        #expect(try #require(eval.wait(timeout: 120)) == 0, "stderr: \(eval.errors)")
        // without its own screen, the scene model falls back to the default screen
        try FileManager.default.removeItem(atPath: sceneScreen)
        let fallback = try RunningDigitd(["scan", page], environment: env)
        #expect(try #require(fallback.wait(timeout: 120)) == 0, "stderr: \(fallback.errors)")
    }
}
