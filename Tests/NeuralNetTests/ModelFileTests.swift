import Foundation
import Testing
@testable import NeuralNet

struct ModelFileTests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("digitd-model-\(getpid())").path
    let spec = "conv4k3p1,bn,relu,pool2,conv6k3,bn,relu,flatten,dense16,bn,relu,drop0.2,dense11"

    init() throws { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }

    /// A network whose batch-norm statistics are not the identity, so folding is really tested.
    func trainedLookingNetwork(seed: UInt64 = 2) throws -> Network {
        let net = try Network(spec: spec)
        net.initialise(seed: seed)
        var rng = RandomSource(seed: seed)
        for e in net.parameterTable where e.name.hasSuffix("running_mean") || e.name.hasSuffix("running_var") || e.name.hasSuffix("beta") {
            for i in 0..<e.shape.reduce(1, *) {
                net.values[e.offset + i] = e.name.hasSuffix("running_var") ? rng.uniform(0.5, 2) : rng.normal() * 0.3
            }
        }
        return net
    }

    func images(_ n: Int) -> [Float] { var r = RandomSource(seed: 77); return (0..<(n * 784)).map { _ in r.uniform() } }

    @Test func saveThenLoadGivesTheSameWeightsAndOutputs() throws {
        let net = try trainedLookingNetwork()
        let path = dir + "/m.safetensors"
        try Model(network: net, metadata: ["training": "{}"]).write(to: path)
        let loaded = try Model.load(path: path)
        #expect(loaded.network.spec == spec)
        #expect(loaded.metadata["format"] == Model.formatTag && loaded.metadata["classes"] == "0123456789N")
        #expect(Array(UnsafeBufferPointer(start: loaded.network.values, count: net.parameterCount))
                == Array(UnsafeBufferPointer(start: net.values, count: net.parameterCount)))
        let x = images(3)
        let a = net.forward(x, count: 3, training: false).values
        let b = loaded.network.forward(x, count: 3, training: false).values
        #expect(a == b)
    }

    @Test func foldedBatchNormGivesTheSameOutputsAsEvalMode() throws {
        let net = try trainedLookingNetwork()
        let folded = try net.foldedForInference()
        #expect(!folded.layers.contains { $0 is BatchNorm || $0 is Dropout })
        let x = images(5)
        let a = net.forward(x, count: 5, training: false).values
        let b = folded.forward(x, count: 5, training: false).values
        for i in a.indices { #expect(abs(a[i] - b[i]) <= 1e-4 * max(1, abs(a[i])), "logit \(i): \(a[i]) vs \(b[i])") }
    }

    @Test(arguments: [128 * 1024, 360, 1])
    func convolutionMatchesANaiveDirectConvolution(columnBudget: Int) throws {
        let conv = Conv2D(inChannels: 2, outChannels: 3, kernel: 3, padding: 1)
        conv.inferenceColumnBudget = columnBudget   // 360 floats = one image per chunk
        var rng = RandomSource(seed: 1)
        var w = (0..<54).map { _ in rng.normal() }, b = [Float](arrayLiteral: 0.1, -0.2, 0.3)
        var gw = [Float](repeating: 0, count: 54), gb = [Float](repeating: 0, count: 3)
        let (n, h, wd) = (3, 5, 4)
        let x = Tensor(shape: [2, n, h, wd], values: (0..<(2 * n * h * wd)).map { _ in rng.normal() })
        let y = w.withUnsafeMutableBufferPointer { wp in b.withUnsafeMutableBufferPointer { bp in
            gw.withUnsafeMutableBufferPointer { gwp in gb.withUnsafeMutableBufferPointer { gbp in
                conv.bind(values: [wp.baseAddress!, bp.baseAddress!], gradients: [gwp.baseAddress!, gbp.baseAddress!])
                return conv.forward(x, training: false).values
            } }
        } }
        for k in 0..<3 { for bi in 0..<n { for oy in 0..<h { for ox in 0..<wd {
            var s = b[k]
            for c in 0..<2 { for ky in 0..<3 { for kx in 0..<3 {
                let iy = oy + ky - 1, ix = ox + kx - 1
                guard iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
                s += w[((k * 2 + c) * 3 + ky) * 3 + kx] * x[((c * n + bi) * h + iy) * wd + ix]
            } } }
            let got = y[((k * n + bi) * h + oy) * wd + ox]
            #expect(abs(got - s) < 1e-4, "y[\(k),\(bi),\(oy),\(ox)] = \(got), naive \(s)")
        } } } }
    }

    func expectLoadError(_ bytes: [UInt8], containing fragment: String) {
        let path = dir + "/bad-\(fragment.hashValue).safetensors"
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        do {
            _ = try Model.load(path: path)
            Issue.record("loading should fail with '\(fragment)'")
        } catch let e as Model.LoadError {
            #expect(e.description.hasPrefix(path + ": "))
            #expect(e.description.contains(fragment), "\(e.description)")
            #expect(!e.description.contains("\n"))
        } catch { Issue.record("unexpected error \(error)") }
    }

    func savedBytes() throws -> [UInt8] {
        let path = dir + "/good-\(UUID().uuidString).safetensors"
        try Model(network: try trainedLookingNetwork()).write(to: path)
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    @Test func truncatedModelFileIsRejected() throws {
        let b = try savedBytes()
        expectLoadError(Array(b.prefix(b.count - 10)), containing: "truncated")
        expectLoadError(Array(b.prefix(5)), containing: "truncated")
    }

    @Test func corruptHeaderIsRejected() throws {
        var b = try savedBytes()
        b[8] = 0x78   // "x" where the JSON object opens
        expectLoadError(b, containing: "corrupt header")
    }

    @Test func shapeMismatchNamesTheTensor() throws {
        let b = try savedBytes()
        var text = String(decoding: b, as: UTF8.self)
        // claim a different architecture: the first conv with 5 filters instead of 4
        text = text.replacingOccurrences(of: "conv4k3p1", with: "conv5k3p1")
        expectLoadError([UInt8](text.utf8), containing: "layers.0.weight")
    }

    @Test func nonFiniteWeightsAreRejected() throws {
        var b = try savedBytes()
        let n = Int(b[0]) | Int(b[1]) << 8
        let nan = Float.nan.bitPattern
        for i in 0..<4 { b[8 + n + i] = UInt8(truncatingIfNeeded: nan >> (8 * UInt32(i))) }
        expectLoadError(b, containing: "non-finite")
    }

    @Test func emptyFileAndMissingFileAreRejected() {
        expectLoadError([], containing: "truncated")
        #expect(throws: Model.LoadError.self) { try Model.load(path: dir + "/does-not-exist") }
    }

    @Test func specErrorsAreOneLine() {
        #expect(throws: NetworkError("spec: unknown layer 'conv'")) { try Network(spec: "conv,dense10") }
        #expect(throws: NetworkError.self) { try Network(spec: "conv8k3,relu") }
    }

    @Test func multiplyAddsAndParametersOfTheShippedArchitecture() throws {
        let net = try Network(spec: "conv32k3p1,bn,relu,pool2,conv64k3p1,bn,relu,pool2,conv64k3,bn,relu,flatten,dense128,bn,relu,drop0.3,dense11")
        // 28*28*9*32 + 14*14*288*64 + 5*5*576*64 + 1600*128 + 128*11
        #expect(net.multiplyAdds == 225_792 + 3_612_672 + 921_600 + 204_800 + 1_408)
        #expect(net.multiplyAdds <= 5_000_000)
    }
}
