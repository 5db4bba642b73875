import Glibc

/// What the kernel lets this process have: descriptors and memory.
public enum ProcessLimits {
    /// Raises the soft limit on open descriptors to the hard one (the proxy
    /// waits on epoll, so descriptors above 1024 are fine) and returns the
    /// soft limit now in force.
    @discardableResult
    public static func raiseOpenFileLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(RLIMIT_NOFILE_VALUE, &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(RLIMIT_NOFILE_VALUE, &raised) == 0 { limit = raised }
        }
        return Int(clamping: limit.rlim_cur)
    }

    /// Bytes of physical memory in the machine.
    public static func physicalMemory() -> UInt64 {
        let pages = sysconf(Int32(_SC_PHYS_PAGES))
        let size = SharedMapping.pageSize
        guard pages > 0, size > 0 else { return 4 << 30 }
        return UInt64(pages) * UInt64(size)
    }

    private static var RLIMIT_NOFILE_VALUE: __rlimit_resource_t { __rlimit_resource_t(RLIMIT_NOFILE.rawValue) }
}
