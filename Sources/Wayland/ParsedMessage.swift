/// One whole Wayland message read from a stream, decoded against the object
/// it targets.
public struct ParsedMessage {
    public var header: MessageHeader
    public var target: ObjectMap.Entry
    public var spec: MessageSpec
    public var args: [WireArg]
    /// The message's bytes as they will be forwarded.
    public var bytes: [UInt8]

    /// "interface.message", for logs.
    public var name: String { "\(target.interface.name).\(spec.name)" }
    /// The object the message is sent to.
    public var sender: UInt32 { header.objectID }

    /// The arguments as the typed value `T` (the message's kind is T's).
    /// Tables loaded at run time may redefine an interface: arguments of
    /// another shape are the sender's error, never a crash.
    public func typed<T: TypedMessage>(_: T.Type) throws(MessageFault) -> T {
        guard let value = T(args) else {
            throw .invalidMethod(sender, "\(name): arguments do not have the shape the protocol tables give")
        }
        return value
    }

    /// Replaces the arguments with `value`'s and re-encodes the bytes.
    public mutating func rewrite<T: TypedMessage>(_ value: T) {
        args = value.args
        bytes = WireCodec.encode(objectID: sender, opcode: header.opcode, args)
    }
}
