import Foundation

/// A private PipeWire daemon (Debian's `pipewire`, no session manager) in a
/// test's runtime directory, and what its clients need: their environment,
/// and `pw-link` to join two nodes' ports (nothing links them otherwise).
final class PipeWireDaemon {
    let runtime: RuntimeDir
    let process: ManagedProcess

    /// Environment for every PipeWire client of this daemon (and for the
    /// daemon): its socket is `pipewire-0` in the runtime directory.
    var environment: [String: String] {
        ["XDG_RUNTIME_DIR": runtime.path, "PIPEWIRE_RUNTIME_DIR": runtime.path, "PIPEWIRE_REMOTE": "pipewire-0"]
    }

    init(runtime: RuntimeDir) throws {
        self.runtime = runtime
        process = try ManagedProcess("pipewire", [], environment:
            ["XDG_RUNTIME_DIR": runtime.path, "PIPEWIRE_RUNTIME_DIR": runtime.path, "DBUS_SESSION_BUS_ADDRESS": "disabled:"],
            logDirectory: runtime.path)
        let socket = runtime.file("pipewire-0")
        guard waitUntil(timeout: 10, { isSocket(socket) }) else {
            throw SupportError("pipewire made no socket\n\(process.diagnostics())")
        }
    }

    /// Links output port `output` (NODE:PORT) to input port `input`,
    /// retrying while either is not there yet.
    func link(_ output: String, _ input: String, timeout: Double = 10) throws {
        var last = ""
        let linked = try waitUntil(timeout: timeout, poll: 0.1) {
            let r = try runCommand("pw-link", [output, input], environment: environment, logDirectory: runtime.path, check: false)
            last = r.stderr
            return r.exit.succeeded
        }
        guard linked else { throw SupportError("pw-link \(output) \(input) failed: \(last)\n\(process.diagnostics())") }
    }

    /// The node names the daemon has now.
    func nodeNames() throws -> [String] {
        let out = try runCommand("pw-cli", ["ls", "Node"], environment: environment, logDirectory: runtime.path).stdoutText
        return out.split(separator: "\n").compactMap { line in
            guard let r = line.range(of: "node.name = \"") else { return nil }
            return String(line[r.upperBound...].dropLast())
        }
    }

    /// A property of the node named `node`, as pw-dump shows it.
    func nodeProperty(_ node: String, _ key: String) throws -> String? {
        let dump = try runCommand("pw-dump", [], environment: environment, logDirectory: runtime.path).stdout
        guard let objects = try JSONSerialization.jsonObject(with: dump) as? [[String: Any]] else { return nil }
        for o in objects {
            guard let info = o["info"] as? [String: Any], let props = info["props"] as? [String: Any],
                  props["node.name"] as? String == node else { continue }
            return props[key].map { "\($0)" }
        }
        return nil
    }

    func stop() { process.terminate() }
}
