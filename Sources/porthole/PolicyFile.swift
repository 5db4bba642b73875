import ArgumentParser
import Foundation
import Proxy

/// `--policy FILE`: names and policies for many guests of one host proxy,
/// by the identity the kernel gives their link (a unix socket's user, a vsock
/// context id, a TCP address). JSON:
///
///     {"guests": [
///       {"peer": "vsock:3", "name": "work", "allow": ["virtual-keyboard"], "clipboard": "to-guest"},
///       {"peer": "uid:1001", "name": "banking", "clipboard": "none", "label_titles": true},
///       {"peer": "*", "name": "guest"}
///     ]}
///
/// The first rule whose `peer` matches names the guest; a guest no rule
/// matches is refused. `allow` defaults to none, `clipboard` to both,
/// `label_titles` to true.
struct PolicyFile {
    var rules: [GuestRule]

    static func load(_ path: String) throws -> PolicyFile {
        guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("--policy: cannot read \(path)") }
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: data) } catch {
            throw ValidationError("--policy \(path): not JSON: \(error.localizedDescription)")
        }
        guard let top = json as? [String: Any], let guests = top["guests"] as? [Any], !guests.isEmpty else {
            throw ValidationError("--policy \(path): expected {\"guests\": [rules...]} with at least one rule")
        }
        var rules: [GuestRule] = []
        for (index, item) in guests.enumerated() {
            func fail(_ why: String) -> ValidationError { ValidationError("--policy \(path): rule \(index + 1): \(why)") }
            guard let rule = item as? [String: Any] else { throw fail("not an object") }
            let known: Set<String> = ["peer", "name", "allow", "clipboard", "label_titles"]
            if let unknown = rule.keys.first(where: { !known.contains($0) }) { throw fail("unknown key '\(unknown)'") }
            guard let peer = rule["peer"] as? String, isPeerPattern(peer) else {
                throw fail("'peer' must be \"*\", \"uid:N\", \"vsock:CID\" or \"tcp:ADDRESS\"")
            }
            guard let nameText = rule["name"] as? String else { throw fail("no 'name'") }
            let name: GuestName
            do { name = try GuestName.parse(nameText) } catch { throw fail("\(error)") }
            var policy = GuestPolicy()
            if let allow = rule["allow"] {
                guard let list = allow as? [String] else { throw fail("'allow' must be a list of names") }
                do { policy.allowed = try CapabilityList.parse(list.joined(separator: ",")).capabilities } catch { throw fail("\(error)") }
            }
            if let clipboard = rule["clipboard"] {
                guard let text = clipboard as? String, let direction = ClipboardDirection(rawValue: text) else {
                    throw fail("'clipboard' must be one of \(ClipboardDirection.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                policy.clipboard = direction
            }
            if let label = rule["label_titles"] {
                guard let flag = label as? Bool else { throw fail("'label_titles' must be true or false") }
                policy.labelTitles = flag
            }
            rules.append(GuestRule(peer: peer, name: name.text, policy: policy))
        }
        return PolicyFile(rules: rules)
    }

    private static func isPeerPattern(_ text: String) -> Bool {
        if text == "*" { return true }
        for prefix in ["uid:", "vsock:"] where text.hasPrefix(prefix) { return UInt32(text.dropFirst(prefix.count)) != nil }
        return text.hasPrefix("tcp:") && text.count > 4
    }
}
