import PortholeSystem
import Sharing

/// One guest link's use of the host's shared region: the agreement that
/// both map the same memory, and the buffers the guest registered. The
/// compositor is only ever asked to read registered memory; everything is
/// dropped on reset and when the link ends.
public final class HostRegionSession {
    public let region: SharedRegion
    let counters: LinkCounters
    /// The guest showed it maps the same region.
    public private(set) var active = false
    public private(set) var registry: BufferRegistry
    private var offered = false
    /// Told of every registration, unregistration and reset, after the
    /// registry took it.
    public var onChange: ((RegistryChange) -> Void)?

    public init(region: SharedRegion, counters: LinkCounters, limits: RegistryLimits = RegistryLimits()) {
        self.region = region
        self.counters = counters
        registry = BufferRegistry(dataArea: region.dataRange, limits: limits)
    }

    /// The hello exchange finished: tell the guest what we mapped.
    func linkOpened(_ link: LinkEndpoint) {
        guard link.features & LinkFeatures.sharedRegion != 0, let header = region.writtenHeader else {
            Log.info("\(link.name): the guest has no shared region; its buffers are copied over the link")
            return
        }
        offered = true
        link.send(.regionInfo(size: header.size, tag: header.tag))
    }

    /// A link-level region or registry frame from the guest.
    func receive(_ frame: LinkFrame, link: LinkEndpoint) throws(LinkProtocolError) {
        switch frame {
        case .regionInfo(let size, let tag):
            guard offered, !active else { throw .unexpected("unexpected regionInfo") }
            let header = region.writtenHeader!
            guard size == header.size else {
                throw .regionMismatch("the host's region (\(region.path)) is \(header.size) bytes, the guest's is \(size) bytes")
            }
            guard tag == header.tag else {
                throw .regionMismatch("both are \(size) bytes but hold different memory: the host wrote tag \(header.tagHex) into \(region.path), the guest reads \(RegionHeader(size: size, tag: tag).tagHex)")
            }
            active = true
            counters.regionLinks += 1
            Log.info("\(link.name): shared region agreed (\(region.path), \(size) bytes)")
        case .bufferRegister(let d):
            guard active else { throw .registry("buffer \(d.id) registered before the region was agreed") }
            let accepted: RegisteredBuffer
            do { accepted = try registry.register(d) } catch { throw .registry(error.description) }
            counters.registeredBuffers += 1
            onChange?(.registered(accepted))
        case .bufferUnregister(let id):
            guard active else { throw .registry("unregister before the region was agreed") }
            do { try registry.unregister(id) } catch { throw .registry(error.description) }
            counters.registeredBuffers -= 1
            onChange?(.unregistered(id: id))
        case .registryReset:
            guard active else { throw .registry("reset before the region was agreed") }
            Log.info("\(link.name): the guest reset its buffer registry (\(registry.count) buffers dropped)")
            counters.registeredBuffers -= registry.count
            registry.reset()
            onChange?(.reset)
        default:
            throw .unexpected("frame without a channel: \(frame.traceLine)")
        }
    }

    /// The guest went away: forget everything it registered.
    func linkClosed() {
        if active { counters.regionLinks -= 1 }
        counters.registeredBuffers -= registry.count
        if registry.count > 0 { onChange?(.reset) }
        registry.reset()
        active = false
    }
}
