import Sharing

/// Bounds a link enforces on what its peer sends and makes it hold (the
/// per-guest quotas of docs/ARCHITECTURE.md, "Quotas"). Exceeding one ends
/// the link, unless its comment says otherwise.
public struct LinkLimits: Sendable {
    /// Largest frame payload accepted or sent.
    public var maxPayload: Int = 1 << 20
    /// Channels open at once on one link.
    public var maxChannels: Int = 256
    /// Resources open at once on one channel.
    public var maxResourcesPerChannel: Int = 4096
    /// Largest size of one resource.
    public var maxResourceSize: UInt64 = 1 << 30
    /// Sum of resource sizes on one link (`porthole host --guest-memory`).
    public var maxTotalResourceBytes: UInt64 = 2 << 30
    /// Largest read-only file (a keymap) the peer may send; senders refuse
    /// files over 16 MiB themselves.
    public var maxReadOnlyFileSize: UInt64 = 16 << 20
    /// Descriptors held for the peer's resources (memfds, pipes) and, on a
    /// host, for its channels' compositor connections (`--guest-fds`).
    public var maxFds: Int = 2048
    /// Host: outgoing link bytes above which the host reads nothing more
    /// from the guest until the guest has taken some (a guest that sends but
    /// never reads cannot grow the host's queue). Only the host holds to it:
    /// the guest trusts its host, and one side that always reads is what
    /// keeps two full queues from waiting on each other.
    public var maxQueuedBytes: Int = 16 << 20
    /// Host: channels a guest may open per second, on average, and at once
    /// after a quiet spell; a channelOpen beyond them is refused (code 3).
    public var channelOpensPerSecond: Int = 64
    public var channelOpenBurst: Int = 128
    /// Channels this side closed whose acknowledgement has not come: a peer
    /// that lets more pile up ends the link.
    public var maxUnacknowledgedCloses: Int = 256
    /// Most ranges in one update frame.
    public var maxRangesPerUpdate: Int = 65536
    /// Most resource references in one data frame.
    public var maxResourcesPerData: Int = 255
    /// Receive buffer each side offers a channel (buf_alloc).
    public var channelBuffer: UInt32 = 256 * 1024
    /// Outgoing link bytes above which producers pause.
    public var linkHighWater: Int = 8 << 20
    /// What one guest may register in the shared region.
    public var registry = RegistryLimits()
    /// Length of a close reason.
    public var maxReasonBytes: Int = 1024

    public init() {}

    /// `text` cut on a character boundary to at most `maxReasonBytes` bytes of UTF-8.
    public func reasonText(_ text: String) -> String {
        var t = Substring(text.prefix(maxReasonBytes))
        while t.utf8.count > maxReasonBytes { t = t.dropLast() }
        return String(t)
    }
}
