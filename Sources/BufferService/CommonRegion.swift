import PortholeSystem
import Sharing

/// A sharing region of several guests (`porthole host --shared-region
/// FILE:GUEST,GUEST...`): one host file behind a device in each of those
/// guests' VMs. The host allocates producers' buffers in it
/// (`allocate_shared`), so a buffer one of these guests grants another is
/// read in place, with no copy. Only the guests named here may allocate in
/// it or be given it; the host itself opens it read-only for its consumers.
public final class CommonRegion {
    public let region: SharedRegion
    /// The guests that map it, by the names the host gives their links.
    public let guests: Set<String>
    /// The file, read-only, as consumers get it.
    let readOnly: OwnedFD
    private var allocator: RegionAllocator

    public init(region: SharedRegion, guests: Set<String>) throws(SystemError) {
        self.region = region
        self.guests = guests
        readOnly = try FileSystem.openForReading(region.path)
        allocator = RegionAllocator(bounds: region.dataRange)
    }

    /// The tag the host wrote in the region's header: a guest that reads
    /// the same shows it maps this file.
    var tag: [UInt8]? { region.writtenHeader?.tag }

    var size: UInt64 { UInt64(region.size) }

    /// Where `size` bytes now lie, or nil when there is no room.
    func allocate(_ size: UInt64) -> UInt64? { allocator.allocate(size) }

    func free(_ offset: UInt64) { _ = allocator.release(offset) }

    /// Bytes still free in one piece (for the error a full region gives).
    public var largestFree: UInt64 { allocator.largestFree }
}
