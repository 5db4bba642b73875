import ArgumentParser
import Sharing

/// `--property NAME=VALUE`: a free-form buffer property, checked here with
/// the rules the host applies (docs/buffer-sharing.md §4).
struct PropertyArgument: CommandLineValue {
    var name: String
    var value: String

    static func parse(_ text: String) throws -> PropertyArgument {
        guard let eq = text.firstIndex(of: "=") else { throw ValidationError("expected NAME=VALUE") }
        let name = String(text[..<eq]), value = String(text[text.index(after: eq)...])
        guard BufferProperty.isValidName(Array(name.utf8), maxBytes: 64) else {
            throw ValidationError("a property name is 1 to 64 letters, digits, '_', '-' or '.'")
        }
        guard value.utf8.count <= 256 else { throw ValidationError("a property value is at most 256 bytes") }
        return PropertyArgument(name: name, value: value)
    }
}
