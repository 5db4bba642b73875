/// Swift spellings of protocol names: interface `wl_shm_pool` and message
/// `create_buffer` give the type `WlShmPoolCreateBuffer` and the case
/// `wlShmPoolCreateBuffer`; argument `mime_type` gives `mimeType`.
enum SwiftName {
    /// The words of snake_case names, each starting with a capital.
    static func upperCamel(_ names: String...) -> String {
        names.flatMap { $0.split(separator: "_") }.map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    /// As `upperCamel`, with the first word left in lower case.
    static func lowerCamel(_ names: String...) -> String {
        let words = names.flatMap { $0.split(separator: "_") }
        guard let first = words.first else { return "" }
        return String(first) + words.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    /// An argument's property name, in backticks if Swift reserves it.
    static func property(_ argument: String) -> String {
        let name = lowerCamel(argument)
        return reserved.contains(name) ? "`\(name)`" : name
    }

    /// Words that cannot be a property name or an argument label as they are.
    private static let reserved: Set<String> = [
        "associatedtype", "class", "deinit", "enum", "extension", "fileprivate", "func", "import", "init", "inout",
        "internal", "let", "open", "operator", "private", "precedencegroup", "protocol", "public", "rethrows", "static",
        "struct", "subscript", "typealias", "var", "break", "case", "catch", "continue", "default", "defer", "do", "else",
        "fallthrough", "for", "guard", "if", "in", "repeat", "return", "throw", "switch", "where", "while", "Any", "as",
        "await", "false", "is", "nil", "self", "Self", "super", "throws", "true", "try", "Type", "Protocol",
    ]
}
