/// An enumeration of a protocol (`<enum>` in its XML), kept for the
/// requests whose arguments name it: the values such an argument may carry,
/// each from the interface version that introduced it. A compositor that
/// meets a value outside them may end the client, or worse (a switch
/// without a default); the proxies refuse it first.
public struct EnumSpec: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var value: UInt32
        public var since: UInt32
        public init(value: UInt32, since: UInt32 = 1) {
            self.value = value
            self.since = since
        }
    }

    /// Qualified by its interface, as arguments name it: `wl_output.transform`.
    public var name: String
    /// A set of flags: any combination of the entries' bits.
    public var isBitfield: Bool
    public var entries: [Entry]

    public init(name: String, isBitfield: Bool = false, entries: [Entry]) {
        self.name = name
        self.isBitfield = isBitfield
        self.entries = entries
    }

    /// The interface that defines it (what `Entry.since` counts versions of).
    public var interface: Substring { name.prefix { $0 != "." } }

    /// Whether an argument may carry `value` on an object of `version`: one
    /// of the entries that exist at that version or, for a bitfield, a
    /// combination of their bits (0 included).
    public func allows(_ value: UInt32, version: UInt32) -> Bool {
        if isBitfield {
            var known: UInt32 = 0
            for e in entries where e.since <= version { known |= e.value }
            return value & ~known == 0
        }
        return entries.contains { $0.value == value && $0.since <= version }
    }

    /// The same enumeration for an argument of another interface's request:
    /// entries' `since` count versions of the defining interface, which the
    /// object the request is sent on does not tell, so all entries count.
    public var withoutVersions: EnumSpec {
        EnumSpec(name: name, isBitfield: isBitfield, entries: entries.map { Entry(value: $0.value) })
    }
}
