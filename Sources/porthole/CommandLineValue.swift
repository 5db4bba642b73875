import ArgumentParser

/// A type whose values are parsed from the command line by ArgumentParser,
/// at the boundary, and that can say why a string is not one of them.
///
/// `ExpressibleByArgument.init?(argument:)` can only fail, which ArgumentParser
/// reports as "The value '…' is invalid" with no reason; so options of these
/// types also pass `transform: T.parse`, whose error ArgumentParser prints
/// after that sentence. Both go through `parse`.
protocol CommandLineValue: ExpressibleByArgument {
    /// The value `text` stands for; the error's description says what is wrong.
    static func parse(_ text: String) throws -> Self
}

extension CommandLineValue {
    init?(argument: String) {
        guard let value = try? Self.parse(argument) else { return nil }
        self = value
    }
}
