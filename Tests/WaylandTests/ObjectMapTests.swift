import Testing
import Wayland

/// Object tracking as a proxy sees both directions of one connection.
@Suite struct ObjectMapTests {
    private let tables = ProtocolTables.builtin

    private func iface(_ name: String) throws -> Interface { try #require(tables[name]) }

    /// Applies the request or event named `name` sent by object `sender`.
    private func apply(_ map: ObjectMap, _ sender: UInt32, request name: String? = nil, event: String? = nil, _ args: [WireArg]) throws {
        let entry = try #require(map[sender], "object \(sender) is not tracked")
        let isRequest = name != nil
        let list = isRequest ? entry.interface.requests : entry.interface.events
        let opcode = try #require(list.firstIndex { $0.name == (name ?? event) })
        try map.apply(sender: sender, entry: entry, opcode: UInt16(opcode), spec: list[opcode], args: args, isRequest: isRequest)
    }

    private func trackError(_ body: () throws -> Void) -> ObjectMap.TrackError? {
        do { try body() } catch let e as ObjectMap.TrackError { return e } catch { Issue.record("unexpected \(error)") }
        return nil
    }

    /// A map with a registry (2), wl_compositor v4 (3) and wl_shm (4) bound.
    private func boundMap() throws -> ObjectMap {
        let map = ObjectMap(tables: tables)
        try apply(map, 1, request: "get_registry", [.newID(2)])
        try apply(map, 2, request: "bind", [.uint(1), .untypedNewID(interface: Array("wl_compositor".utf8), version: 4, id: 3)])
        try apply(map, 2, request: "bind", [.uint(2), .untypedNewID(interface: Array("wl_shm".utf8), version: 1, id: 4)])
        return map
    }

    @Test func startsWithTheDisplay() {
        let map = ObjectMap(tables: tables)
        #expect(map.count == 1)
        #expect(map[1]?.interface.name == "wl_display" && map[1]?.version == 1 && map[1]?.alive == true)
        #expect(map[2] == nil)
    }

    @Test func newIDsInheritTheCreatorsVersion() throws {
        let map = try boundMap()
        #expect(map[2]?.interface.name == "wl_registry")
        #expect(map[3]?.interface.name == "wl_compositor" && map[3]?.version == 4)
        try apply(map, 3, request: "create_surface", [.newID(5)])
        #expect(map[5]?.interface.name == "wl_surface" && map[5]?.version == 4)
        try apply(map, 4, request: "create_pool", [.newID(6), .fd, .int(4096)])
        #expect(map[6]?.interface.name == "wl_shm_pool" && map[6]?.version == 1)
        #expect(map.count == 6)
    }

    @Test func bindChecksInterfaceAndVersion() throws {
        let map = try boundMap()
        let tooNew = trackError {
            try apply(map, 2, request: "bind", [.uint(1), .untypedNewID(interface: Array("wl_compositor".utf8), version: 99, id: 7)])
        }
        #expect(tooNew == .badVersion("wl_compositor", 99))
        let unknown = trackError {
            try apply(map, 2, request: "bind", [.uint(9), .untypedNewID(interface: Array("wl_nonsense".utf8), version: 1, id: 7)])
        }
        #expect(unknown == .unknownInterface("wl_nonsense"))
        #expect(map[7] == nil)
    }

    @Test func idsInUseAreRejected() throws {
        let map = try boundMap()
        #expect(trackError { try apply(map, 3, request: "create_surface", [.newID(3)]) } == .idInUse(3))
        #expect(map[3]?.interface.name == "wl_compositor")
    }

    @Test func serverIDsComeFromEventsOnly() throws {
        let map = try boundMap()
        let manager = try iface("wl_data_device_manager")
        try map.insert(5, manager, version: 3, fromClient: true)
        try apply(map, 5, request: "get_data_device", [.newID(6), .object(20)])
        #expect(map[6]?.interface.name == "wl_data_device" && map[6]?.version == 3)
        try apply(map, 6, event: "data_offer", [.newID(0xFF00_0000)])
        #expect(map[0xFF00_0000]?.interface.name == "wl_data_offer")
        #expect(trackError { try apply(map, 6, event: "data_offer", [.newID(10)]) } == .idOutOfRange(10, "server"))
        #expect(trackError { try apply(map, 3, request: "create_surface", [.newID(0xFF00_0001)]) } == .idOutOfRange(0xFF00_0001, "client"))
        // A server object goes at once when destroyed: no delete_id for server ids.
        try apply(map, 0xFF00_0000, request: "destroy", [])
        #expect(map[0xFF00_0000] == nil)
    }

    @Test func outOfRangeIDs() throws {
        let map = ObjectMap(tables: tables)
        let callback = try iface("wl_callback")
        #expect(trackError { try map.insert(0, callback, version: 1, fromClient: true) } == .idOutOfRange(0, "client"))
        #expect(trackError { try map.insert(Wire.serverIDStart, callback, version: 1, fromClient: true) } == .idOutOfRange(Wire.serverIDStart, "client"))
        #expect(trackError { try map.insert(Wire.serverIDStart - 1, callback, version: 1, fromClient: false) } == .idOutOfRange(Wire.serverIDStart - 1, "server"))
        #expect(trackError { try map.insert(UInt32.max, callback, version: 1, fromClient: false) } == nil)
        #expect(trackError { try map.insert(Wire.serverIDStart - 1, callback, version: 1, fromClient: true) } == .idSkipsAhead(Wire.serverIDStart - 1, next: 2))
    }

    @Test func clientIDsComeInSequence() throws {
        // libwayland's server keeps client ids in an array: a new id may be
        // a freed one or the next after the highest, never further.
        let map = try boundMap()
        #expect(map.nextClientID == 5)
        #expect(trackError { try apply(map, 3, request: "create_surface", [.newID(6)]) } == .idSkipsAhead(6, next: 5))
        try apply(map, 3, request: "create_surface", [.newID(5)])
        try apply(map, 5, request: "destroy", [])
        try apply(map, 1, event: "delete_id", [.uint(5)])
        #expect(map.nextClientID == 6, "freeing an id does not lower the next one")
        try apply(map, 3, request: "create_surface", [.newID(5)])
        try apply(map, 3, request: "create_surface", [.newID(6)])
        #expect(map.nextClientID == 7)
    }

    @Test func destructorThenDeleteIDFreesTheIDForReuse() throws {
        let map = try boundMap()
        try apply(map, 3, request: "create_surface", [.newID(5)])
        try apply(map, 5, request: "destroy", [])
        // The client destroyed it; the id stays reserved until delete_id.
        #expect(map[5]?.alive == false && map[5]?.interface.name == "wl_surface")
        try apply(map, 1, event: "delete_id", [.uint(5)])
        #expect(map[5] == nil)
        try apply(map, 3, request: "create_region", [.newID(5)])
        #expect(map[5]?.interface.name == "wl_region" && map[5]?.alive == true)
    }

    @Test func destructorEventsToo() throws {
        let map = ObjectMap(tables: tables)
        try apply(map, 1, request: "sync", [.newID(2)])
        #expect(map[2]?.interface.name == "wl_callback")
        try apply(map, 2, event: "done", [.uint(77)])
        #expect(map[2]?.alive == false)
        try apply(map, 1, event: "delete_id", [.uint(2)])
        #expect(map[2] == nil && map.count == 1)
        try apply(map, 1, request: "sync", [.newID(2)])
        #expect(map[2]?.alive == true)
    }

    @Test func unknownTypedInterfaceIsAnError() throws {
        let local = ProtocolTables([try iface("wl_display")])
        let map = ObjectMap(tables: local)
        #expect(trackError { try apply(map, 1, request: "sync", [.newID(2)]) } == .unknownInterface("wl_callback"))
    }

    @Test func clientIDsCountWhatTheCompositorKeepsForTheClient() throws {
        let map = try boundMap()
        #expect(map.clientIDs == 4, "display, registry, compositor, shm")
        try apply(map, 3, request: "create_surface", [.newID(5)])
        #expect(map.clientIDs == 5)
        // Destroyed but not yet deleted: the compositor still holds the id.
        try apply(map, 5, request: "destroy", [])
        #expect(map.clientIDs == 5)
        try apply(map, 1, event: "delete_id", [.uint(5)])
        #expect(map.clientIDs == 4)
        // Server-created objects are the compositor's own.
        try apply(map, 3, request: "create_surface", [.newID(5)])
        let device = ObjectMap(tables: tables)
        try apply(device, 1, request: "get_registry", [.newID(2)])
        try apply(device, 2, request: "bind", [.uint(4), .untypedNewID(interface: Array("wl_data_device_manager".utf8), version: 3, id: 3)])
        try apply(device, 3, request: "get_data_device", [.newID(4), .object(0)])
        try apply(device, 4, event: "data_offer", [.newID(0xFF00_0001)])
        #expect(device.clientIDs == 4 && device.count == 5)
        #expect(map.clientIDs == 5)
    }

    @Test func deleteIDOfALiveObjectLeavesIt() throws {
        // libwayland notes the deletion and keeps the object until its
        // destructor; the map once dropped the display itself (fuzz-object-map).
        let map = try boundMap()
        try apply(map, 1, event: "delete_id", [.uint(1)])
        try apply(map, 1, event: "delete_id", [.uint(3)])
        #expect(map[1]?.interface.name == "wl_display" && map[3]?.alive == true && map.clientIDs == 4)
    }
}

