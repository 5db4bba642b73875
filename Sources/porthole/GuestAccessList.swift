import ArgumentParser
import BufferService

/// `--buffers-to-guest APP[@GUEST],...`: which applications the host's own
/// programs publish that consumers in which guests may see.
struct GuestAccessList: CommandLineValue {
    var rules: [GuestBufferAccess]

    static func parse(_ text: String) throws -> GuestAccessList {
        var rules: [GuestBufferAccess] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let rule = GuestBufferAccess(parsing: String(part)) else {
                throw ValidationError("'\(part)' is not APP or APP@GUEST (APP may be '*')")
            }
            rules.append(rule)
        }
        return GuestAccessList(rules: rules)
    }
}
