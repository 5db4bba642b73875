import Link
import PortholeSystem

/// Counters a proxy keeps, written as a flat JSON object by `--stats`.
public final class ProxyStats {
    /// Pixel bytes this side put into resource updates.
    public var pixelBytesSent: UInt64 = 0
    /// Bytes of buffer contents this process copied in memory (mirror
    /// updates, frame assembly); writes into host memfds are counted by `link`.
    public var copiedBytes: UInt64 = 0
    /// What the channels of this proxy's links count (data, pipes, region).
    public let link = LinkCounters()
    /// wl_surface.commit requests seen.
    public var commits: UInt64 = 0
    /// Wayland clients (guest) or compositor connections (host) open now.
    public var clients: Int = 0
    /// Links closed because the peer broke the protocol.
    public var linkErrors: UInt64 = 0
    /// Clients or channels closed for a protocol error.
    public var clientErrors: UInt64 = 0
    /// Client pools placed in the shared region (guest; cooperative ones included).
    public var regionPools: UInt64 = 0
    /// Client pools copied over the link because there was no region or it was full (guest).
    public var fallbackPools: UInt64 = 0
    /// wl_buffers made of guest clients' dma-bufs (zwp_linux_dmabuf_v1; guest).
    public var dmabufBuffers: UInt64 = 0
    /// Commits whose sync ran on the copy thread (guest: large region
    /// copies, and large syncs of stream windows on the bulk lane).
    public var syncsOnCopyThread: UInt64 = 0
    /// Of `copiedBytes`, those the copy helper copied (guest: its share of
    /// large region copies).
    public var copyHelperBytes: UInt64 = 0
    /// Bytes of stream pools' mirrors faulted in ahead of their first copy,
    /// off the loop (`MirrorPrefaulter`; guest, and host for views copied
    /// to guests' consumers).
    public var mirrorBytesPrefaulted: UInt64 = 0
    /// Reads of a client's pool that faulted because the client shrank its
    /// file mid-read (guest; each ended that client).
    public var memoryFaults: UInt64 = 0
    /// Host: views of consumers in guests whose files are copied to them
    /// over the link now (each a mirrored resource).
    public var guestConsumerViews: Int = 0
    /// Host: views of consumers in guests read in place in a sharing region
    /// of several guests (nothing copied).
    public var guestConsumerViewsShared: Int = 0
    /// Totals of links already closed (their live counters are gone).
    public var closedLinkSent: UInt64 = 0
    public var closedLinkReceived: UInt64 = 0

    public init() {}

    /// The JSON object, given the live links' byte counters.
    /// `extra`: more numeric fields (the host's buffer service).
    public func json(linkSent: UInt64, linkReceived: UInt64, links: Int, guests: [String] = [], extra: [(String, String)] = []) -> String {
        var fields: [(String, String)] = [
            ("link_sent_bytes", "\(closedLinkSent + linkSent)"),
            ("link_received_bytes", "\(closedLinkReceived + linkReceived)"),
            ("protocol_bytes_sent", "\(link.protocolBytesSent)"),
            ("pixel_bytes_sent", "\(pixelBytesSent)"),
            ("pipe_bytes_sent", "\(link.pipeBytesSent)"),
            ("copied_bytes", "\(copiedBytes + link.updateBytesCopied)"),
            ("update_bytes_on_receive_threads", "\(link.updateBytesOnThreads)"),
            ("commits", "\(commits)"),
            ("clients", "\(clients)"),
            ("links", "\(links)"),
            ("link_errors", "\(linkErrors)"),
            ("client_errors", "\(clientErrors)"),
            ("region_links", "\(link.regionLinks)"),
            ("region_pools", "\(regionPools)"),
            ("fallback_pools", "\(fallbackPools)"),
            ("registered_buffers", "\(link.registeredBuffers)"),
            ("memory_faults", "\(memoryFaults)"),
            ("syncs_on_copy_thread", "\(syncsOnCopyThread)"),
            ("copy_helper_bytes", "\(copyHelperBytes)"),
            ("mirror_prefaulted_bytes", "\(mirrorBytesPrefaulted)"),
            ("dmabuf_buffers", "\(dmabufBuffers)"),
            ("guest_consumer_views_copied", "\(guestConsumerViews)"),
            ("guest_consumer_views_shared", "\(guestConsumerViewsShared)"),
            ("open_fds", "\(openFileDescriptorCount())"),
        ] + extra
        if !guests.isEmpty {
            // Names the host gave: no quotes or control characters to escape.
            fields.append(("guests", "\"" + guests.joined(separator: ",") + "\""))
        }
        return "{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}\n"
    }

    /// Writes `text` to `path` atomically (a reader never sees half a file).
    public static func write(_ text: String, to path: String) {
        do { try FileSystem.writeAtomically(text, to: path) } catch { Log.warning("cannot write stats file \(path): \(error)") }
    }
}
