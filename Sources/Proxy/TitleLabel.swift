/// Marks a guest's window titles with the guest's name, as "[name] title",
/// so that no guest can pass a window off as a host one (a guest that puts
/// "[other]" in its own title still shows its real name first). The guest's
/// part is cleaned: control characters and bidirectional overrides go, invalid UTF-8 is replaced, and
/// it is cut to `maxTitleBytes`.
struct TitleLabel {
    let prefix: [UInt8]

    /// Longest title kept from the guest, in bytes (a whole Wayland message is 4 KiB at most).
    static let maxTitleBytes = 1024

    init(guestName: String) { prefix = Array("[\(guestName)] ".utf8) }

    func label(_ title: [UInt8]) -> [UInt8] {
        var text = ""
        for scalar in String(decoding: title, as: UTF8.self).unicodeScalars where !Self.isControl(scalar) {
            guard text.utf8.count + String(scalar).utf8.count <= Self.maxTitleBytes else { break }
            text.unicodeScalars.append(scalar)
        }
        return prefix + Array(text.utf8)
    }

    /// C0 and C1 controls and DEL (nothing a title needs, and terminal
    /// escapes among them), and the bidirectional embeddings, overrides and
    /// isolates, which make text read in another order than it is written.
    private static func isControl(_ s: Unicode.Scalar) -> Bool {
        s.value < 0x20 || (0x7F...0x9F).contains(s.value) || (0x202A...0x202E).contains(s.value) || (0x2066...0x2069).contains(s.value)
    }
}
