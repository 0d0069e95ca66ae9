import Foundation
import Testing
@testable import digitd

struct FetchTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/mnist").path

    @Test func checksumsOfTheUncompressedFixtureMatchTheKnownMNISTSums() throws {
        for name in ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] {
            let expected = try #require(Digitd.Fetch.files.first { $0.name == name }?.sha256)
            #expect(try Digitd.Fetch.sha256(ofUncompressed: Self.fixture + "/" + name + ".gz") == expected)
        }
    }

    @Test func aDamagedFileDoesNotPassTheCheck() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("digitd-fetch-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.fixture + "/t10k-labels-idx1-ubyte.gz")))
        bytes = Array(bytes.prefix(bytes.count - 100))
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        #expect((try? Digitd.Fetch.sha256(ofUncompressed: path)) != Digitd.Fetch.files[3].sha256)
    }
}
