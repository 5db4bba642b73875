/// Feature bits of the hello frame.
public enum LinkFeatures {
    /// Both sides map the same shared region: regionInfo, the buffer registry
    /// frames and region resources may be used.
    public static let sharedRegion: UInt64 = 1 << 0
}
