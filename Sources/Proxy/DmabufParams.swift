import PortholeSystem
import Wayland

/// A zwp_linux_buffer_params_v1 in the guest proxy: the planes a client
/// adds, and every check the protocol and the proxy make before a buffer
/// is made of them. The checks are arithmetic on what the client said and
/// on the dma-buf's size, so they are tested without a dma-buf.
struct DmabufParams {
    /// The protocol allows planes 0 to 3.
    static let maxPlanes: UInt32 = 4
    /// create's y_invert flag: rows bottom first (GL's order). The copy
    /// turns them; interlaced (2) and bottom_first (4) have no wl_shm form.
    static let yInvert: UInt32 = 1

    /// The checked buffer: its one plane, its shm format and the bytes it spans.
    struct Checked {
        var plane: DmabufPlane
        var shmFormat: UInt32
        var width: Int32
        var height: Int32
        var yInverted: Bool
        /// offset + stride x height: the bytes of the dma-buf the buffer reads.
        var end: Int
    }

    /// The params object, for error messages.
    let id: UInt32
    private(set) var planes: [UInt32: DmabufPlane] = [:]
    /// create or create_immed was sent.
    private(set) var used = false

    init(id: UInt32) { self.id = id }

    /// add: a plane index within the protocol's bound, set once, before creation.
    mutating func add(_ plane: DmabufPlane, index: UInt32) throws(MessageFault) {
        guard !used else { throw DmabufParamsErrorCode.fault(.alreadyUsed, object: id, "add after the buffer was created") }
        guard index < Self.maxPlanes else {
            throw DmabufParamsErrorCode.fault(.planeIdx, object: id, "plane index \(index) is not below \(Self.maxPlanes)")
        }
        guard planes[index] == nil else { throw DmabufParamsErrorCode.fault(.planeSet, object: id, "plane \(index) was already added") }
        planes[index] = plane
    }

    /// Marks the params used (a second create is already_used).
    mutating func use() throws(MessageFault) {
        guard !used else { throw DmabufParamsErrorCode.fault(.alreadyUsed, object: id, "the params were already used to create a buffer") }
        used = true
    }

    /// Checks a create or create_immed. `formats` maps the DRM fourccs the
    /// proxy offers to wl_shm formats; `dmabufSize` gives a plane's dma-buf
    /// size (lseek); `maxSize` bounds the bytes one buffer may hold.
    func check(width: Int32, height: Int32, format: UInt32, flags: UInt32, formats: [UInt32: UInt32],
               dmabufSize: (DmabufPlane) -> Int?, maxSize: Int) throws(MessageFault) -> Checked {
        guard let shm = formats[format], let bpp = bytesPerPixel(shmFormat: shm) else {
            throw DmabufParamsErrorCode.fault(.invalidFormat, object: id, "format \(fourccName(format)) is not offered")
        }
        guard let plane = planes[0] else { throw DmabufParamsErrorCode.fault(.incomplete, object: id, "plane 0 is missing") }
        guard planes.count == 1 else {
            throw DmabufParamsErrorCode.fault(.incomplete, object: id, "format \(fourccName(format)) has 1 plane, \(planes.count) were added")
        }
        guard DmabufPlane.offered.contains(plane.modifier) else {
            throw DmabufParamsErrorCode.fault(.invalidFormat, object: id,
                                              "modifier 0x\(String(plane.modifier, radix: 16)) is not offered (only linear and implicit)")
        }
        guard width > 0, height > 0 else {
            throw DmabufParamsErrorCode.fault(.invalidDimensions, object: id, "invalid size \(width)x\(height)")
        }
        guard flags & ~Self.yInvert == 0 else {
            throw DmabufParamsErrorCode.fault(.invalidWlBuffer, object: id, "flags \(flags): interlaced buffers cannot be shown as wl_shm")
        }
        let row = Int(width) * bpp
        guard Int(plane.stride) >= row else {
            throw DmabufParamsErrorCode.fault(.outOfBounds, object: id, "stride \(plane.stride) is less than width \(width) x \(bpp) bytes")
        }
        // UInt32 operands: no overflow in Int (64 bits).
        let end = Int(plane.offset) + Int(plane.stride) * Int(height)
        guard end <= maxSize else {
            throw DmabufParamsErrorCode.fault(.outOfBounds, object: id, "buffer of \(end) bytes is over the proxy's limit of \(maxSize)")
        }
        guard let size = dmabufSize(plane) else {
            throw DmabufParamsErrorCode.fault(.invalidWlBuffer, object: id, "the plane's fd is not a dma-buf")
        }
        guard end <= size else {
            throw DmabufParamsErrorCode.fault(.outOfBounds, object: id,
                                              "offset \(plane.offset) + stride \(plane.stride) x height \(height) = \(end) is beyond the dma-buf's \(size) bytes")
        }
        return Checked(plane: plane, shmFormat: shm, width: width, height: height, yInverted: flags & Self.yInvert != 0, end: end)
    }
}

/// A DRM fourcc as its four characters, for messages ("XR24"); unprintable bytes in hex.
func fourccName(_ code: UInt32) -> String {
    let bytes = (0..<4).map { UInt8(truncatingIfNeeded: code >> (8 * $0)) }
    guard bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) else { return "0x" + String(code, radix: 16) }
    return String(decoding: bytes, as: UTF8.self)
}
