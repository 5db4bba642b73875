import Foundation
import Testing

/// One real application of the matrix (SwayApplicationMatrixTests): how to
/// start it, what to type into it with wtype, and how to tell that the
/// typing reached it. Each run gets a fresh scratch directory (`dir`, also
/// its HOME), so profiles and settings never carry over from one run to the
/// next.
struct MatrixApp: Sendable, CustomTestStringConvertible {
    /// What typed input does that the test can see from outside the app.
    enum Effect: Sendable, CustomStringConvertible {
        /// The app's shell writes `content` and a newline into `dir/typed.txt`
        /// (a terminal runs the `echo` line typed into it).
        case writesFile(content: String)
        /// The app prints this line on stdout and exits with status 0
        /// (zenity --entry, after Return).
        case printsAndExits(String)
        /// The app exits with status 0 (mpv, on q).
        case exits
        /// The window's title comes to contain this.
        case retitles(String)

        var description: String {
            switch self {
            case .writesFile(let content): return "its shell wrote \"\(content)\" into a file"
            case .printsAndExits(let line): return "it printed \"\(line)\" and exited 0"
            case .exits: return "it exited 0"
            case .retitles(let title): return "its title became \"\(title)\""
            }
        }
    }

    /// How the matrix names it (the executable, or the package).
    let name: String
    /// The toolkit or kind of app, for the README's table.
    let toolkit: String
    let executable: String
    /// Its arguments, given the run's scratch directory.
    let arguments: @Sendable (_ dir: String) -> [String]
    let environment: [String: String]
    /// wtype's arguments after its initial pause, given the scratch directory.
    let keys: @Sendable (_ dir: String) -> [String]
    let effect: Effect
    /// Type only once the window's title contains this (a browser has loaded
    /// the page, and its input field has the focus).
    let readyTitle: String?
    /// The decoration protocol the app uses on sway (nil: it asks nothing and
    /// draws its own).
    let decorations: DecorationNegotiation.Kind?
    /// How long its window may take to map (browsers start slowly on a busy
    /// 2-core machine).
    let startTimeout: Double
    /// Writes what the run needs into the scratch directory (a profile, a page).
    let prepare: @Sendable (_ dir: String) throws -> Void

    init(name: String, toolkit: String, executable: String? = nil,
         arguments: @escaping @Sendable (_ dir: String) -> [String] = { _ in [] },
         environment: [String: String] = [:],
         keys: @escaping @Sendable (_ dir: String) -> [String],
         effect: Effect, readyTitle: String? = nil,
         decorations: DecorationNegotiation.Kind?, startTimeout: Double = 30,
         prepare: @escaping @Sendable (_ dir: String) throws -> Void = { _ in }) {
        self.name = name
        self.toolkit = toolkit
        self.executable = executable ?? name
        self.arguments = arguments
        self.environment = environment
        self.keys = keys
        self.effect = effect
        self.readyTitle = readyTitle
        self.decorations = decorations
        self.startTimeout = startTimeout
        self.prepare = prepare
    }

    /// The file a terminal's typed command writes.
    static func typedFile(in dir: String) -> String { "\(dir)/typed.txt" }

    var testDescription: String { name }
}
