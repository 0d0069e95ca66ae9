import CV4L2

/// A V4L2 call that failed, naming the ioctl and what it was for ("dequeuing a buffer (VIDIOC_DQBUF)").
public struct V4L2Error: Error, Equatable, Sendable, CustomStringConvertible {
    public var device: String
    /// The request's name, e.g. `VIDIOC_DQBUF`, or `open`, `mmap`, `poll`.
    public var operation: String
    /// What digitd was doing, in words.
    public var purpose: String
    public var errno: Errno
    public var description: String {
        errno == Errno(ENOTTY) ? "\(device): not a V4L2 device (\(operation): \(errno))"
                               : "\(device): \(purpose) (\(operation)): \(errno)"
    }

    /// Failures that mean the device is gone or broken for now and is worth reopening later,
    /// as opposed to a device that can never work (not a capture device, no streaming).
    public var isTransient: Bool {
        switch errno {
        case Errno(ENOTTY):
            return false   // not a V4L2 device at all (libv4l2 already fails in open)
        case .noDevice, .noSuchFile, .ioError, .busy, .permissionDenied, Errno(ENXIO), Errno(EPIPE),
             Errno(ETIMEDOUT), Errno(ENOSPC), Errno(ENOMEM):
            return true
        default:
            return operation != "VIDIOC_QUERYCAP" && operation != "VIDIOC_S_FMT" && operation != "VIDIOC_REQBUFS"
        }
    }
}

/// A four-character pixel format code, as `v4l2_fourcc` builds it.
public struct FourCC: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(_ code: StaticString) {
        precondition(code.utf8CodeUnitCount == 4, "FourCC needs four characters")
        let b = code.utf8Start
        rawValue = UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24
    }
    public static let grey = FourCC("GREY")
    public static let yuyv = FourCC("YUYV")
    public static let nv12 = FourCC("NV12")
    /// Planar 4:2:0, Y then U then V; what libv4lconvert turns MJPEG into for us.
    public static let yuv420 = FourCC("YU12")
    public static let yvu420 = FourCC("YV12")
    public static let mjpeg = FourCC("MJPG")
    public var description: String {
        String(decoding: (0..<4).map { UInt8(truncatingIfNeeded: rawValue >> (8 * $0)) }, as: UTF8.self)
    }
    /// Formats whose luma digitd reads without conversion.
    public static let readable: [FourCC] = [.grey, .yuyv, .nv12, .yuv420, .yvu420]
}

/// The request codes, named (the C macros are not importable; see Sources/CV4L2/shim.h).
public enum V4L2Request {
    public static let queryCapabilities = digitd_VIDIOC_QUERYCAP()
    public static let enumerateFormat = digitd_VIDIOC_ENUM_FMT()
    public static let setFormat = digitd_VIDIOC_S_FMT()
    public static let setParameters = digitd_VIDIOC_S_PARM()
    public static let requestBuffers = digitd_VIDIOC_REQBUFS()
    public static let queryBuffer = digitd_VIDIOC_QUERYBUF()
    public static let queueBuffer = digitd_VIDIOC_QBUF()
    public static let dequeueBuffer = digitd_VIDIOC_DQBUF()
    public static let streamOn = digitd_VIDIOC_STREAMON()
    public static let streamOff = digitd_VIDIOC_STREAMOFF()
}

/// An open V4L2 device: one typed method per ioctl, all going through `control`, which retries EINTR.
public struct V4L2Device {
    public let path: String
    public let fd: Int32
    let syscalls: any V4L2Syscalls

    static let captureType = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
    static let mmapMemory = V4L2_MEMORY_MMAP.rawValue

    /// Opens `path` non-blocking (DQBUF then says EAGAIN instead of waiting). open(2)
    public static func open(_ path: String, syscalls: any V4L2Syscalls) throws(V4L2Error) -> V4L2Device {
        while true {
            switch syscalls.open(path, flags: O_RDWR | O_NONBLOCK | O_CLOEXEC) {
            case .success(let fd): return V4L2Device(path: path, fd: fd, syscalls: syscalls)
            case .failure(.interrupted): continue
            case .failure(let e): throw V4L2Error(device: path, operation: "open", purpose: "opening the device", errno: e)
            }
        }
    }

    public func close() { syscalls.close(fd) }

    /// Issues one ioctl, retrying while it is interrupted by a signal. v4l2_ioctl(2)
    public func control<T>(_ request: UInt, _ value: inout T, name: String, purpose: String) throws(V4L2Error) {
        while true {
            let r = withUnsafeMutableBytes(of: &value) { syscalls.ioctl(fd, request, $0.baseAddress!) }
            switch r {
            case .success: return
            case .failure(.interrupted): continue
            case .failure(let e): throw V4L2Error(device: path, operation: name, purpose: purpose, errno: e)
            }
        }
    }

    /// VIDIOC_QUERYCAP: the capabilities of the opened node (device_caps when the driver gives them).
    public func queryCapabilities() throws(V4L2Error) -> (card: String, capabilities: UInt32) {
        var cap = v4l2_capability()
        try control(V4L2Request.queryCapabilities, &cap, name: "VIDIOC_QUERYCAP", purpose: "querying capabilities")
        let card = withUnsafeBytes(of: cap.card) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let caps = cap.capabilities & UInt32(V4L2_CAP_DEVICE_CAPS) != 0 ? cap.device_caps : cap.capabilities
        return (card, caps)
    }

    /// VIDIOC_ENUM_FMT over all indices: the formats offered, and whether libv4l2 emulates each.
    public func enumerateFormats() throws(V4L2Error) -> [(format: FourCC, emulated: Bool)] {
        var found: [(FourCC, Bool)] = []
        for index in 0..<64 {
            var d = v4l2_fmtdesc()
            d.index = UInt32(index); d.type = V4L2Device.captureType
            do {
                try control(V4L2Request.enumerateFormat, &d, name: "VIDIOC_ENUM_FMT", purpose: "listing pixel formats")
            } catch where error.errno == .invalidArgument {
                break   // past the last format
            }
            found.append((FourCC(rawValue: d.pixelformat), d.flags & UInt32(V4L2_FMT_FLAG_EMULATED) != 0))
        }
        return found
    }

    /// VIDIOC_S_FMT, then the format as the driver set it (it may change size and format).
    public func setFormat(width: Int, height: Int, format: FourCC) throws(V4L2Error) -> NegotiatedFormat {
        var f = v4l2_format()
        f.type = V4L2Device.captureType
        f.fmt.pix.width = UInt32(width)
        f.fmt.pix.height = UInt32(height)
        f.fmt.pix.pixelformat = format.rawValue
        f.fmt.pix.field = V4L2_FIELD_ANY.rawValue
        try control(V4L2Request.setFormat, &f, name: "VIDIOC_S_FMT", purpose: "setting the pixel format")
        return NegotiatedFormat(width: Int(f.fmt.pix.width), height: Int(f.fmt.pix.height),
                                format: FourCC(rawValue: f.fmt.pix.pixelformat),
                                bytesPerLine: Int(f.fmt.pix.bytesperline), imageBytes: Int(f.fmt.pix.sizeimage))
    }

    /// VIDIOC_S_PARM with a time per frame of 1/fps; returns the rate the driver chose, if it says.
    public func setFrameRate(_ fps: Double) throws(V4L2Error) -> Double? {
        var p = v4l2_streamparm()
        p.type = V4L2Device.captureType
        p.parm.capture.timeperframe = v4l2_fract(numerator: 1000, denominator: UInt32(max(1, fps * 1000)))
        try control(V4L2Request.setParameters, &p, name: "VIDIOC_S_PARM", purpose: "setting the frame rate")
        let t = p.parm.capture.timeperframe
        return t.numerator > 0 && t.denominator > 0 ? Double(t.denominator) / Double(t.numerator) : nil
    }

    /// VIDIOC_REQBUFS for memory-mapped buffers; returns how many the driver granted.
    public func requestBuffers(_ count: Int) throws(V4L2Error) -> Int {
        var r = v4l2_requestbuffers()
        r.count = UInt32(count); r.type = V4L2Device.captureType; r.memory = V4L2Device.mmapMemory
        try control(V4L2Request.requestBuffers, &r, name: "VIDIOC_REQBUFS",
                    purpose: count == 0 ? "releasing buffers" : "requesting buffers")
        return Int(r.count)
    }

    /// VIDIOC_QUERYBUF: where buffer `index` lives, for mmap.
    public func queryBuffer(_ index: Int) throws(V4L2Error) -> (offset: Int, length: Int) {
        var b = makeBuffer(index)
        try control(V4L2Request.queryBuffer, &b, name: "VIDIOC_QUERYBUF", purpose: "querying buffer \(index)")
        return (Int(b.m.offset), Int(b.length))
    }

    /// VIDIOC_QBUF: hands buffer `index` back to the driver to fill.
    public func queueBuffer(_ index: Int) throws(V4L2Error) {
        var b = makeBuffer(index)
        try control(V4L2Request.queueBuffer, &b, name: "VIDIOC_QBUF", purpose: "queuing video buffer")
    }

    /// VIDIOC_DQBUF: a filled buffer, or nil if none is ready (EAGAIN is "not yet", not an error).
    public func dequeueBuffer() throws(V4L2Error) -> DequeuedBuffer? {
        var b = makeBuffer(0)
        do {
            try control(V4L2Request.dequeueBuffer, &b, name: "VIDIOC_DQBUF", purpose: "dequeuing video buffer")
        } catch where error.errno == .wouldBlock {
            return nil
        }
        return DequeuedBuffer(index: Int(b.index), bytesUsed: Int(b.bytesused), sequence: b.sequence,
                              damaged: b.flags & UInt32(V4L2_BUF_FLAG_ERROR) != 0)
    }

    /// VIDIOC_STREAMON
    public func streamOn() throws(V4L2Error) {
        var t = Int32(V4L2Device.captureType)
        try control(V4L2Request.streamOn, &t, name: "VIDIOC_STREAMON", purpose: "starting streaming")
    }

    /// VIDIOC_STREAMOFF
    public func streamOff() throws(V4L2Error) {
        var t = Int32(V4L2Device.captureType)
        try control(V4L2Request.streamOff, &t, name: "VIDIOC_STREAMOFF", purpose: "stopping streaming")
    }

    /// v4l2_mmap of one buffer.
    public func map(offset: Int, length: Int) throws(V4L2Error) -> UnsafeMutableRawPointer {
        switch syscalls.mmap(length: length, fd: fd, offset: offset) {
        case .success(let p): return p
        case .failure(let e): throw V4L2Error(device: path, operation: "mmap", purpose: "mapping a buffer", errno: e)
        }
    }

    public func unmap(_ p: UnsafeMutableRawPointer, length: Int) { syscalls.munmap(p, length: length) }

    /// Waits up to `timeout` seconds for a filled buffer; false on timeout. poll(2)
    public func waitReadable(timeout: Double) throws(V4L2Error) -> Bool {
        while true {
            switch syscalls.poll(fd, timeoutMilliseconds: Int32(timeout * 1000)) {
            case .success(let ready): return ready
            case .failure(.interrupted): continue
            case .failure(let e): throw V4L2Error(device: path, operation: "poll", purpose: "waiting for a frame", errno: e)
            }
        }
    }

    private func makeBuffer(_ index: Int) -> v4l2_buffer {
        var b = v4l2_buffer()
        b.index = UInt32(index); b.type = V4L2Device.captureType; b.memory = V4L2Device.mmapMemory
        return b
    }
}

/// A filled buffer handed back by VIDIOC_DQBUF.
public struct DequeuedBuffer: Equatable, Sendable {
    public var index: Int
    public var bytesUsed: Int
    public var sequence: UInt32
    /// The driver flagged the data as damaged (V4L2_BUF_FLAG_ERROR).
    public var damaged: Bool
}

/// The format a driver settled on after VIDIOC_S_FMT.
public struct NegotiatedFormat: Equatable, Sendable {
    public var width: Int
    public var height: Int
    public var format: FourCC
    public var bytesPerLine: Int
    public var imageBytes: Int
}
