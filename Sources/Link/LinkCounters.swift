/// Traffic counters the channels of a proxy's links add to; the proxy
/// reports them in its stats.
public final class LinkCounters {
    /// Wayland bytes put into data frames.
    public var protocolBytesSent: UInt64 = 0
    /// Pipe bytes sent.
    public var pipeBytesSent: UInt64 = 0
    /// Update bytes copied into local memory in user space (bytes the kernel
    /// received straight into place are not copies).
    public var updateBytesCopied: UInt64 = 0
    /// Update bytes a receive thread took in, not the loop (`ReceiveThreads`).
    public var updateBytesOnThreads: UInt64 = 0
    /// Links on which both proxies agreed to use the shared region (now).
    public var regionLinks: Int = 0
    /// Buffers registered in the shared region now.
    public var registeredBuffers: Int = 0
    public init() {}
}
