import ArgumentParser

/// A reference's handle on the command line: its 16 bytes as 32 hex digits.
struct ReferenceHandle: CommandLineValue {
    var bytes: [UInt8]

    static func parse(_ text: String) throws -> ReferenceHandle {
        let digits = Array(text.utf8)
        guard digits.count == 32 else { throw ValidationError("a handle is 32 hex digits, not \(digits.count) characters") }
        var bytes: [UInt8] = []
        for i in stride(from: 0, to: 32, by: 2) {
            guard let byte = UInt8(String(decoding: digits[i..<(i + 2)], as: UTF8.self), radix: 16) else {
                throw ValidationError("'\(text)' is not 32 hex digits")
            }
            bytes.append(byte)
        }
        return ReferenceHandle(bytes: bytes)
    }

    /// The 32 hex digits of `bytes`.
    static func text(_ bytes: [UInt8]) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}
