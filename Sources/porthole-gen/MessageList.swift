import Foundation
import Wayland

/// The list of messages the proxies interpret (protocols/interpreted-messages.txt):
/// one `request INTERFACE.MESSAGE` or `event INTERFACE.MESSAGE` a line, `#`
/// starting a comment, blank lines ignored.
struct MessageList {
    /// One listed message.
    struct Entry {
        var isRequest: Bool
        var interface: String
        var message: String
        /// Where it is listed, for errors.
        var line: Int
    }

    var entries: [Entry]

    /// Reads and parses the list at `path`.
    static func load(path: String) throws(GenerationError) -> MessageList {
        guard let data = FileManager.default.contents(atPath: path) else { throw GenerationError("\(path): cannot read file") }
        return try parse(String(decoding: data, as: UTF8.self), file: path)
    }

    /// Parses list text; a malformed or repeated line is an error naming it.
    static func parse(_ text: String, file: String) throws(GenerationError) -> MessageList {
        var entries: [Entry] = []
        var seen: [String: Int] = [:]
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = index + 1
            let content = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let words = content.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if words.isEmpty { continue }
            guard words.count == 2, words[0] == "request" || words[0] == "event" else {
                throw GenerationError("\(file):\(line): expected 'request INTERFACE.MESSAGE' or 'event INTERFACE.MESSAGE'")
            }
            let parts = words[1].split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 2, ArgSpec.isValidName(String(parts[0])), ArgSpec.isValidName(String(parts[1])) else {
                throw GenerationError("\(file):\(line): '\(words[1])' is not INTERFACE.MESSAGE")
            }
            let key = "\(words[0]) \(words[1])"
            if let first = seen[key] { throw GenerationError("\(file):\(line): \(key) is already listed on line \(first)") }
            seen[key] = line
            entries.append(Entry(isRequest: words[0] == "request", interface: String(parts[0]), message: String(parts[1]), line: line))
        }
        return MessageList(entries: entries)
    }
}
