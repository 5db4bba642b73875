import PortholeSystem
import Sharing

/// The Wayland proxy as one application of the service: the wl_buffers a
/// guest proxy registers in its shared region are listed to consumers as
/// application "wayland-proxy", with the region (opened read-only) as their
/// file, so a host program can watch a guest window's pixels without the
/// compositor. Nothing is copied: the consumer reads the region itself.
extension BufferService {
    /// The application region buffers are listed under.
    public static let waylandProxyApplication = "wayland-proxy"

    /// A change in `guest`'s shared-region registry. `region`: the host's
    /// region, needed for registrations.
    public func regionChanged(_ change: RegistryChange, guest: String, region: SharedRegion?) {
        switch change {
        case .registered(let r):
            guard let region else { return }
            addRegionBuffer(r, guest: guest, region: region)
        case .unregistered(let id):
            guard let bid = regionBuffers[guest]?.removeValue(forKey: id), let b = buffers[bid] else { return }
            remove(b, releaseWaiting: false)
        case .reset:
            let ids = regionBuffers.removeValue(forKey: guest) ?? [:]
            reset(guest: guest, buffers: ids.values.sorted().compactMap { buffers[$0] })
            regionFiles.removeValue(forKey: guest)?.close()
        }
    }

    private func addRegionBuffer(_ r: RegisteredBuffer, guest: String, region: SharedRegion) {
        // A view is one piece of the file: the guest proxy registers each
        // wl_buffer as one range.
        guard r.ranges.count == 1, let range = r.ranges.first else { return }
        let (start, length) = Self.image(of: r, in: range)
        guard start + length <= UInt64(region.size), length > 0, length <= UInt64(UInt32.max) else { return }
        let file: OwnedFD
        if let f = regionFiles[guest] {
            file = f
        } else {
            do { file = try FileSystem.openForReading(region.path) } catch {
                Log.warning("buffer service: cannot list \(guest)'s region buffers: \(error)")
                return
            }
            regionFiles[guest] = file
        }
        let b = SharedBuffer(id: nextBufferID(), guest: guest, application: Self.waylandProxyApplication, file: file, fileSize: UInt64(region.size),
                             offset: UInt32(start), size: UInt32(length), producer: nil, objectID: r.id, ownsFile: false)
        for (name, value) in r.properties.sorted(by: { $0.key < $1.key }) {
            // wl_shm numbers its two oldest formats 0 and 1; consumers read DRM names.
            b.addProperty(name, name == "format" ? (["0": "ARGB8888", "1": "XRGB8888"][value] ?? value) : value)
        }
        b.addProperty("client", r.application)
        b.publish()
        buffers[b.id] = b
        counters.buffers = buffers.count
        regionBuffers[guest, default: [:]][r.id] = b.id
        publish(b)
    }

    /// Where the picture lies: from the wl_buffer's own offset, stride x
    /// height bytes, when the (guest-given) properties say so and it fits
    /// the range; the whole range otherwise.
    static func image(of r: RegisteredBuffer, in range: MemoryRange) -> (offset: UInt64, length: UInt64) {
        guard let offset = r.properties["offset"].flatMap({ UInt64($0) }), let stride = r.properties["stride"].flatMap({ UInt64($0) }),
              let height = r.properties["height"].flatMap({ UInt64($0) }) else { return (range.offset, range.length) }
        let (bytes, overflow) = stride.multipliedReportingOverflow(by: height)
        guard !overflow, bytes > 0, offset >= range.offset, offset - range.offset <= range.length,
              bytes <= range.length - (offset - range.offset) else { return (range.offset, range.length) }
        return (offset, bytes)
    }
}
