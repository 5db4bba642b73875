/// What the buffer service lets producers and consumers hold
/// (docs/buffer-sharing.md §4). Every resource a guest or a consumer can
/// make the host keep is bounded here.
public struct BufferServiceLimits: Sendable {
    /// Buffers one guest may have registered, all its producers together.
    public var buffersPerGuest = 256
    /// Sum of the host files of one guest's buffers (`offset + size` each).
    public var bytesPerGuest: UInt64 = 4 << 30
    public var propertiesPerBuffer = 32
    /// Buffers, bytes, properties and unreleased updates of one application
    /// of one guest (beside the guest's quotas above).
    public var buffersPerApplication = 64
    public var bytesPerApplication: UInt64 = 1 << 30
    public var propertiesPerApplication = 512
    /// Presents of one application not yet released by every consumer;
    /// past it the consumer holding the oldest one is evicted.
    public var pendingUpdatesPerApplication = 1024
    /// Copies of one guest's window buffers ("wayland-proxy", which count
    /// against no producer quota) made for consumers not trusted with its
    /// region: how many, and their bytes. Past them such consumers are not
    /// shown more of that guest's windows.
    public var regionCopiesPerGuest = 64
    public var regionCopyBytesPerGuest: UInt64 = 1 << 30
    /// References a buffer may have exported and not revoked.
    public var referencesPerBuffer = 16
    public var maxPropertyNameBytes = 64
    public var maxPropertyValueBytes = 256
    public var maxApplicationBytes = 256
    public var maxGuestNameBytes = 64
    /// Rectangles kept for one present; more become one whole-buffer update.
    public var damageRectsPerPresent = 64
    public var subscriptionsPerConsumer = 64
    /// Consumers connected at once; later ones are closed at once.
    public var consumers = 64
    /// Updates one consumer may hold unreleased before it is evicted.
    public var pendingUpdatesPerConsumer = 256
    /// Seconds an update may stay unreleased before its consumer is evicted.
    public var releaseTimeout: Double = 2
    /// Event bytes a consumer may leave unread before it is evicted.
    public var consumerQueueBytes = 4 << 20
    /// Event bytes a producer may leave unread before it is closed.
    public var producerQueueBytes = 1 << 20
    /// Fds a producer may send ahead of the requests that use them (one
    /// sendmsg's worth; consumers, whose requests carry none, may send none).
    public var queuedFds = 28
    /// Consumers one guest may have connected at once through its link
    /// (its others are closed at once), so that guests cannot take every
    /// one of `consumers` from the host's programs.
    public var consumersPerGuest = 8
    /// Views one guest consumer may hold, and the bytes of buffer files all
    /// of one guest's consumers may hold views of: the host proxy keeps a
    /// mapping and a mirror of each such file to replicate it over the link.
    public var viewsPerGuestConsumer = 16
    public var viewBytesPerGuest: UInt64 = 1 << 30

    public init() {}
}
