import Testing
import Wayland

/// The WAYLAND_DEBUG-like lines of MessageTrace.
@Suite struct MessageTraceTests {
    /// The line for a builtin message given by name.
    private func line(_ interface: String, _ message: String, request: Bool = true, id: UInt32, _ args: [WireArg]) throws -> String {
        let iface = try #require(ProtocolTables.builtin[interface])
        let opcode = try #require(request ? iface.requestOpcode(message) : iface.eventOpcode(message))
        let spec = request ? iface.requests[Int(opcode)] : iface.events[Int(opcode)]
        return MessageTrace.describe(objectID: id, interface: iface, spec: spec, args: args)
    }

    @Test func objectsAreNamedByTheirArgumentsInterface() throws {
        #expect(try line("wl_surface", "attach", id: 3, [.object(5), .int(0), .int(0)]) == "wl_surface@3.attach(buffer: wl_buffer@5, x: 0, y: 0)")
        #expect(try line("wl_surface", "commit", id: 3, []) == "wl_surface@3.commit()")
    }

    @Test func anObjectOfNoFixedInterfaceIsUnknown() throws {
        #expect(try line("wl_display", "error", request: false, id: 1, [.object(5), .uint(1), .text("bad")])
            == #"wl_display@1.error(object_id: [unknown]@5, code: 1, message: "bad")"#)
    }

    @Test func newIDsAndFds() throws {
        #expect(try line("wl_shm", "create_pool", id: 4, [.newID(6), .fd, .int(4096)]) == "wl_shm@4.create_pool(id: new id wl_shm_pool@6, fd: fd, size: 4096)")
    }

    @Test func bindShowsTheInterfaceAndVersionItCarries() throws {
        let bind = try line("wl_registry", "bind", id: 2, [.uint(7), .untypedNewID(interface: Array("wl_compositor".utf8), version: 4, id: 3)])
        #expect(bind == "wl_registry@2.bind(name: 7, id: new id wl_compositor@3 v4)")
        let forged = try line("wl_registry", "bind", id: 2, [.uint(7), .untypedNewID(interface: Array("x\n\u{1b}[2J".utf8), version: 1, id: 3)])
        #expect(forged == #"wl_registry@2.bind(name: 7, id: new id x\n\x1b[2J@3 v1)"#)
    }

    @Test func nullObjectsAndStringsAreNil() throws {
        #expect(try line("wl_surface", "attach", id: 3, [.object(0), .int(1), .int(-2)]) == "wl_surface@3.attach(buffer: nil, x: 1, y: -2)")
        #expect(try line("wl_data_offer", "accept", id: 9, [.uint(12), .string(nil)]) == "wl_data_offer@9.accept(serial: 12, mime_type: nil)")
    }

    @Test func stringsAreQuotedWithEveryUnprintableByteEscaped() throws {
        let text = "a\nb\tc\u{1b}[31m \\ \"q\" é\r\u{0}"
        #expect(try line("wl_data_offer", "offer", request: false, id: 9, [.text(text)])
            == #"wl_data_offer@9.offer(mime_type: "a\nb\tc\x1b[31m \\ \"q\" \xc3\xa9\r\x00")"#)
    }

    @Test func longStringsAreCutAfter256BytesWithTheirLength() throws {
        let long = String(repeating: "x", count: 300)
        let traced = try line("wl_data_offer", "offer", request: false, id: 9, [.text(long)])
        #expect(traced == "wl_data_offer@9.offer(mime_type: \"" + String(repeating: "x", count: 256) + "\"…(300 bytes))")
        let exact = String(repeating: "y", count: 256)
        #expect(try line("wl_data_offer", "offer", request: false, id: 9, [.text(exact)]) == "wl_data_offer@9.offer(mime_type: \"\(exact)\")")
        // A peer cannot forge the note: its own … is escaped.
        #expect(try line("wl_data_offer", "offer", request: false, id: 9, [.text("…")]) == #"wl_data_offer@9.offer(mime_type: "\xe2\x80\xa6")"#)
    }

    @Test func fixedIsADecimalAndArraysShowTheirSize() throws {
        #expect(try line("wl_pointer", "motion", request: false, id: 8, [.uint(1000), .fixed(3200), .fixed(-384)])
            == "wl_pointer@8.motion(time: 1000, surface_x: 12.5, surface_y: -1.5)")
        #expect(try line("wl_keyboard", "enter", request: false, id: 8, [.uint(1), .object(3), .array(Array(repeating: 0, count: 12))])
            == "wl_keyboard@8.enter(serial: 1, surface: wl_surface@3, keys: array[12 bytes])")
    }

    @Test func argumentsWithoutNamesShowOnlyTheirValues() throws {
        let t = try #require(try SignatureText.parse("I t 1\nR r 1 i o:wl_buffer\n").first)
        #expect(MessageTrace.describe(objectID: 5, interface: t, spec: t.requests[0], args: [.int(3), .object(4)]) == "t@5.r(3, wl_buffer@4)")
    }
}
