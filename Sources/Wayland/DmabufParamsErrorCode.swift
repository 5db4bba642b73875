/// zwp_linux_buffer_params_v1's error codes (linux-dmabuf-unstable-v1.xml).
public enum DmabufParamsErrorCode: UInt32 {
    /// The params object was already used to create a wl_buffer.
    case alreadyUsed = 0
    /// Plane index out of bounds.
    case planeIdx = 1
    /// The plane index was already set.
    case planeSet = 2
    /// Missing or too many planes to create a buffer.
    case incomplete = 3
    /// Format not supported (or format and modifier).
    case invalidFormat = 4
    /// Invalid width or height.
    case invalidDimensions = 5
    /// offset + stride * height goes out of the dma-buf's bounds.
    case outOfBounds = 6
    /// Invalid wl_buffer resulted from importing dma-bufs with create_immed.
    case invalidWlBuffer = 7

    /// A fault with this code about `object`.
    public static func fault(_ code: DmabufParamsErrorCode, object: UInt32, _ why: String) -> MessageFault {
        MessageFault(objectID: object, code: code.rawValue, message: why)
    }
}
