import Foundation

/// What an app asked its compositor about window decorations and what it
/// was told, read from its WAYLAND_DEBUG trace. Apps use one of two
/// protocols: org_kde_kwin_server_decoration (GTK 3 and 4, Firefox) or
/// xdg-decoration (Qt, mpv, foot). Both number the modes alike where it
/// matters: 1 is client-side, 2 server-side (KDE's 0 is "none").
struct DecorationNegotiation: Equatable, Sendable, CustomStringConvertible {
    enum Kind: String, Sendable {
        case kde = "org_kde_kwin_server_decoration"
        case xdg = "zxdg_toplevel_decoration_v1"
    }

    var kind: Kind
    /// The last mode the app asked for (nil: it asked for none, or unset it).
    var requested: Int?
    /// The last mode the compositor told it to use (nil: no answer).
    var answered: Int?

    /// The negotiation in `log`, or nil if the app used neither protocol.
    /// With several decoration objects (dialogs, reopened windows), the
    /// last message of each kind counts.
    init?(_ log: WaylandDebugLog) {
        let kde = log.messages.filter { $0.interface == Kind.kde.rawValue }
        let xdg = log.messages.filter { $0.interface == Kind.xdg.rawValue }
        if !kde.isEmpty {
            kind = .kde
            requested = kde.last { $0.isRequest && $0.name == "request_mode" }.flatMap { Int($0.arguments) }
            answered = kde.last { !$0.isRequest && $0.name == "mode" }.flatMap { Int($0.arguments) }
        } else if !xdg.isEmpty {
            kind = .xdg
            let asked = xdg.last { $0.isRequest && ($0.name == "set_mode" || $0.name == "unset_mode") }
            requested = asked?.name == "set_mode" ? asked.flatMap { Int($0.arguments) } : nil
            answered = xdg.last { !$0.isRequest && $0.name == "configure" }.flatMap { Int($0.arguments) }
        } else {
            return nil
        }
    }

    init(_ kind: Kind, requested: Int?, answered: Int?) {
        self.kind = kind
        self.requested = requested
        self.answered = answered
    }

    private static func modeName(_ mode: Int?) -> String {
        switch mode {
        case nil: return "nothing"
        case 0: return "none"
        case 1: return "client-side"
        case 2: return "server-side"
        case let m?: return "mode \(m)"
        }
    }

    var description: String {
        let name = kind == .kde ? "kde" : "xdg"
        return "\(name): asked \(Self.modeName(requested)), got \(Self.modeName(answered))"
    }
}
