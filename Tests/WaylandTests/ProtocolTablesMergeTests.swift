import Foundation
import Glibc
import SystemTestSupport
import Testing
import Wayland

/// Protocol files loaded at start (`--protocol`) on top of the built-in tables,
/// and the project's own protocols/ directory.
@Suite struct ProtocolTablesMergeTests {
    /// Writes `text` to a new file in a fresh temporary directory, which
    /// `remove(_:)` deletes.
    private func temporaryFile(_ name: String, _ text: String) throws -> String {
        let directory = try TemporaryDirectory(prefix: "porthole-proto")
        do {
            try text.write(toFile: directory.file(name), atomically: true, encoding: .utf8)
        } catch {
            directory.remove()
            throw error
        }
        return directory.file(name)
    }

    private func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path)
    }

    static let extraProtocol = #"""
        <protocol name="porthole_test_extra">
          <interface name="porthole_test_manager_v1" version="3">
            <request name="get_thing"><arg name="id" type="new_id" interface="porthole_test_thing_v1"/><arg name="seat" type="object" interface="wl_seat"/></request>
            <request name="destroy" type="destructor"/>
          </interface>
          <interface name="porthole_test_thing_v1" version="1">
            <event name="changed" since="1"><arg name="value" type="uint"/></event>
          </interface>
        </protocol>
        """#

    @Test func extraFileAddsInterfacesToACopy() throws {
        let path = try temporaryFile("extra.xml", Self.extraProtocol)
        defer { remove(path) }
        let builtinCount = ProtocolTables.builtin.interfaces.count
        let merged = try ProtocolTables.builtin.adding(protocolFiles: [path])

        let manager = try #require(merged["porthole_test_manager_v1"])
        #expect(manager.version == 3)
        #expect(manager.requests.map(\.name) == ["get_thing", "destroy"])
        #expect(merged["porthole_test_thing_v1"] != nil)
        // Everything built in is still there, unchanged.
        #expect(merged.interfaces.count == builtinCount + 2)
        for (name, iface) in ProtocolTables.builtin.interfaces {
            #expect(merged[name].map { sameInterface($0, iface) } == true, "\(name) changed")
        }
        #expect(merged.reachable(from: manager).map(\.name).sorted() == ["porthole_test_manager_v1", "porthole_test_thing_v1"])
        // The shared built-in tables are left alone.
        #expect(ProtocolTables.builtin["porthole_test_manager_v1"] == nil)
        #expect(ProtocolTables.builtin.interfaces.count == builtinCount)
    }

    @Test func laterDefinitionWins() throws {
        // A newer wl_output (say, from a newer wayland.xml) replaces the built-in one.
        let newer = try temporaryFile("output.xml", #"""
            <protocol name="newer">
              <interface name="wl_output" version="99">
                <request name="release" type="destructor"/>
                <event name="future" since="99"><arg name="x" type="int"/></event>
              </interface>
            </protocol>
            """#)
        defer { remove(newer) }
        let merged = try ProtocolTables.builtin.adding(protocolFiles: [newer])
        #expect(merged["wl_output"]?.version == 99)
        #expect(merged["wl_output"]?.events.map(\.name) == ["future"])
        #expect(ProtocolTables.builtin["wl_output"]?.version != 99)

        // Between two files, the later one wins.
        let older = try temporaryFile("older.xml", Self.extraProtocol.replacingOccurrences(of: #"version="3""#, with: #"version="1""#))
        defer { remove(older) }
        let extra = try temporaryFile("extra.xml", Self.extraProtocol)
        defer { remove(extra) }
        #expect(try ProtocolTables.builtin.adding(protocolFiles: [extra, older])["porthole_test_manager_v1"]?.version == 1)
        #expect(try ProtocolTables.builtin.adding(protocolFiles: [older, extra])["porthole_test_manager_v1"]?.version == 3)
    }

    @Test func filesMayReferToEachOther() throws {
        let a = try temporaryFile("a.xml", #"""
            <protocol name="a"><interface name="test_a" version="1">
              <request name="make_b"><arg name="id" type="new_id" interface="test_b"/></request>
            </interface></protocol>
            """#)
        defer { remove(a) }
        let b = try temporaryFile("b.xml", #"<protocol name="b"><interface name="test_b" version="1"/></protocol>"#)
        defer { remove(b) }
        let merged = try ProtocolTables.builtin.adding(protocolFiles: [a, b])
        #expect(merged["test_a"] != nil && merged["test_b"] != nil)
    }

    private func loadError(_ paths: [String]) -> ProtocolXML.LoadError? {
        do throws(ProtocolXML.LoadError) {
            _ = try ProtocolTables.builtin.adding(protocolFiles: paths)
            return nil
        } catch {
            return error
        }
    }

    @Test func badFilesAreErrorsNamingTheFile() throws {
        let good = try temporaryFile("good.xml", Self.extraProtocol)
        defer { remove(good) }
        let malformed = try temporaryFile("malformed.xml", #"<protocol name="p"><interface name="x" version="1"><request name="r">"#)
        defer { remove(malformed) }
        let dangling = try temporaryFile("dangling.xml", #"""
            <protocol name="d"><interface name="test_d" version="1">
              <request name="make"><arg name="id" type="new_id" interface="nowhere_v1"/></request>
            </interface></protocol>
            """#)
        defer { remove(dangling) }

        let bad = try #require(loadError([good, malformed]))
        #expect(bad.file == malformed)
        #expect("\(bad)".hasPrefix(malformed + ": "))

        let missing = try #require(loadError(["/nonexistent/porthole-test.xml"]))
        #expect(missing.file == "/nonexistent/porthole-test.xml")
        #expect(missing.reason.contains("cannot read"))

        let unknown = try #require(loadError([dangling]))
        #expect(unknown.file == dangling)
        #expect(unknown.reason.contains("nowhere_v1") && unknown.reason.contains("test_d.make"))
    }

    /// The XML in protocols/ is what the generated tables hold: a change to
    /// a file there needs scripts/generate-tables to be run again.
    @Test(arguments: ["wlr-data-control-unstable-v1.xml", "ext-data-control-v1.xml", "virtual-keyboard-unstable-v1.xml",
                      "porthole-buffer-producer-v1.xml", "porthole-buffer-consumer-v1.xml"])
    func projectProtocolsAreInTheBuiltinTables(file: String) throws {
        var root = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { root.deleteLastPathComponent() }  // file, WaylandTests, Tests
        let (_, interfaces) = try ProtocolXML.load(path: root.appendingPathComponent("protocols/\(file)").path)
        #expect(!interfaces.isEmpty)
        for i in interfaces {
            let b = try #require(ProtocolTables.builtin[i.name], "\(i.name) is not in the generated tables")
            #expect(sameInterface(i, b), "\(i.name) differs from the generated table")
        }
    }

    /// Facts of the data-control protocols the proxies rely on: the fd-carrying
    /// messages and the version-2 primary selection of the wlroots one.
    @Test func dataControlShapes() throws {
        let t = ProtocolTables.builtin
        for prefix in ["zwlr", "ext"] {
            let source = try #require(t["\(prefix)_data_control_source_v1"])
            #expect(source.events.first { $0.name == "send" }?.args.map(\.type) == [.string, .fd])
            let offer = try #require(t["\(prefix)_data_control_offer_v1"])
            #expect(offer.requests.first { $0.name == "receive" }?.args.map(\.type) == [.string, .fd])
            let manager = try #require(t["\(prefix)_data_control_manager_v1"])
            #expect(Set(t.reachable(from: manager).map(\.name)) == Set(["manager", "device", "source", "offer"].map { "\(prefix)_data_control_\($0)_v1" }))
        }
        #expect(t["zwlr_data_control_manager_v1"]?.version == 2)
        #expect(t["zwlr_data_control_device_v1"]?.requests.map(\.name) == ["set_selection", "destroy", "set_primary_selection"])
        #expect(t["zwlr_data_control_device_v1"]?.events.map(\.since) == [1, 1, 1, 2])
        #expect(t["ext_data_control_manager_v1"]?.version == 1)
        #expect(t["zwp_virtual_keyboard_v1"]?.requests.first?.args.map(\.type) == [.uint, .fd, .uint])
    }

    /// GTK's primary selection (written here from its facts) has the shape of
    /// its successor zwp_primary_selection_v1 (from wayland-protocols):
    /// same messages in the same order with the same argument types.
    @Test func gtkPrimarySelectionMatchesItsSuccessor() throws {
        let t = ProtocolTables.builtin
        for part in ["device_manager", "device", "offer", "source"] {
            let gtk = try #require(t["gtk_primary_selection_\(part)"])
            let zwp = try #require(t["zwp_primary_selection_\(part)_v1"])
            #expect(gtk.requests.map(\.name) == zwp.requests.map(\.name), "\(part) requests")
            #expect(gtk.events.map(\.name) == zwp.events.map(\.name), "\(part) events")
            #expect(gtk.requests.map { $0.args.map(\.type) } == zwp.requests.map { $0.args.map(\.type) }, "\(part) request arguments")
            #expect(gtk.events.map { $0.args.map(\.type) } == zwp.events.map { $0.args.map(\.type) }, "\(part) event arguments")
            #expect(gtk.requests.map(\.isDestructor) == zwp.requests.map(\.isDestructor), "\(part) destructors")
        }
    }
}
