/// Protocol constants.
public enum LinkProtocol {
    /// "PHLK" read as a little-endian u32.
    public static let magic: UInt32 = 0x4B4C_4850
    /// The version this implementation speaks.
    public static let version: UInt16 = 1
    /// Frame header size: u32 length, u16 type, u16 flags, u32 channel.
    public static let headerSize = 12
    /// Resource ids created by the host have this bit set.
    public static let hostResourceBit: UInt32 = 0x8000_0000
    /// Feature bits this implementation knows.
    public static let supportedFeatures: UInt64 = LinkFeatures.sharedRegion | LinkFeatures.bufferService | LinkFeatures.bufferConsumers
        | LinkFeatures.bulkLane
    /// Length of the secret a host gives for its link's bulk lane.
    public static let laneTokenBytes = 16
}
