/// Bounds a link enforces on what its peer sends. Exceeding one ends the link.
public struct LinkLimits: Sendable {
    /// Largest frame payload accepted or sent.
    public var maxPayload: Int = 1 << 20
    /// Channels open at once on one link.
    public var maxChannels: Int = 256
    /// Resources open at once on one channel.
    public var maxResourcesPerChannel: Int = 4096
    /// Largest size of one resource.
    public var maxResourceSize: UInt64 = 1 << 30
    /// Sum of resource sizes on one link.
    public var maxTotalResourceBytes: UInt64 = 8 << 30
    /// Most ranges in one update frame.
    public var maxRangesPerUpdate: Int = 65536
    /// Most resource references in one data frame.
    public var maxResourcesPerData: Int = 255
    /// Receive buffer each side offers a channel (buf_alloc).
    public var channelBuffer: UInt32 = 256 * 1024
    /// Outgoing link bytes above which producers pause.
    public var linkHighWater: Int = 8 << 20
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
