import ArgumentParser

/// `--buffers-region-consumers UIDS`: user ids, comma-separated, or `none`.
struct UIDList: CommandLineValue {
    var uids: Set<UInt32>

    static func parse(_ text: String) throws -> UIDList {
        guard text != "none" else { return UIDList(uids: []) }
        var uids: Set<UInt32> = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let uid = UInt32(part) else { throw ValidationError("'\(text)' is not a comma-separated list of uids, nor 'none'") }
            uids.insert(uid)
        }
        return UIDList(uids: uids)
    }
}
