import Wayland

/// Why a Wayland message was refused: what wl_display.error needs.
struct MessageFault: Error, CustomStringConvertible {
    /// The object the error is about.
    var objectID: UInt32
    /// The error code (wl_display's or the interface's own enum).
    var code: UInt32
    var message: String

    var description: String { "object \(objectID), code \(code): \(message)" }

    /// A wl_display error; invalid_object and implementation errors are about the display itself.
    static func display(_ code: DisplayErrorCode, object: UInt32 = Wire.displayID, _ why: String) -> MessageFault {
        MessageFault(objectID: object, code: code.rawValue, message: why)
    }
    static func invalidObject(_ why: String) -> MessageFault { .display(.invalidObject, why) }
    static func invalidMethod(_ id: UInt32, _ why: String) -> MessageFault { .display(.invalidMethod, object: id, why) }
    static func implementation(_ why: String) -> MessageFault { .display(.implementation, why) }
    /// A wl_shm (or wl_shm_pool) error about `object`.
    static func shm(_ code: ShmErrorCode, object: UInt32, _ why: String) -> MessageFault {
        MessageFault(objectID: object, code: code.rawValue, message: why)
    }

    /// The wl_display.error event reporting this fault.
    var errorEvent: [UInt8] {
        WlDisplayError(objectId: objectID, code: code, message: Array(message.utf8)).encode(objectID: Wire.displayID)
    }
}
