import CV4L2
import Imaging

#if canImport(Glibc)
import Glibc
#endif

/// What to ask a camera for. Kept apart from the camera's runtime state (descriptor, buffers,
/// negotiated format), which lives in `V4L2Camera.Session`.
public struct CameraSettings: Sendable, Equatable {
    public var path = "/dev/video0"
    public var width = 640
    public var height = 480
    public var frameRate = 30.0
    /// nil: the first native format digitd reads (GREY, YUYV, NV12), else planar YUV 4:2:0
    /// converted by libv4lconvert (from MJPEG, for example).
    public var format: FourCC? = nil
    public var bufferCount = 4
    /// How long one `nextFrame` waits for a buffer before returning `.noFrameYet`.
    public var pollTimeout = 0.2
    /// No frame for this long while streaming counts as a stall: the camera is reopened.
    public var stallTimeout = 5.0
    /// First wait before reopening a lost camera; doubles up to `maximumBackoff`.
    public var initialBackoff = 0.25
    public var maximumBackoff = 8.0
    public init() {}
}

/// A V4L2 camera as a frame source: mmap streaming through libv4l2, newest frame only, and
/// reopening with exponential back-off when the device disappears (ENODEV, unplug) or stalls.
///
/// The order of calls follows the kernel's capture example: open non-blocking, QUERYCAP, S_FMT
/// (read back), S_PARM, REQBUFS, QUERYBUF + mmap, QBUF, STREAMON, then poll / DQBUF / QBUF.
public final class V4L2Camera: FrameSource, @unchecked Sendable {
    public let settings: CameraSettings
    public var name: String { settings.path }
    public let pacing = Pacing.live
    public var nominalFrameRate: Double? { session?.frameRate ?? settings.frameRate }
    public private(set) var statistics = CaptureStatistics()
    /// Frames the camera delivered that a newer one replaced before we looked (drained buffers).
    public var droppedFrames: Int { statistics.droppedFrames }
    /// The format in use, once streaming.
    public var negotiated: NegotiatedFormat? { session?.format }

    /// Clock and sleep, replaceable so tests can run back-off schedules without waiting.
    public struct Timing: Sendable {
        public var now: @Sendable () -> Double
        public var sleep: @Sendable (Double) -> Void
        public init(now: @escaping @Sendable () -> Double, sleep: @escaping @Sendable (Double) -> Void) {
            self.now = now; self.sleep = sleep
        }
        public static let system = Timing(now: MonotonicClock.now, sleep: MonotonicClock.sleep)
    }

    /// What the camera is doing; a message is logged only when this changes.
    public enum State: Equatable, Sendable {
        case starting
        case streaming
        case waiting(reason: String)
    }
    public private(set) var state = State.starting

    struct Session {
        var device: V4L2Device
        var format: NegotiatedFormat
        var frameRate: Double?
        var buffers: [(address: UnsafeMutableRawPointer, length: Int)]
        var lastFrameTime: Double
    }

    private let syscalls: any V4L2Syscalls
    private let timing: Timing
    private let log: CaptureLog
    private var session: Session?
    private var backoff: Double
    private var retryAt = 0.0
    private var nextIndex = 0
    private var everStreamed = false

    public init(settings: CameraSettings, syscalls: any V4L2Syscalls = LibV4L2Syscalls(),
                timing: Timing = .system, log: @escaping CaptureLog = { _, _ in }) {
        self.settings = settings; self.syscalls = syscalls; self.timing = timing; self.log = log
        self.backoff = settings.initialBackoff
    }

    deinit { teardown() }

    public func nextFrame() throws -> FrameResult {
        if session == nil {
            let now = timing.now()
            if now < retryAt {
                timing.sleep(min(retryAt - now, settings.pollTimeout))
                return .noFrameYet
            }
            do {
                try start()
            } catch let error as V4L2Error where error.isTransient {
                scheduleReopen(after: error)
                return .noFrameYet
            }
        }
        do {
            return try readNewest()
        } catch let error as V4L2Error where error.isTransient {
            teardown()
            scheduleReopen(after: error)
            return .noFrameYet
        }
    }

    private func enter(_ new: State, _ level: CaptureLogLevel, _ message: @autoclosure () -> String) {
        guard new != state else { return }
        state = new
        log(level, message())
    }

    private func scheduleReopen(after error: V4L2Error) {
        let reason = "\(error.operation): \(error.errno)"
        switch state {
        case .streaming:
            enter(.waiting(reason: reason), .warning, "lost \(settings.path) (\(error)); reopening")
        case .starting:
            enter(.waiting(reason: reason), .warning, "waiting for the capture device \(settings.path): \(error)")
        case .waiting(let old):
            // Still waiting: a different failure is worth a debug line, not a warning per retry.
            enter(.waiting(reason: reason), .debug, "still waiting for \(settings.path): \(error)")
            _ = old
        }
        retryAt = timing.now() + backoff
        backoff = min(backoff * 2, settings.maximumBackoff)
    }

    /// Opens and configures the device and starts streaming; throws with the device closed.
    private func start() throws {
        let device = try V4L2Device.open(settings.path, syscalls: syscalls)
        var buffers: [(address: UnsafeMutableRawPointer, length: Int)] = []
        do throws(any Error) {
            let (card, caps) = try device.queryCapabilities()
            guard caps & UInt32(V4L2_CAP_VIDEO_CAPTURE) != 0 else {
                throw CaptureError(source: settings.path, fault: "\(card) is not a video capture device")
            }
            guard caps & UInt32(V4L2_CAP_STREAMING) != 0 else {
                throw CaptureError(source: settings.path, fault: "\(card) does not support streaming I/O")
            }
            let wanted = try settings.format ?? chooseFormat(device)
            let format = try device.setFormat(width: settings.width, height: settings.height, format: wanted)
            guard FourCC.readable.contains(format.format) else {
                throw CaptureError(source: settings.path,
                                   fault: "the camera gave pixel format \(format.format), which digitd cannot read (asked for \(wanted))")
            }
            // Not every driver supports S_PARM; a camera at its own rate is still useful.
            let rate = try? device.setFrameRate(settings.frameRate)
            let count = try device.requestBuffers(settings.bufferCount)
            guard count >= 2 else {
                throw CaptureError(source: settings.path, fault: "the driver granted \(count) buffer(s); at least 2 are needed")
            }
            for i in 0..<count {
                let (offset, length) = try device.queryBuffer(i)
                buffers.append((try device.map(offset: offset, length: length), length))
            }
            for i in 0..<count { try device.queueBuffer(i) }
            try device.streamOn()
            session = Session(device: device, format: format, frameRate: rate ?? nil, buffers: buffers,
                              lastFrameTime: timing.now())
            let rateText = (rate ?? nil).map { String(format: " at %.3g fps", $0) } ?? ""
            enter(.streaming, .info, "\(settings.path) (\(card)): streaming \(format.width)x\(format.height) \(format.format)\(rateText), \(count) buffers")
            if everStreamed { statistics.reconnects += 1 }
            everStreamed = true
            backoff = settings.initialBackoff
        } catch {
            for b in buffers { device.unmap(b.address, length: b.length) }
            _ = try? device.requestBuffers(0)
            device.close()
            throw error
        }
    }

    /// Native GREY, YUYV or NV12 if the camera has one; otherwise planar 4:2:0 from libv4lconvert.
    private func chooseFormat(_ device: V4L2Device) throws(V4L2Error) -> FourCC {
        let offered = try device.enumerateFormats()
        for preferred in [FourCC.grey, .yuyv, .nv12, .yuv420]
            where offered.contains(where: { $0.format == preferred && !$0.emulated }) {
            return preferred
        }
        return .yuv420
    }

    /// Waits for a buffer, drains the queue keeping only the newest, converts it to gray.
    private func readNewest() throws -> FrameResult {
        guard var s = session else { return .noFrameYet }
        guard try s.device.waitReadable(timeout: settings.pollTimeout) else {
            if timing.now() - s.lastFrameTime > settings.stallTimeout {
                teardown()
                throw V4L2Error(device: settings.path, operation: "poll", purpose: "waiting for a frame (stalled)",
                                errno: Errno(ETIMEDOUT))
            }
            return .noFrameYet
        }
        var newest: DequeuedBuffer?
        while let b = try s.device.dequeueBuffer() {
            if let older = newest {
                statistics.droppedFrames += 1
                try s.device.queueBuffer(older.index)
            }
            newest = b
        }
        guard let b = newest else { return .noFrameYet }   // poll woke us but DQBUF said EAGAIN
        let arrival = timing.now()
        s.lastFrameTime = arrival
        session = s
        // A buffer the driver flags as damaged, or too short for the negotiated format, is skipped.
        let usable = !b.damaged && b.index < s.buffers.count
            && min(b.bytesUsed > 0 ? b.bytesUsed : Int.max, s.buffers[b.index].length) >= lumaBytesNeeded(s.format)
        let image = usable ? lumaPlane(s.buffers[b.index].address, bytesUsed: b.bytesUsed, format: s.format) : nil
        try s.device.queueBuffer(b.index)
        guard let image else {
            statistics.corruptFrames += 1
            return .noFrameYet
        }
        let frame = Frame(index: nextIndex, source: settings.path, image: image, arrival: arrival)
        nextIndex += 1
        return .frame(frame)
    }

    private func teardown() {
        guard let s = session else { return }
        session = nil
        _ = try? s.device.streamOff()
        for b in s.buffers { s.device.unmap(b.address, length: b.length) }
        _ = try? s.device.requestBuffers(0)
        s.device.close()
    }

    public func close() {
        teardown()
    }
}

/// Bytes a buffer must hold for `lumaPlane` to read every row.
public func lumaBytesNeeded(_ format: NegotiatedFormat) -> Int {
    let row = format.format == .yuyv ? 2 * format.width : format.width
    let stride = max(format.bytesPerLine, row)
    return format.height > 0 ? (format.height - 1) * stride + row : 0
}

/// The gray (luma) plane of a captured buffer, honouring the driver's line stride.
public func lumaPlane(_ base: UnsafeRawPointer, bytesUsed: Int, format: NegotiatedFormat) -> GrayImage {
    let w = format.width, h = format.height
    let bytes = base.assumingMemoryBound(to: UInt8.self)
    var out = GrayImage(width: w, height: h)
    out.pixels.withUnsafeMutableBufferPointer { dst in
        switch format.format {
        case .yuyv:
            let stride = max(format.bytesPerLine, 2 * w)
            for y in 0..<h {
                let row = bytes + y * stride
                for x in 0..<w { dst[y * w + x] = row[2 * x] }
            }
        default:   // GREY, NV12, YU12, YV12: the Y plane comes first
            let stride = max(format.bytesPerLine, w)
            for y in 0..<h {
                (dst.baseAddress! + y * w).update(from: bytes + y * stride, count: w)
            }
        }
    }
    return out
}
