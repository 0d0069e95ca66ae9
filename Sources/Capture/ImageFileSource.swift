import Imaging

#if canImport(Glibc)
import Glibc
#endif

/// Image files as frames: one file, every image in a folder, or the files a glob pattern matches,
/// in name order (byte-wise, so `frame-0009.png` comes before `frame-0010.png`).
///
/// A file that cannot be read or decoded is skipped and counted in `statistics.corruptFrames`.
public final class ImageFileSource: FrameSource, @unchecked Sendable {
    public let name: String
    public let pacing = Pacing.onDemand
    public let nominalFrameRate: Double?
    public private(set) var statistics = CaptureStatistics()
    public let paths: [String]
    private let loop: Bool
    private var cursor = 0
    private var nextIndex = 0

    /// File name endings read from a folder.
    public static let imageExtensions: Set<String> = ["png", "jpg", "jpeg", "pgm", "ppm", "pnm"]

    public init(pattern: String, frameRate: Double? = nil, loop: Bool = false) throws {
        name = pattern
        nominalFrameRate = frameRate
        self.loop = loop
        paths = try ImageFileSource.expand(pattern)
        guard !paths.isEmpty else {
            throw CaptureError(source: pattern, fault: "no image files found")
        }
    }

    /// The files `pattern` names: itself if a file, the images in it if a folder, else a glob.
    public static func expand(_ pattern: String) throws -> [String] {
        var st = stat()
        if stat(pattern, &st) == 0 {
            if (st.st_mode & S_IFMT) == S_IFDIR {
                guard let dir = opendir(pattern) else {
                    throw CaptureError(source: pattern, fault: String(cString: strerror(errno)))
                }
                defer { closedir(dir) }
                var names: [String] = []
                while let entry = readdir(dir) {
                    let name = withUnsafeBytes(of: entry.pointee.d_name) {
                        String(cString: $0.bindMemory(to: CChar.self).baseAddress!)
                    }
                    guard !name.hasPrefix("."), let dot = name.lastIndex(of: ".") else { continue }
                    if imageExtensions.contains(name[name.index(after: dot)...].lowercased()) { names.append(name) }
                }
                let base = pattern.hasSuffix("/") ? pattern : pattern + "/"
                return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.map { base + $0 }
            }
            return [pattern]
        }
        guard pattern.contains(where: { "*?[".contains($0) }) else {
            throw CaptureError(source: pattern, fault: "no such file or folder")
        }
        var g = glob_t()
        defer { globfree(&g) }
        guard glob(pattern, 0, nil, &g) == 0 else { return [] }
        var found: [String] = []
        for i in 0..<Int(g.gl_pathc) {
            if let p = g.gl_pathv[i] { found.append(String(cString: p)) }
        }
        return found.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    public func nextFrame() throws -> FrameResult {
        while true {
            if cursor == paths.count {
                guard loop, nextIndex > 0 else { return .end }
                cursor = 0
            }
            let path = paths[cursor]
            cursor += 1
            do {
                let image = try loadGrayImage(path: path)
                let frame = Frame(index: nextIndex, source: path, image: image)
                nextIndex += 1
                return .frame(frame)
            } catch {
                statistics.corruptFrames += 1
            }
        }
    }

    public func close() {}
}
