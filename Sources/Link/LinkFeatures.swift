/// Feature bits of the hello frame.
public enum LinkFeatures {
    /// Both sides map the same shared region: regionInfo, the buffer registry
    /// frames and region resources may be used.
    public static let sharedRegion: UInt64 = 1 << 0
    /// The host serves buffer-service channels (`channelOpen` with service
    /// 1): producers of the guest talking to the host's buffer service.
    public static let bufferService: UInt64 = 1 << 1
    /// The host serves buffer-consumer channels (`channelOpen` with service
    /// 2): consumers in the guest of buffers the host lets it see.
    public static let bufferConsumers: UInt64 = 1 << 2
    /// The guest may open a second connection for the link, its bulk lane,
    /// and move channels that send megabytes onto it (docs/link-protocol.md §14).
    public static let bulkLane: UInt64 = 1 << 3
}
