/// Why porthole-gen cannot write its output; the message names the file and
/// line or the message at fault.
struct GenerationError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
