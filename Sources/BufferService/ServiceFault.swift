import Wayland

/// Why the buffer service refuses a request: what wl_display.error needs.
/// The connection that sent it is closed; nothing else is touched.
struct ServiceFault: Error, CustomStringConvertible {
    /// The object the error is about.
    var objectID: UInt32
    /// wl_display's code, or the interface's own (its XML enum).
    var code: UInt32
    var message: String

    var description: String { "object \(objectID), code \(code): \(message)" }

    static func display(_ code: DisplayErrorCode, object: UInt32 = Wire.displayID, _ why: String) -> ServiceFault {
        ServiceFault(objectID: object, code: code.rawValue, message: why)
    }
    static func invalidObject(_ why: String) -> ServiceFault { .display(.invalidObject, why) }
    static func invalidMethod(_ id: UInt32, _ why: String) -> ServiceFault { .display(.invalidMethod, object: id, why) }
    static func implementation(_ why: String) -> ServiceFault { .display(.implementation, why) }

    /// Longest message sent: the event must fit one 4096-byte Wayland message.
    static let maxMessageBytes = 1024

    /// The wl_display.error event reporting this fault.
    var errorEvent: [UInt8] {
        WlDisplayError(objectId: objectID, code: code, message: Array(message.utf8.prefix(Self.maxMessageBytes))).encode(objectID: Wire.displayID)
    }
}
