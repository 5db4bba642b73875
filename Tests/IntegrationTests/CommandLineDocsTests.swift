import Foundation
import SystemTestSupport
import Testing

/// The shell completions in contrib/ are generated from the command line
/// (scripts/generate-docs); an option added without regenerating them fails here.
@Suite("Generated command-line documents", .tags(.processes))
struct CommandLineDocsTests {
    @Test("the committed bash, zsh and fish completions are what the porthole binary generates", arguments: [
        ("bash", "porthole.bash"), ("zsh", "_porthole"), ("fish", "porthole.fish"),
    ])
    func completionsAreUpToDate(_ shell: String, file: String) throws {
        let runtime = try RuntimeDir()
        let generated = try runCommand(try portholeBinary(), ["--generate-completion-script", shell], logDirectory: runtime.path).stdoutText
        let committed = try String(contentsOfFile: "\(packageRoot)/contrib/completions/\(file)", encoding: .utf8)
        #expect(generated == committed, "run scripts/generate-docs and commit contrib/")
    }

    @Test("the committed man page describes every host option")
    func manPageHasTheHostOptions() throws {
        let page = try String(contentsOfFile: "\(packageRoot)/contrib/man/porthole.1", encoding: .utf8)
        let runtime = try RuntimeDir()
        let help = try runCommand(try portholeBinary(), ["host", "--help"], logDirectory: runtime.path).stdoutText
        let options = help.split(separator: "\n").flatMap { line -> [String] in
            // An option's line starts at column 2; wrapped help text is indented further.
            guard line.hasPrefix("  --"), let name = line.dropFirst(2).split(separator: " ").first else { return [] }
            // "--short-slice/--no-short-slice": a flag and its inversion, both in the page.
            return name.split(separator: ",").first!.split(separator: "/").map(String.init)
        }
        #expect(options.count > 10)
        for option in options where option != "--help" {
            // mdoc writes --name as "Fl -name" (Fl adds the first dash). A Bool,
            // not the page: a failed expectation prints what it compared.
            let described = page.contains(".It Fl \(option.dropFirst())")
            #expect(described, "\(option) missing: run scripts/generate-docs")
        }
    }
}
