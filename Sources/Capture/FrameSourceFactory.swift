#if canImport(Glibc)
import Glibc
#endif

/// How `openFrameSource` should read what it is given.
public struct SourceOptions: Sendable {
    public var camera = CameraSettings()
    /// Restart files and folders at the end (not stdin).
    public var loop = false
    /// Frame rate for sources that do not state one (MJPEG, images).
    public var frameRate: Double? = nil
    public init() {}
}

/// Opens what `spec` names: a V4L2 device (`/dev/video0`), a Y4M or MJPEG stream (a file, or `-`
/// for stdin, told apart by their first bytes), an image file, a folder of images, or a glob.
public func openFrameSource(_ spec: String, options: SourceOptions = SourceOptions(),
                            syscalls: any V4L2Syscalls = LibV4L2Syscalls(),
                            log: @escaping CaptureLog = { _, _ in }) throws -> any FrameSource {
    if spec.hasPrefix("/dev/") {
        var camera = options.camera
        camera.path = spec
        return V4L2Camera(settings: camera, syscalls: syscalls, log: log)
    }
    var st = stat()
    let isDirectory = stat(spec, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    if spec == "-" || (!isDirectory && stat(spec, &st) == 0) {
        let reader = try ByteReader(path: spec)
        try reader.fill(9)
        let head = (0..<min(9, reader.available)).map { reader[$0] }
        if head.starts(with: Array("YUV4MPEG2".utf8)) {
            return try Y4MStream(reader: reader, loop: options.loop)
        }
        let lower = spec.lowercased()
        if spec == "-" || lower.hasSuffix(".mjpeg") || lower.hasSuffix(".mjpg") {
            guard head.starts(with: [0xFF, 0xD8]) || head.isEmpty == false && spec != "-" else {
                throw CaptureError(source: spec, fault: "not a Y4M or MJPEG stream (unrecognised first bytes)")
            }
            return MJPEGStream(reader: reader, frameRate: options.frameRate, loop: options.loop)
        }
        reader.close()
    }
    return try ImageFileSource(pattern: spec, frameRate: options.frameRate, loop: options.loop)
}
