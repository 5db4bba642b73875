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
            if r.properties[Self.producerRegistrationProperty] != nil {
                // Memory the guest proxy allocated for a producer: the
                // producer's register_region claims it.
                guard r.ranges.count == 1, let range = r.ranges.first, regionFile(of: guest, region: region) != nil else { return }
                regionClaims[guest, default: [:]][r.id] = RegionClaim(range: range, buffer: nil)
            } else {
                addRegionBuffer(r, guest: guest, region: region)
            }
        case .unregistered(let id):
            if let claim = regionClaims[guest]?.removeValue(forKey: id) {
                guard let bid = claim.buffer, let b = buffers[bid] else { return }
                b.producer?.lose(b)
                remove(b, releaseWaiting: false)
                return
            }
            guard let bid = regionBuffers[guest]?.removeValue(forKey: id), let b = buffers[bid] else { return }
            remove(b, releaseWaiting: false)
        case .reset:
            let ids = regionBuffers.removeValue(forKey: guest) ?? [:]
            let claimed = (regionClaims.removeValue(forKey: guest) ?? [:]).values.compactMap { $0.buffer.flatMap { buffers[$0] } }
            for b in claimed { b.producer?.lose(b) }
            reset(guest: guest, buffers: (ids.values.compactMap { buffers[$0] } + claimed).sorted { $0.id < $1.id })
            regionFiles.removeValue(forKey: guest)?.close()
        }
    }

    /// A guest client committed a wl_buffer of registration `id` with
    /// `damage` (buffer pixels; empty: all of it): the buffer's views hear
    /// `updated` with its next sequence, as if a producer presented it.
    public func regionBufferCommitted(_ id: UInt32, damage: [Int32], guest: String) {
        guard let bid = regionBuffers[guest]?[id], let b = buffers[bid] else { return }
        var pending = PendingDamage()
        var i = 0
        while i + 3 < damage.count {
            pending.add(x: damage[i], y: damage[i + 1], width: damage[i + 2], height: damage[i + 3], limit: limits.damageRectsPerPresent)
            i += 4
        }
        let sequence = (b.lastSequence ?? 0) &+ 1
        b.recordPresent(sequence)
        present(b, sequence: sequence, damage: pending, renderUsec: 0)
    }

    /// The property the guest proxy marks registrations for producers with
    /// (they are not wl_buffers, and are not listed as "wayland-proxy").
    public static let producerRegistrationProperty = "buffer-service"

    /// `guest`'s registration `id` made for a producer, if no buffer claimed it yet.
    func unclaimedRegion(_ id: UInt32, of guest: String) -> MemoryRange? {
        guard let claim = regionClaims[guest]?[id], claim.buffer == nil else { return nil }
        return claim.range
    }

    func claim(_ id: UInt32, of guest: String, by b: SharedBuffer) { regionClaims[guest]?[id]?.buffer = b.id }

    /// The guest's region, opened read-only once for all its buffers.
    func regionFile(of guest: String, region: SharedRegion? = nil) -> OwnedFD? {
        if let f = regionFiles[guest] { return f }
        guard let region else { return nil }
        do {
            let f = try FileSystem.openForReading(region.path)
            regionFiles[guest] = f
            return f
        } catch {
            Log.warning("buffer service: cannot open \(guest)'s region: \(error)")
            return nil
        }
    }

    private func addRegionBuffer(_ r: RegisteredBuffer, guest: String, region: SharedRegion) {
        // A view is one piece of the file: the guest proxy registers each
        // wl_buffer as one range.
        guard r.ranges.count == 1, let range = r.ranges.first else { return }
        let (start, length) = Self.image(of: r, in: range)
        guard start + length <= UInt64(region.size), length > 0, length <= UInt64(UInt32.max) else { return }
        guard let file = regionFile(of: guest, region: region) else { return }
        let b = SharedBuffer(id: nextBufferID(), guest: guest, application: Self.waylandProxyApplication, file: file, fileSize: UInt64(region.size),
                             offset: UInt32(start), size: UInt32(length), producer: nil, objectID: r.id, ownsFile: false, inRegion: true, counted: false)
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
