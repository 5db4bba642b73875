/// Wayland wire constants and the 8-byte message header.
public enum Wire {
    /// Smallest message: the header alone.
    public static let headerSize = 8
    /// Largest message libwayland (<= 1.22) sends or accepts.
    public static let maxMessageSize = 4096
    /// First id the server allocates.
    public static let serverIDStart: UInt32 = 0xFF00_0000
    /// The display object's id.
    public static let displayID: UInt32 = 1
}
