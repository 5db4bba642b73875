/// When the recording compositor sends wl_buffer.release for a committed buffer.
public enum BufferRelease: Sendable, Equatable {
    /// Right after copying the buffer at commit (the default).
    case afterCopy
    /// At the next frame tick, so a fast client finds both of its buffers
    /// held and has to wait (immediately if the frame interval is zero).
    case onFrameTick
}
