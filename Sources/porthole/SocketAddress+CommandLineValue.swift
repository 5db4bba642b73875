import ArgumentParser
import PortholeSystem

/// `--listen ADDR` and `--connect ADDR`.
extension SocketAddress: ExpressibleByArgument, CommandLineValue {
    static func parse(_ text: String) throws -> SocketAddress {
        do {
            return try SocketAddress(parsing: text)
        } catch {
            // ArgumentParser has already quoted the value: give only the reason.
            throw ValidationError(error.reason)
        }
    }

    // Spelled out: SocketAddress is public, so its witness must be too.
    public init?(argument: String) {
        guard let address = try? Self.parse(argument) else { return nil }
        self = address
    }
}
