import Foundation

/// A trained network on disk, in the safetensors layout (https://huggingface.co/docs/safetensors):
///
///     u64 little-endian N | N bytes of JSON header | raw little-endian float32 tensor data
///
/// The header maps each tensor name (`layers.<i>.<weight|bias|gamma|beta|running_mean|running_var>`)
/// to `{"dtype":"F32","shape":[...],"data_offsets":[begin,end]}` (offsets into the data section),
/// plus `"__metadata__"`, a string-to-string map holding:
/// - `format`: `digitd-cnn/1`
/// - `architecture`: the network spec (see `Network`), from which names and shapes are checked
/// - `classes`: `0123456789` or `0123456789N` (N = "not a digit")
/// - `input`: the preprocessing the network expects
/// - `training`: JSON describing how it was trained (command, epochs, augmentation, accuracy)
public struct Model {
    public static let formatTag = "digitd-cnn/1"
    public static let inputDescription =
        "28x28 float32, 0 = background, 1 = ink; digit fitted in 20x20 keeping aspect, centred by centre of mass (MNIST)"

    public let network: Network
    public var metadata: [String: String]

    public init(network: Network, metadata: [String: String] = [:]) {
        self.network = network
        self.metadata = metadata
    }

    /// A short error for a bad model file, naming the file; one line.
    public struct LoadError: Error, CustomStringConvertible {
        public let path: String, fault: String
        public var description: String { "\(path): \(fault)" }
    }

    // MARK: save

    public func write(to path: String) throws {
        var header: [String: Any] = [:]
        var offset = 0
        for e in network.parameterTable {
            let n = e.shape.reduce(1, *)
            header[e.name] = ["dtype": "F32", "shape": e.shape, "data_offsets": [offset, offset + 4 * n]] as [String: Any]
            offset += 4 * n
        }
        var meta = metadata
        meta["format"] = Model.formatTag
        meta["architecture"] = network.spec
        meta["input"] = Model.inputDescription
        if meta["classes"] == nil { meta["classes"] = network.classCount == 11 ? "0123456789N" : "0123456789" }
        header["__metadata__"] = meta
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }  // pad so tensor data is 8-byte aligned
        var out = Data()
        var len = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &len) { out.append(contentsOf: $0) }
        out.append(json)
        for e in network.parameterTable {
            let n = e.shape.reduce(1, *)
            out.append(UnsafeBufferPointer(start: network.values + e.offset, count: n))
        }
        let tmp = path + ".tmp"
        guard FileManager.default.createFile(atPath: tmp, contents: out) else {
            throw LoadError(path: path, fault: "cannot write (\(String(cString: strerror(errno))))")
        }
        _ = try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.moveItem(atPath: tmp, toPath: path)
    }

    // MARK: load

    public static func load(path: String) throws -> Model {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LoadError(path: path, fault: FileManager.default.fileExists(atPath: path) ? "cannot be read" : "no such model file")
        }
        return try parse([UInt8](data), path: path)
    }

    public static func parse(_ bytes: [UInt8], path: String) throws -> Model {
        func fail(_ s: String) -> LoadError { LoadError(path: path, fault: s) }
        guard bytes.count >= 8 else { throw fail("truncated: \(bytes.count) bytes, not a model file") }
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard n > 1, n < 100_000_000 else { throw fail("not a safetensors model (header length \(n))") }
        guard 8 + Int(n) <= bytes.count else { throw fail("truncated: header says \(n) bytes, file has \(bytes.count - 8)") }
        let headerBytes = Data(bytes[8 ..< 8 + Int(n)])
        guard let header = (try? JSONSerialization.jsonObject(with: headerBytes)) as? [String: Any] else {
            throw fail("corrupt header (not JSON)")
        }
        guard let meta = header["__metadata__"] as? [String: String] else { throw fail("no __metadata__ in header") }
        guard meta["format"] == formatTag else { throw fail("format is '\(meta["format"] ?? "none")', want '\(formatTag)'") }
        guard let arch = meta["architecture"] else { throw fail("no architecture in metadata") }
        let network: Network
        do { network = try Network(spec: arch) } catch { throw fail("bad architecture: \(error)") }
        let dataStart = 8 + Int(n)
        let dataCount = bytes.count - dataStart
        for e in network.parameterTable {
            guard let t = header[e.name] as? [String: Any] else { throw fail("missing tensor \(e.name)") }
            guard (t["dtype"] as? String) == "F32" else { throw fail("tensor \(e.name) is not F32") }
            guard let shape = t["shape"] as? [Int], shape == e.shape else {
                throw fail("tensor \(e.name) has shape \(t["shape"] ?? "none"), architecture wants \(e.shape)")
            }
            guard let off = t["data_offsets"] as? [Int], off.count == 2, off[0] >= 0, off[1] - off[0] == 4 * shape.reduce(1, *) else {
                throw fail("tensor \(e.name) has bad data_offsets")
            }
            guard off[1] <= dataCount else { throw fail("truncated: tensor \(e.name) ends past the end of the file") }
            bytes.withUnsafeBytes { raw in
                let src = raw.baseAddress! + dataStart + off[0]
                let count = shape.reduce(1, *)
                for i in 0..<count {
                    network.values[e.offset + i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                }
            }
        }
        let names = Set(network.parameterTable.map(\.name))
        if let extra = header.keys.first(where: { $0 != "__metadata__" && !names.contains($0) }) {
            throw fail("unexpected tensor \(extra) for architecture \(arch)")
        }
        for e in network.parameterTable {
            for i in 0..<e.shape.reduce(1, *) where !network.values[e.offset + i].isFinite {
                throw fail("tensor \(e.name) holds a non-finite value")
            }
        }
        return Model(network: network, metadata: meta)
    }

    /// A batched inference classifier (batch norm folded, dropout gone).
    public func makeClassifier() throws -> NetworkClassifier {
        NetworkClassifier(network: try network.foldedForInference())
    }
}

/// Batched inference over a folded network; one forward pass for all crops of a frame.
/// Not thread-safe: give each thread its own.
public final class NetworkClassifier: DigitClassifier {
    public let network: Network
    public var classCount: Int { network.classCount }
    public init(network: Network) { self.network = network }

    public func classify(_ inputs: UnsafeBufferPointer<Float>, count: Int,
                         into probabilities: UnsafeMutableBufferPointer<Float>) {
        precondition(inputs.count >= count * 784 && probabilities.count >= count * classCount)
        guard count > 0 else { return }
        let logits = network.forward(inputs.baseAddress!, count: count, training: false)
        SoftmaxCrossEntropy.softmax(logits.data, probabilities.baseAddress!, rows: count, classes: classCount)
    }
}

/// Where the shipped model is found when no --model is given, first hit wins:
/// `$DIGITD_MODEL`; `<exe>/../share/digitd/`; `/usr/local/share/digitd/`; `/usr/share/digitd/`;
/// the source checkout's `Models/` (for `swift run` and tests).
public enum DefaultModel {
    public static let fileName = "digitd-default.safetensors"

    public static var searchPaths: [String] {
        var paths: [String] = []
        if let env = ProcessInfo.processInfo.environment["DIGITD_MODEL"], !env.isEmpty { paths.append(env) }
        if let real = Bundle.main.executablePath {
            let dir = URL(fileURLWithPath: real).resolvingSymlinksInPath().deletingLastPathComponent()
            paths.append(dir.deletingLastPathComponent().appendingPathComponent("share/digitd/\(fileName)").path)
        }
        paths.append("/usr/local/share/digitd/\(fileName)")
        paths.append("/usr/share/digitd/\(fileName)")
        let source = URL(fileURLWithPath: #filePath)  // .../Sources/NeuralNet/ModelFile.swift
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        paths.append(source.appendingPathComponent("Models/\(fileName)").path)
        return paths
    }

    /// The first existing default model path, or nil.
    public static func path() -> String? {
        searchPaths.first { FileManager.default.fileExists(atPath: $0) }
    }

    /// The model for pictures: same network, trained on MNIST plus the pipeline's own crops of
    /// generated scenes. It ships beside the default model.
    public static let sceneFileName = "digitd-scene.safetensors"

    /// The scene model beside the default model at `defaultPath` (or the one found), if it exists.
    public static func scenePath(besideDefault defaultPath: String? = path()) -> String? {
        guard let d = defaultPath else { return nil }
        let p = ((d as NSString).deletingLastPathComponent as NSString).appendingPathComponent(sceneFileName)
        return FileManager.default.fileExists(atPath: p) ? p : nil
    }
}
