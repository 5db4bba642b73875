import Sharing

/// Frame types of link protocol v1 (docs/link-protocol.md).
public enum FrameType: UInt16, Sendable {
    case hello = 1
    case closeLink = 2
    case regionInfo = 3
    case channelOpen = 16
    case channelAccept = 17
    case channelClose = 18
    case data = 19
    case creditUpdate = 20
    case creditRequest = 21
    case resourceOpen = 32
    case resourceExtend = 33
    case resourceUpdate = 34
    case resourceClose = 35
    case pipeData = 36
    case pipeClose = 37
    case bufferRegister = 48
    case bufferUnregister = 49
    case registryReset = 50
}

/// Which end of the link a peer is.
public enum LinkRole: UInt8, Sendable, CustomStringConvertible {
    case guest = 1
    case host = 2
    public var description: String { self == .guest ? "guest" : "host" }
}

/// What a resource stands for on the side that receives it.
public enum ResourceKind: UInt32, Sendable {
    /// A wl_shm pool: grows, receives updates, is passed as a read-write fd.
    case shmPool = 0
    /// A read-only file (keymap, format table): content arrives once, then it is sealed.
    case readOnlyFile = 1
    /// The write end of a pipe: the receiver makes a pipe, passes its write end
    /// on, and sends what it reads back as pipe-data frames.
    case pipe = 2
    /// The shared region (feature `sharedRegion`): the receiver passes its own
    /// region fd; `size` is the region's size. Never updated or extended.
    case region = 3
}

/// One byte range of a resource update and where its data sits in the frame.
public struct UpdateRange: Equatable, Sendable {
    public var offset: UInt64
    public var length: UInt32
    public init(offset: UInt64, length: UInt32) {
        self.offset = offset
        self.length = length
    }
}

/// A decoded link frame. Channel-scoped frames carry their channel id.
public enum LinkFrame: Equatable, Sendable {
    case hello(version: UInt16, role: LinkRole, features: UInt64)
    case closeLink(code: UInt32, reason: String)
    case channelOpen(channel: UInt32, bufAlloc: UInt32)
    case channelAccept(channel: UInt32, bufAlloc: UInt32)
    case channelClose(channel: UInt32, code: UInt32, reason: String)
    /// Wayland bytes (whole messages) plus the resources standing for their fds, in order.
    case data(channel: UInt32, credit: Credit, resources: [UInt32], bytes: [UInt8])
    case creditUpdate(channel: UInt32, credit: Credit)
    case creditRequest(channel: UInt32)
    case resourceOpen(channel: UInt32, resource: UInt32, kind: ResourceKind, size: UInt64)
    case resourceExtend(channel: UInt32, resource: UInt32, size: UInt64)
    /// New contents for byte ranges of a resource; `bytes` is their data back to back.
    case resourceUpdate(channel: UInt32, resource: UInt32, ranges: [UpdateRange], bytes: [UInt8])
    case resourceClose(channel: UInt32, resource: UInt32)
    case pipeData(channel: UInt32, resource: UInt32, bytes: [UInt8])
    case pipeClose(channel: UInt32, resource: UInt32)
    /// The size of the shared region and the tag this side sees in its header.
    case regionInfo(size: UInt64, tag: [UInt8])
    /// The guest registers a buffer in the shared region.
    case bufferRegister(BufferDescriptor)
    case bufferUnregister(id: UInt32)
    /// The guest declares every registered buffer invalid.
    case registryReset

    /// The receive-buffer state a peer advertises (virtio-vsock's buf_alloc and fwd_cnt).
    public struct Credit: Equatable, Sendable {
        public var bufAlloc: UInt32
        public var fwdCnt: UInt32
        public init(bufAlloc: UInt32, fwdCnt: UInt32) {
            self.bufAlloc = bufAlloc
            self.fwdCnt = fwdCnt
        }
    }
}

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
    public static let supportedFeatures: UInt64 = LinkFeatures.sharedRegion
}

/// Feature bits of the hello frame.
public enum LinkFeatures {
    /// Both sides map the same shared region: regionInfo, the buffer registry
    /// frames and region resources may be used.
    public static let sharedRegion: UInt64 = 1 << 0
}
