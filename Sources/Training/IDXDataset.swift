import CZlib
import Foundation

/// A failure reading an IDX file, naming the file and the fault; `description` is one line.
public struct IDXError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let fault: String
    public var description: String { "\(path): \(fault)" }
}

/// An MNIST-style labelled image set: `count` images of `rows x columns` bytes (0 = background,
/// 255 = ink) with one label byte each.
public struct LabelledImages: Sendable {
    public let count: Int
    public let rows: Int
    public let columns: Int
    public var images: [UInt8]
    public var labels: [UInt8]

    public init(count: Int, rows: Int, columns: Int, images: [UInt8], labels: [UInt8]) {
        precondition(images.count == count * rows * columns && labels.count == count)
        self.count = count; self.rows = rows; self.columns = columns
        self.images = images; self.labels = labels
    }

    /// Reads an image file (magic 0x00000803) and a label file (magic 0x00000801), gzip or raw.
    /// Labels above `maximumLabel` are an error (9 for MNIST; 10 for sets that hold "not a
    /// digit" crops, such as `digitd synth --training-crops` writes).
    public static func load(images imagesPath: String, labels labelsPath: String, maximumLabel: UInt8 = 9) throws -> LabelledImages {
        let img = try IDXFile.read(path: imagesPath)
        let lab = try IDXFile.read(path: labelsPath)
        guard img.dimensions.count == 3 else {
            throw IDXError(path: imagesPath, fault: "not an image file (magic number says \(img.dimensions.count) dimensions, want 3)")
        }
        guard lab.dimensions.count == 1 else {
            throw IDXError(path: labelsPath, fault: "not a label file (magic number says \(lab.dimensions.count) dimensions, want 1)")
        }
        guard img.dimensions[0] == lab.dimensions[0] else {
            throw IDXError(path: labelsPath, fault: "holds \(lab.dimensions[0]) labels but \(imagesPath) holds \(img.dimensions[0]) images")
        }
        if let bad = lab.data.first(where: { $0 > maximumLabel }) {
            throw IDXError(path: labelsPath, fault: maximumLabel == 9 ? "label \(bad) is not a digit 0-9"
                                                                       : "label \(bad) is out of range 0-\(maximumLabel)")
        }
        return LabelledImages(count: img.dimensions[0], rows: img.dimensions[1], columns: img.dimensions[2],
                              images: img.data, labels: lab.data)
    }

    /// This set followed by `other` (same image size).
    public func appending(_ other: LabelledImages) -> LabelledImages {
        precondition(rows == other.rows && columns == other.columns)
        return LabelledImages(count: count + other.count, rows: rows, columns: columns,
                              images: images + other.images, labels: labels + other.labels)
    }

    /// Writes the set as an IDX image file and an IDX label file (gzip when a path ends in .gz).
    public func write(images imagesPath: String, labels labelsPath: String) throws {
        try IDXFile.write(path: imagesPath, dimensions: [count, rows, columns], data: images)
        try IDXFile.write(path: labelsPath, dimensions: [count], data: labels)
    }

    /// The images `range` as a new set.
    public func subset(_ range: Range<Int>) -> LabelledImages {
        let px = rows * columns
        return LabelledImages(count: range.count, rows: rows, columns: columns,
                              images: Array(images[range.lowerBound * px ..< range.upperBound * px]),
                              labels: Array(labels[range]))
    }
}

/// The IDX container: magic `00 00 08 ndim`, `ndim` big-endian UInt32 sizes, then unsigned bytes.
public enum IDXFile {
    public static func read(path: String) throws -> (dimensions: [Int], data: [UInt8]) {
        let raw = try readMaybeGzip(path: path)
        return try parse(raw, path: path)
    }

    /// Writes unsigned bytes with their dimensions; gzip-compressed when `path` ends in ".gz".
    public static func write(path: String, dimensions: [Int], data: [UInt8]) throws {
        precondition(!dimensions.isEmpty && dimensions.count <= 3 && dimensions.reduce(1, *) == data.count)
        var bytes: [UInt8] = [0, 0, 0x08, UInt8(dimensions.count)]
        for d in dimensions { bytes += [UInt8(d >> 24 & 0xff), UInt8(d >> 16 & 0xff), UInt8(d >> 8 & 0xff), UInt8(d & 0xff)] }
        bytes += data
        if path.hasSuffix(".gz") {
            guard let file = gzopen(path, "wb6") else { throw IDXError(path: path, fault: "cannot be written") }
            let written = bytes.withUnsafeBytes { gzwrite(file, $0.baseAddress, UInt32($0.count)) }
            let closed = gzclose(file)
            guard written == Int32(bytes.count), closed == Z_OK else { throw IDXError(path: path, fault: "write failed (disk full?)") }
        } else {
            guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
                throw IDXError(path: path, fault: "cannot be written")
            }
        }
    }

    public static func parse(_ raw: [UInt8], path: String) throws -> (dimensions: [Int], data: [UInt8]) {
        guard raw.count >= 4 else { throw IDXError(path: path, fault: "truncated: \(raw.count) bytes, no IDX header") }
        guard raw[0] == 0, raw[1] == 0, raw[2] == 0x08, (1...3).contains(raw[3]) else {
            let magic = raw[0..<4].map { String(format: "%02x", $0) }.joined()
            throw IDXError(path: path, fault: "wrong magic number 0x\(magic) (want 0x00000801 labels or 0x00000803 images)")
        }
        let ndim = Int(raw[3])
        let headerSize = 4 + 4 * ndim
        guard raw.count >= headerSize else { throw IDXError(path: path, fault: "truncated header") }
        var dims: [Int] = []
        var total = 1
        for d in 0..<ndim {
            let o = 4 + 4 * d
            let v = Int(raw[o]) << 24 | Int(raw[o + 1]) << 16 | Int(raw[o + 2]) << 8 | Int(raw[o + 3])
            guard v > 0, v < 1 << 28 else { throw IDXError(path: path, fault: "dimension \(d) is \(v)") }
            dims.append(v)
            total = total.multipliedReportingOverflow(by: v).partialValue
        }
        guard total < 1 << 32 else { throw IDXError(path: path, fault: "implausible size \(dims)") }
        let have = raw.count - headerSize
        guard have >= total else {
            throw IDXError(path: path, fault: "truncated data: \(have) of \(total) bytes for \(dims.map(String.init).joined(separator: "x"))")
        }
        return (dims, Array(raw[headerSize ..< headerSize + total]))
    }

    /// The whole file, gunzipped if it starts with the gzip magic.
    public static func readMaybeGzip(path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            let exists = FileManager.default.fileExists(atPath: path)
            throw IDXError(path: path, fault: exists ? "cannot be read" : "no such file")
        }
        let bytes = [UInt8](data)
        guard bytes.count >= 2, bytes[0] == 0x1f, bytes[1] == 0x8b else { return bytes }
        return try gunzip(bytes, path: path)
    }

    static func gunzip(_ input: [UInt8], path: String) throws -> [UInt8] {
        var stream = z_stream()
        // 15 + 32: zlib or gzip header, detected automatically.
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw IDXError(path: path, fault: "zlib could not start")
        }
        defer { inflateEnd(&stream) }
        var output = [UInt8]()
        output.reserveCapacity(input.count * 4)
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var status: Int32 = Z_OK
        try input.withUnsafeBufferPointer { inBuf in
            stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
            stream.avail_in = UInt32(inBuf.count)
            repeat {
                try chunk.withUnsafeMutableBufferPointer { outBuf in
                    stream.next_out = outBuf.baseAddress
                    stream.avail_out = UInt32(outBuf.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                    if status != Z_OK && status != Z_STREAM_END {
                        throw IDXError(path: path, fault: status == Z_BUF_ERROR ? "truncated gzip stream" : "corrupt gzip data (zlib error \(status))")
                    }
                    output.append(contentsOf: outBuf[0 ..< outBuf.count - Int(stream.avail_out)])
                }
            } while status != Z_STREAM_END
        }
        return output
    }
}
