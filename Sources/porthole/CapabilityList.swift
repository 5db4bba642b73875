import ArgumentParser
import Proxy

/// `--allow NAME,NAME...`: capabilities a guest may have beyond an ordinary
/// application's (see `Capability`).
struct CapabilityList: CommandLineValue {
    var capabilities: Set<Capability>

    static func parse(_ text: String) throws -> CapabilityList {
        var set: Set<Capability> = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let name = part.trimmingCharacters(in: .whitespaces)
            guard let c = Capability(rawValue: name) else {
                throw ValidationError("unknown capability '\(name)'; known: \(Capability.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            set.insert(c)
        }
        return CapabilityList(capabilities: set)
    }
}
