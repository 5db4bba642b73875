
/// Why a Wayland message was refused: what wl_display.error needs. Text
/// from a peer is escaped where it is put into `message`; the whole is cut
/// to `maxMessageBytes`, so that the error fits one Wayland message and a
/// log line stays short.
public struct MessageFault: Error, CustomStringConvertible {
    /// The object the error is about.
    public var objectID: UInt32
    /// The error code (wl_display's or the interface's own enum).
    public var code: UInt32
    public var message: String

    public static let maxMessageBytes = 1024

    public init(objectID: UInt32, code: UInt32, message: String) {
        self.objectID = objectID
        self.code = code
        var cut = Substring(message.prefix(Self.maxMessageBytes))
        while cut.utf8.count > Self.maxMessageBytes { cut = cut.dropLast() }
        self.message = String(cut)
    }

    public var description: String { "object \(objectID), code \(code): \(message)" }

    /// A wl_display error; invalid_object and implementation errors are about the display itself.
    public static func display(_ code: DisplayErrorCode, object: UInt32 = Wire.displayID, _ why: String) -> MessageFault {
        MessageFault(objectID: object, code: code.rawValue, message: why)
    }
    public static func invalidObject(_ why: String) -> MessageFault { .display(.invalidObject, why) }
    public static func invalidMethod(_ id: UInt32, _ why: String) -> MessageFault { .display(.invalidMethod, object: id, why) }
    public static func implementation(_ why: String) -> MessageFault { .display(.implementation, why) }
    /// A wl_shm (or wl_shm_pool) error about `object`.
    public static func shm(_ code: ShmErrorCode, object: UInt32, _ why: String) -> MessageFault {
        MessageFault(objectID: object, code: code.rawValue, message: why)
    }

    /// The wl_display.error event reporting this fault.
    public var errorEvent: [UInt8] {
        WlDisplayError(objectId: objectID, code: code, message: Array(message.utf8)).encode(objectID: Wire.displayID)
    }
}
