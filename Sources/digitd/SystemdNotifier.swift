import Foundation

/// sd_notify(3) without libsystemd: datagrams like `READY=1` or `STATUS=…` sent to the socket
/// named by $NOTIFY_SOCKET (a path, or `@name` for the abstract namespace). Inactive when the
/// variable is absent (not started by systemd with Type=notify). Safe to use from any thread.
final class SystemdNotifier: @unchecked Sendable {
    let socketPath: String
    /// Half the watchdog timeout systemd set (WATCHDOG_USEC), when this process is the one watched.
    let watchdogInterval: Double?
    private let fd: Int32
    private var address = sockaddr_un()
    private var addressLength: socklen_t = 0

    init?(environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard let path = environment["NOTIFY_SOCKET"], !path.isEmpty,
              path.hasPrefix("/") || path.hasPrefix("@") else { return nil }
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return nil }
        socketPath = path
        if let usec = environment["WATCHDOG_USEC"].flatMap(Double.init), usec > 0,
           environment["WATCHDOG_PID"].flatMap(Int32.init).map({ $0 == getpid() }) ?? true {
            watchdogInterval = usec / 2e6
        } else {
            watchdogInterval = nil
        }
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            if bytes[0] == UInt8(ascii: "@") { raw[0] = 0 }   // abstract namespace
        }
        // Abstract names are not NUL-terminated: the length says where they end.
        addressLength = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count
                                  + (bytes[0] == UInt8(ascii: "@") ? 0 : 1))
    }

    deinit { close(fd) }

    /// Sends one notification (several `KEY=value` lines may be joined with "\n"); false on failure.
    @discardableResult
    func notify(_ state: String) -> Bool {
        var addr = address
        let n = Array(state.utf8).withUnsafeBytes { bytes in
            withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL), $0, addressLength)
                }
            }
        }
        return n == state.utf8.count
    }
}
