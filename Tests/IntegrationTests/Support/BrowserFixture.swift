import Foundation

/// What the browsers of the matrix need: a local page whose input field has
/// the focus and copies what is typed into the page title (which sway shows),
/// a fresh Firefox profile that opens it without first-run pages, and
/// Chromium's flags for the same.
enum BrowserFixture {
    static let readyTitle = "porthole-waiting"
    static let typedWord = "porthole"
    static let typedTitle = "porthole-typed porthole"

    static func pagePath(in dir: String) -> String { "\(dir)/input.html" }
    static func pageURL(in dir: String) -> String { "file://\(pagePath(in: dir))" }
    static func profile(in dir: String) -> String { "\(dir)/firefox-profile" }

    static func preparePage(in dir: String) throws {
        try """
            <!doctype html>
            <html><head><meta charset="utf-8"><title>\(readyTitle)</title></head>
            <body><input id="field" autofocus oninput="document.title = 'porthole-typed ' + this.value"></body></html>

            """.write(toFile: pagePath(in: dir), atomically: true, encoding: .utf8)
    }

    static func prepareFirefox(in dir: String) throws {
        try preparePage(in: dir)
        let profile = profile(in: dir)
        try FileManager.default.createDirectory(atPath: profile, withIntermediateDirectories: true)
        let prefs = firefoxPreferences.map { key, value in "user_pref(\"\(key)\", \(value));" }.sorted()
        try (prefs.joined(separator: "\n") + "\n").write(toFile: "\(profile)/user.js", atomically: true, encoding: .utf8)
    }

    /// A fresh profile opens only the page given on the command line: no
    /// default-browser question, welcome or privacy-notice tabs, no
    /// background updates or telemetry, and software rendering (no GPU here,
    /// and none a guest could reach through Porthole, which hides dmabuf).
    static let firefoxPreferences: [String: String] = [
        "browser.shell.checkDefaultBrowser": "false",
        "browser.startup.homepage_override.mstone": "\"ignore\"",
        "startup.homepage_welcome_url": "\"\"",
        "startup.homepage_welcome_url.additional": "\"\"",
        "browser.aboutwelcome.enabled": "false",
        "datareporting.policy.dataSubmissionEnabled": "false",
        "datareporting.policy.firstRunURL": "\"\"",
        "datareporting.healthreport.uploadEnabled": "false",
        "toolkit.telemetry.reportingpolicy.firstRun": "false",
        "app.normandy.enabled": "false",
        "app.update.auto": "false",
        "extensions.update.enabled": "false",
        "browser.search.update": "false",
        "browser.safebrowsing.update.enabled": "false",
        "network.captive-portal-service.enabled": "false",
        "network.connectivity-service.enabled": "false",
        "browser.sessionstore.resume_from_crash": "false",
        "browser.tabs.warnOnClose": "false",
        "gfx.webrender.software": "true",
    ]

    /// Wayland, software rendering, a fresh profile in `dir`, no first-run
    /// or default-browser questions, no background network. The tests run
    /// as root, where Chromium's sandbox refuses to start: `--no-sandbox`,
    /// and `--test-type` to leave out the bar that warns about it.
    static func chromiumArguments(in dir: String) -> [String] {
        ["--ozone-platform=wayland", "--disable-gpu", "--user-data-dir=\(dir)/chromium-profile",
         "--no-first-run", "--no-default-browser-check", "--password-store=basic",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-sandbox", "--test-type"]
    }
}
