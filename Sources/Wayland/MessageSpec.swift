/// A request or event: name, first interface version that has it, whether it
/// destroys its object, its arguments and, for a message the proxies
/// interpret, which one it is.
public struct MessageSpec: Sendable, Equatable {
    public var name: String
    public var since: UInt32
    public var isDestructor: Bool
    public var args: [ArgSpec]
    /// Set by `Interface` from the interface and message names, once, so that
    /// code handling a message switches on this instead of comparing names.
    /// nil for a message no proxy looks into.
    public var kind: MessageKind?

    public init(name: String, since: UInt32 = 1, isDestructor: Bool = false, args: [ArgSpec]) {
        self.name = name
        self.since = since
        self.isDestructor = isDestructor
        self.args = args
    }

    /// Number of fd arguments (carried out of band).
    public var fdCount: Int { args.reduce(0) { $0 + ($1.type == .fd ? 1 : 0) } }
}
