import Foundation

/// The applications of issue 15's matrix, one per toolkit or kind of client.
extension MatrixApp {
    static let all: [MatrixApp] = [gtk3Demo, zenity, gtk4Demo, qterminal, mpv, foot, westonTerminal, firefox, chromium]

    /// GTK apps on Wayland even where the test's environment has a DISPLAY.
    private static let gtk = ["GDK_BACKEND": "wayland"]

    /// A shell command typed into a terminal, then Return.
    private static func typedCommand(_ word: String) -> @Sendable (String) -> [String] {
        { dir in ["echo \(word) > \(MatrixApp.typedFile(in: dir))", "-k", "Return"] }
    }

    /// Typing into its tree view starts GTK 3's interactive search, which
    /// selects the "Spinner" demo, and gtk3-demo titles its window after the
    /// selected demo (it starts on "Application Class").
    static let gtk3Demo = MatrixApp(
        name: "gtk3-demo", toolkit: "GTK 3", environment: gtk,
        keys: { _ in ["Spinner"] }, effect: .retitles("Spinner"), decorations: .kde)

    /// The entry dialog prints what was typed when Return accepts it. The
    /// released F24 only puts a key after Return in wtype's keymap: GDK 3's
    /// Wayland keymap leaves the highest keycode out when it looks keys up
    /// for bindings, and wtype's keymap holds just the keys it types, so
    /// Return as its last key would never activate anything (directly as
    /// through Porthole).
    static let zenity = MatrixApp(
        name: "zenity", toolkit: "GTK 3 dialog",
        arguments: { _ in ["--entry", "--text", "Type a word"] }, environment: gtk,
        keys: { _ in ["porthole", "-k", "Return", "-p", "F24"] },
        effect: .printsAndExits("porthole"), decorations: .kde)

    /// The typed name fills the sidebar's search, Return runs the first
    /// match, and gtk4-demo titles its window after the demo it runs.
    static let gtk4Demo = MatrixApp(
        name: "gtk4-demo", toolkit: "GTK 4", environment: gtk,
        keys: { _ in ["Spinner", "-k", "Return"] }, effect: .retitles("Spinner"), decorations: .kde)

    static let qterminal = MatrixApp(
        name: "qterminal", toolkit: "Qt 5 (qtwayland5)",
        arguments: { dir in ["--workdir", dir, "-e", "/bin/sh"] },
        environment: ["QT_QPA_PLATFORM": "wayland"],
        keys: typedCommand("typed-into-qterminal"), effect: .writesFile(content: "typed-into-qterminal"),
        decorations: .xdg)

    /// mpv draws a generated test picture with its wl_shm output and quits on q.
    static let mpv = MatrixApp(
        name: "mpv", toolkit: "mpv --vo=wlshm",
        arguments: { _ in ["--no-config", "--vo=wlshm", "--ao=null", "--loop=inf", "av://lavfi:testsrc"] },
        keys: { _ in ["q"] }, effect: .exits, decorations: .xdg)

    static let foot = MatrixApp(
        name: "foot", toolkit: "foot (terminal)",
        arguments: { _ in ["/bin/sh"] },
        keys: typedCommand("typed-into-foot"), effect: .writesFile(content: "typed-into-foot"),
        decorations: .xdg)

    /// weston-terminal draws its own frame and asks nothing about decorations.
    static let westonTerminal = MatrixApp(
        name: "weston-terminal", toolkit: "weston toytoolkit",
        arguments: { _ in ["--shell=/bin/sh"] },
        keys: typedCommand("typed-into-weston-terminal"), effect: .writesFile(content: "typed-into-weston-terminal"),
        decorations: nil)

    /// Firefox ESR in a fresh profile (BrowserFixture.firefoxPreferences)
    /// shows a page whose focused input field copies what is typed into the
    /// title.
    static let firefox = MatrixApp(
        name: "firefox-esr", toolkit: "Firefox ESR (GTK 3)",
        arguments: { dir in ["--new-instance", "--no-remote", "--profile", BrowserFixture.profile(in: dir),
                             BrowserFixture.pageURL(in: dir)] },
        environment: gtk.merging(["MOZ_ENABLE_WAYLAND": "1", "MOZ_CRASHREPORTER_DISABLE": "1"]) { $1 },
        keys: { _ in [BrowserFixture.typedWord] }, effect: .retitles(BrowserFixture.typedTitle),
        readyTitle: BrowserFixture.readyTitle, decorations: .kde, startTimeout: 90,
        prepare: { dir in try BrowserFixture.prepareFirefox(in: dir) })

    /// Chromium asks xdg-decoration for client-side decorations and draws its own frame.
    static let chromium = MatrixApp(
        name: "chromium", toolkit: "Chromium (Ozone Wayland)",
        arguments: { dir in BrowserFixture.chromiumArguments(in: dir) + [BrowserFixture.pageURL(in: dir)] },
        keys: { _ in [BrowserFixture.typedWord] }, effect: .retitles(BrowserFixture.typedTitle),
        readyTitle: BrowserFixture.readyTitle, decorations: .xdg, startTimeout: 90,
        prepare: { dir in try BrowserFixture.preparePage(in: dir) })
}
