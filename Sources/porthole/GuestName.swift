import ArgumentParser

/// `--name NAME`: how the host shows this proxy's guests (window titles, logs, stats).
struct GuestName: CommandLineValue {
    var text: String

    static func parse(_ text: String) throws -> GuestName {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        guard (1...64).contains(text.count), text.allSatisfy(allowed.contains) else {
            throw ValidationError("a guest name is 1 to 64 letters, digits, '.', '_' or '-'")
        }
        return GuestName(text: text)
    }
}
