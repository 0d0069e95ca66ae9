import CV4L2

#if canImport(Glibc)
import Glibc
#endif

/// An errno value from a failed system call, typed so callers can `switch` on it.
public struct Errno: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    public init(_ rawValue: Int32) { self.rawValue = rawValue }
    public static let interrupted = Errno(EINTR)
    public static let wouldBlock = Errno(EAGAIN)
    public static let noDevice = Errno(ENODEV)
    public static let noSuchFile = Errno(ENOENT)
    public static let ioError = Errno(EIO)
    public static let permissionDenied = Errno(EACCES)
    public static let busy = Errno(EBUSY)
    public static let invalidArgument = Errno(EINVAL)
    public static let badDescriptor = Errno(EBADF)
    public static let badAddress = Errno(EFAULT)
    public var description: String { String(cString: strerror(rawValue)) }
}

/// Every system call the V4L2 camera makes, in one place, so tests can replace the device with a
/// script (see `V4L2Device`, which adds the EINTR retry and the typed ioctls on top).
///
/// Each method returns the call's result or the errno it failed with; none retries.
public protocol V4L2Syscalls: AnyObject, Sendable {
    /// v4l2_open(path, flags)
    func open(_ path: String, flags: Int32) -> Result<Int32, Errno>
    /// v4l2_close(fd)
    func close(_ fd: Int32)
    /// v4l2_ioctl(fd, request, argument): the one door every VIDIOC_* request goes through.
    func ioctl(_ fd: Int32, _ request: UInt, _ argument: UnsafeMutableRawPointer) -> Result<Int32, Errno>
    /// v4l2_mmap(nil, length, PROT_READ|PROT_WRITE, MAP_SHARED, fd, offset)
    func mmap(length: Int, fd: Int32, offset: Int) -> Result<UnsafeMutableRawPointer, Errno>
    /// v4l2_munmap(address, length)
    func munmap(_ address: UnsafeMutableRawPointer, length: Int)
    /// poll(fd, POLLIN) with a timeout: true if readable, false on timeout.
    func poll(_ fd: Int32, timeoutMilliseconds: Int32) -> Result<Bool, Errno>
}

/// The real calls, through libv4l2 so that formats the camera lacks are converted by libv4lconvert.
public final class LibV4L2Syscalls: V4L2Syscalls {
    public init() {}

    public func open(_ path: String, flags: Int32) -> Result<Int32, Errno> {
        let fd = digitd_v4l2_open(path, flags)
        return fd >= 0 ? .success(fd) : .failure(Errno(errno))
    }

    public func close(_ fd: Int32) { _ = v4l2_close(fd) }

    public func ioctl(_ fd: Int32, _ request: UInt, _ argument: UnsafeMutableRawPointer) -> Result<Int32, Errno> {
        let r = digitd_v4l2_ioctl(fd, request, argument)
        return r >= 0 ? .success(r) : .failure(Errno(errno))
    }

    public func mmap(length: Int, fd: Int32, offset: Int) -> Result<UnsafeMutableRawPointer, Errno> {
        let p = v4l2_mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, Int64(offset))
        guard let p, p != MAP_FAILED else { return .failure(Errno(errno)) }
        return .success(p)
    }

    public func munmap(_ address: UnsafeMutableRawPointer, length: Int) { _ = v4l2_munmap(address, length) }

    public func poll(_ fd: Int32, timeoutMilliseconds: Int32) -> Result<Bool, Errno> {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let r = Glibc.poll(&p, 1, timeoutMilliseconds)
        if r < 0 { return .failure(Errno(errno)) }
        if r > 0 && (p.revents & Int16(POLLERR | POLLHUP | POLLNVAL)) != 0 && (p.revents & Int16(POLLIN)) == 0 {
            return .failure(.noDevice)   // the device went away under us
        }
        return .success(r > 0)
    }
}
