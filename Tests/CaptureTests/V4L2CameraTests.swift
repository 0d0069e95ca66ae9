import CV4L2
import Foundation
import Testing
@testable import Capture

/// A scripted V4L2 device: answers each ioctl like a YUYV webcam would, and fails the calls a test
/// asks it to fail. Records every call by name.
final class FakeV4L2: V4L2Syscalls, @unchecked Sendable {
    var width = 8, height = 4
    var present = true
    /// Frames the "sensor" has ready to be dequeued.
    var readyFrames = 0
    /// Next failures to return, matched in order by call name ("open", "VIDIOC_DQBUF", "poll").
    var failures: [(call: String, errno: Errno)] = []
    var calls: [String] = []
    var openTimes: [Double] = []
    var clock: FakeClock?
    var frameCounter = 0
    var memory: [UnsafeMutableRawPointer] = []
    var driverQueue: [Int] = []
    var bufferCount = 0
    var formats: [FourCC] = [.yuyv, .mjpeg]
    var chosen = FourCC.yuyv
    var requested: FourCC?
    /// bytesused the next dequeued buffer reports (nil: a whole frame), and its error flag.
    var nextBytesUsed: Int?
    var nextDamaged = false

    var frameBytes: Int { width * height * 2 }

    func failure(_ name: String) -> Errno? {
        calls.append(name)
        if let i = failures.firstIndex(where: { $0.call == name }) { return failures.remove(at: i).errno }
        return nil
    }

    func open(_ path: String, flags: Int32) -> Result<Int32, Errno> {
        openTimes.append(clock?.now() ?? 0)
        if let e = failure("open") { return .failure(e) }
        return present ? .success(7) : .failure(.noSuchFile)
    }

    func close(_ fd: Int32) { calls.append("close") }

    static let names: [UInt: String] = [
        V4L2Request.queryCapabilities: "VIDIOC_QUERYCAP", V4L2Request.enumerateFormat: "VIDIOC_ENUM_FMT",
        V4L2Request.setFormat: "VIDIOC_S_FMT", V4L2Request.setParameters: "VIDIOC_S_PARM",
        V4L2Request.requestBuffers: "VIDIOC_REQBUFS", V4L2Request.queryBuffer: "VIDIOC_QUERYBUF",
        V4L2Request.queueBuffer: "VIDIOC_QBUF", V4L2Request.dequeueBuffer: "VIDIOC_DQBUF",
        V4L2Request.streamOn: "VIDIOC_STREAMON", V4L2Request.streamOff: "VIDIOC_STREAMOFF",
    ]

    func ioctl(_ fd: Int32, _ request: UInt, _ argument: UnsafeMutableRawPointer) -> Result<Int32, Errno> {
        let name = FakeV4L2.names[request] ?? "unknown \(request)"
        if let e = failure(name) { return .failure(e) }
        guard present else { return .failure(.noDevice) }
        switch request {
        case V4L2Request.queryCapabilities:
            let cap = argument.assumingMemoryBound(to: v4l2_capability.self)
            cap.pointee.capabilities = UInt32(V4L2_CAP_VIDEO_CAPTURE | V4L2_CAP_STREAMING)
        case V4L2Request.enumerateFormat:
            let d = argument.assumingMemoryBound(to: v4l2_fmtdesc.self)
            guard Int(d.pointee.index) < formats.count else { return .failure(.invalidArgument) }
            d.pointee.pixelformat = formats[Int(d.pointee.index)].rawValue
        case V4L2Request.setFormat:
            let f = argument.assumingMemoryBound(to: v4l2_format.self)
            width = Int(f.pointee.fmt.pix.width); height = Int(f.pointee.fmt.pix.height)
            requested = FourCC(rawValue: f.pointee.fmt.pix.pixelformat)
            f.pointee.fmt.pix.pixelformat = chosen.rawValue
            f.pointee.fmt.pix.bytesperline = UInt32(width * 2)
            f.pointee.fmt.pix.sizeimage = UInt32(frameBytes)
        case V4L2Request.setParameters:
            let p = argument.assumingMemoryBound(to: v4l2_streamparm.self)
            p.pointee.parm.capture.timeperframe = v4l2_fract(numerator: 1, denominator: 30)
        case V4L2Request.requestBuffers:
            let r = argument.assumingMemoryBound(to: v4l2_requestbuffers.self)
            r.pointee.count = min(r.pointee.count, 4)
            bufferCount = Int(r.pointee.count)
            driverQueue = []
        case V4L2Request.queryBuffer:
            let b = argument.assumingMemoryBound(to: v4l2_buffer.self)
            b.pointee.m.offset = b.pointee.index * UInt32(frameBytes)
            b.pointee.length = UInt32(frameBytes)
        case V4L2Request.queueBuffer:
            driverQueue.append(Int(argument.assumingMemoryBound(to: v4l2_buffer.self).pointee.index))
        case V4L2Request.dequeueBuffer:
            guard readyFrames > 0, !driverQueue.isEmpty else { return .failure(.wouldBlock) }
            readyFrames -= 1
            let index = driverQueue.removeFirst()
            // Luma = frame number; chroma = 128.
            let p = memory[index].assumingMemoryBound(to: UInt8.self)
            for i in 0..<frameBytes { p[i] = i % 2 == 0 ? UInt8(frameCounter % 256) : 128 }
            frameCounter += 1
            let b = argument.assumingMemoryBound(to: v4l2_buffer.self)
            b.pointee.index = UInt32(index); b.pointee.bytesused = UInt32(nextBytesUsed ?? frameBytes)
            if nextDamaged { b.pointee.flags |= UInt32(V4L2_BUF_FLAG_ERROR) }
            nextBytesUsed = nil; nextDamaged = false
        default: break
        }
        return .success(0)
    }

    func mmap(length: Int, fd: Int32, offset: Int) -> Result<UnsafeMutableRawPointer, Errno> {
        if let e = failure("mmap") { return .failure(e) }
        let p = UnsafeMutableRawPointer.allocate(byteCount: length, alignment: 16)
        memory.append(p)
        return .success(p)
    }

    func munmap(_ address: UnsafeMutableRawPointer, length: Int) {
        calls.append("munmap")
        memory.removeAll { $0 == address }
        address.deallocate()
    }

    func poll(_ fd: Int32, timeoutMilliseconds: Int32) -> Result<Bool, Errno> {
        if let e = failure("poll") { return .failure(e) }
        guard present else { return .failure(.noDevice) }
        if readyFrames == 0 { clock?.advance(Double(timeoutMilliseconds) / 1000) }
        return .success(readyFrames > 0)
    }
}

/// Time that moves only when code sleeps or a fake poll times out.
final class FakeClock: @unchecked Sendable {
    var t = 100.0
    func now() -> Double { t }
    func advance(_ s: Double) { t += max(0, s) }
    var timing: V4L2Camera.Timing {
        V4L2Camera.Timing(now: { [self] in now() }, sleep: { [self] in advance($0) })
    }
}

final class LogRecorder: @unchecked Sendable {
    var lines: [String] = []
    /// Messages at info level and above, as a user would see them by default.
    var log: CaptureLog { { [self] level, m in if level >= .info { lines.append(m) } } }
}

@Suite struct V4L2CameraTests {
    func makeCamera(_ fake: FakeV4L2, _ clock: FakeClock, _ log: LogRecorder) -> V4L2Camera {
        fake.clock = clock
        var s = CameraSettings()
        s.width = 8; s.height = 4
        return V4L2Camera(settings: s, syscalls: fake, timing: clock.timing, log: log.log)
    }

    @Test func theCameraIsSetUpInTheCanonicalOrderAndGivesTheLumaOfAYUYVFrame() throws {
        let fake = FakeV4L2(), clock = FakeClock(), log = LogRecorder()
        let camera = makeCamera(fake, clock, log)
        fake.readyFrames = 1
        guard case .frame(let f) = try camera.nextFrame() else { Issue.record("no frame"); return }
        #expect(f.image.width == 8 && f.image.height == 4)
        #expect(f.image.pixels.allSatisfy { $0 == 0 })
        let setup = fake.calls.filter { $0 != "VIDIOC_ENUM_FMT" }
        #expect(Array(setup.prefix(7)) == ["open", "VIDIOC_QUERYCAP", "VIDIOC_S_FMT", "VIDIOC_S_PARM",
                                          "VIDIOC_REQBUFS", "VIDIOC_QUERYBUF", "mmap"])
        #expect(Array(setup.dropFirst(13).prefix(6)) == ["VIDIOC_QBUF", "VIDIOC_QBUF", "VIDIOC_QBUF", "VIDIOC_QBUF",
                                                        "VIDIOC_STREAMON", "poll"])
        #expect(camera.negotiated?.format == .yuyv)
        #expect(log.lines.count == 1 && log.lines[0].contains("streaming 8x4 YUYV"))
    }

    @Test func anInterruptedIoctlIsRetried() throws {
        let fake = FakeV4L2(), clock = FakeClock(), log = LogRecorder()
        let camera = makeCamera(fake, clock, log)
        fake.failures = [("VIDIOC_S_FMT", .interrupted), ("VIDIOC_DQBUF", .interrupted)]
        fake.readyFrames = 1
        guard case .frame = try camera.nextFrame() else { Issue.record("no frame"); return }
        #expect(fake.calls.filter { $0 == "VIDIOC_S_FMT" }.count == 2)
        #expect(fake.calls.filter { $0 == "VIDIOC_DQBUF" }.count == 3)   // EINTR, the frame, EAGAIN
    }

    @Test func wouldBlockMeansNoFrameYetNotAnError() throws {
        let fake = FakeV4L2(), clock = FakeClock(), log = LogRecorder()
        let camera = makeCamera(fake, clock, log)
        fake.readyFrames = 1
        fake.failures = [("VIDIOC_DQBUF", .wouldBlock)]
        guard case .noFrameYet = try camera.nextFrame() else { Issue.record("expected no frame yet"); return }
        guard case .frame = try camera.nextFrame() else { Issue.record("expected the frame"); return }
    }

    @Test func draininingTheQueueKeepsTheNewestFrameAndCountsTheOthers() throws {
        let fake = FakeV4L2(), clock = FakeClock(), log = LogRecorder()
        let camera = makeCamera(fake, clock, log)
        fake.readyFrames = 3
        guard case .frame(let f) = try camera.nextFrame() else { Issue.record("no frame"); return }
        #expect(f.image.pixels[0] == 2)
        #expect(camera.droppedFrames == 2)
        #expect(fake.driverQueue.count == 4)   // every buffer back with the driver
    }

    @Test func aCameraUnpluggedMidStreamIsReopenedWithExponentialBackoffAndLoggedOnce() throws {
        let fake = FakeV4L2(), clock = FakeClock(), log = LogRecorder()
        let camera = makeCamera(fake, clock, log)
        fake.readyFrames = 1
        guard case .frame = try camera.nextFrame() else { Issue.record("no frame"); return }
        fake.present = false
        let lost = clock.now()
        // Until it comes back, every call is "no frame yet", never an error.
        for _ in 0..<60 {
            guard case .noFrameYet = try camera.nextFrame() else { Issue.record("expected no frame"); return }
        }
        let attempts = fake.openTimes.dropFirst().map { $0 - lost }
        #expect(attempts.count >= 4)
        let gaps = zip(attempts.dropFirst(), attempts).map { $0 - $1 }
        #expect(([attempts[0]] + gaps.prefix(3)).map { ($0 * 100).rounded() / 100 } == [0.25, 0.5, 1.0, 2.0])
        #expect(gaps.allSatisfy { $0 <= 8.0 + 1e-9 })
        #expect(fake.memory.isEmpty)   // buffers unmapped when the device went away
        fake.present = true
        fake.readyFrames = 1
        var got = false
        for _ in 0..<100 where !got { if case .frame = try camera.nextFrame() { got = true } }
        #expect(got)
        #expect(camera.statistics.reconnects == 1)
        #expect(log.lines.count == 3)   // streaming, lost, streaming again: not once per retry
        #expect(log.lines[1].contains("lost /dev/video0"))
    }

    @Test func aMissingCameraAtStartIsWaitedForNotAnError() throws {
        let fake = FakeV4L2(), clock = FakeClock(), log = LogRecorder()
        fake.present = false
        let camera = makeCamera(fake, clock, log)
        for _ in 0..<10 { _ = try camera.nextFrame() }
        #expect(log.lines.count == 1 && log.lines[0].contains("waiting for the capture device /dev/video0"))
    }

    @Test func aStalledCameraIsReopened() throws {
        let fake = FakeV4L2(), clock = FakeClock(), log = LogRecorder()
        let camera = makeCamera(fake, clock, log)
        fake.readyFrames = 1
        _ = try camera.nextFrame()
        for _ in 0..<40 { _ = try camera.nextFrame() }   // 40 x 0.2 s without a frame
        #expect(fake.openTimes.count >= 2)
        #expect(log.lines.contains { $0.contains("stalled") || $0.contains("Connection timed out") || $0.contains("timed out") })
    }

    @Test func aCameraWithOnlyMJPEGIsAskedForYUV420ThatLibv4lconvertMakes() throws {
        let fake = FakeV4L2(), clock = FakeClock(), log = LogRecorder()
        fake.formats = [.mjpeg]
        fake.chosen = .yuv420
        let camera = makeCamera(fake, clock, log)
        fake.readyFrames = 1
        guard case .frame(let f) = try camera.nextFrame() else { Issue.record("no frame"); return }
        #expect(fake.requested == .yuv420)
        #expect(f.image.width == 8)
    }

    @Test func aDamagedOrShortBufferIsSkippedCountedAndRequeued() throws {
        let fake = FakeV4L2(), clock = FakeClock(), log = LogRecorder()
        let camera = makeCamera(fake, clock, log)
        fake.readyFrames = 1
        fake.nextDamaged = true
        guard case .noFrameYet = try camera.nextFrame() else { Issue.record("expected a skipped frame"); return }
        fake.readyFrames = 1
        fake.nextBytesUsed = 10
        guard case .noFrameYet = try camera.nextFrame() else { Issue.record("expected a skipped frame"); return }
        #expect(camera.statistics.corruptFrames == 2)
        #expect(fake.driverQueue.count == 4)
        fake.readyFrames = 1
        guard case .frame(let f) = try camera.nextFrame() else { Issue.record("expected a frame"); return }
        #expect(f.index == 0)
    }

    @Test func somethingThatIsNotAV4L2DeviceIsAFatalError() {
        let fake = FakeV4L2(), clock = FakeClock(), log = LogRecorder()
        fake.failures = [("open", Errno(ENOTTY))]
        let camera = makeCamera(fake, clock, log)
        #expect(throws: V4L2Error.self) { try camera.nextFrame() }
    }

    @Test func aDeviceThatCannotCaptureIsAFatalErrorNamingIt() {
        let fake = FakeV4L2(), clock = FakeClock(), log = LogRecorder()
        let camera = makeCamera(fake, clock, log)
        fake.chosen = FourCC("BA81")
        fake.readyFrames = 1
        #expect(throws: CaptureError.self) { try camera.nextFrame() }
    }
}
