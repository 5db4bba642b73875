import Sharing

/// A decoded link frame. Channel-scoped frames carry their channel id.
public enum LinkFrame: Equatable, Sendable {
    case hello(version: UInt16, role: LinkRole, features: UInt64)
    case closeLink(code: UInt32, reason: String)
    /// The guest opens a channel; `service` says what it carries on the host.
    case channelOpen(channel: UInt32, bufAlloc: UInt32, service: ChannelService = .compositor)
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
    /// Host: the secret with which the guest may open this link's bulk
    /// lane, a second connection (docs/link-protocol.md §14).
    case laneOffer(token: [UInt8])
    /// The first frame on a bulk lane connection, in place of a hello.
    case laneAttach(token: [UInt8])
    /// Guest: from here on, every frame of `channel` from the guest comes on the lane.
    case laneMove(channel: UInt32)

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
