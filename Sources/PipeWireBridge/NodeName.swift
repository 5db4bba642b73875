/// The name of a bridge node: `porthole.GUEST.APPLICATION.N`, N counting
/// the nodes of that guest and application from 1. Guest and application
/// come from the buffer service (the application from the guest): each is
/// cut to 64 bytes, and bytes other than letters, digits, '-' and '_'
/// become '_', so the name is one plain word for pw-link, pw-cli and
/// target.object.
public enum NodeName {
    public static func make(guest: String, application: String, index: Int) -> String {
        "porthole.\(word(guest)).\(word(application)).\(index)"
    }

    static func word(_ text: String) -> String {
        let bytes = text.utf8.prefix(64).map { b -> UInt8 in
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"): b
            default: UInt8(ascii: "_")
            }
        }
        return bytes.isEmpty ? "_" : String(decoding: bytes, as: UTF8.self)
    }
}
