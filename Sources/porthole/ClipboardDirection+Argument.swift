import ArgumentParser
import Proxy

/// `--clipboard both|to-guest|from-guest|none`.
extension ClipboardDirection: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument) }
    public static var allValueStrings: [String] { allCases.map(\.rawValue) }
}
