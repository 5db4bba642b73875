import ArgumentParser

/// `porthole host --shared-region FILE:GUEST,GUEST...`: a sharing region of
/// several guests, and the names (the host's) of the guests that map it.
struct SharedRegionDeclaration: CommandLineValue {
    var path: String
    var guests: Set<String>

    static func parse(_ text: String) throws -> SharedRegionDeclaration {
        guard let colon = text.lastIndex(of: ":") else { throw ValidationError("'\(text)' is not FILE:GUEST,GUEST...") }
        let path = String(text[..<colon])
        let guests = text[text.index(after: colon)...].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard !path.isEmpty, guests.count >= 2, guests.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 64 }), Set(guests).count == guests.count else {
            throw ValidationError("'\(text)' is not FILE:GUEST,GUEST...: a file and two or more different guest names")
        }
        return SharedRegionDeclaration(path: path, guests: Set(guests))
    }
}
