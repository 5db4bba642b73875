import Testing
@testable import Wayland

/// The compact signature text that the generated tables are stored in.
@Suite struct SignatureTextTests {
    @Test func renderThenParseGivesTheSameTables() throws {
        let all = builtinInterfaces
        #expect(all.count > 100)
        let text = SignatureText.render(all)
        let parsed = try SignatureText.parse(text)
        #expect(parsed.count == all.count)
        for (a, b) in zip(all, parsed) { #expect(sameInterface(a, b), "\(a.name) changed in a round trip") }
        #expect(SignatureText.render(parsed) == text)
    }

    @Test func everyGeneratedSourceIsInCanonicalForm() throws {
        for (name, text) in GeneratedProtocols.sources {
            // The generated literals drop the final newline that render() writes.
            #expect(SignatureText.render(try SignatureText.parse(text)) == text + "\n", "\(name)")
        }
    }

    @Test func tokensCoverEveryArgumentForm() throws {
        let text = "I t 3\nR! gone 2 i u f ?s o:wl_surface ?o n:wl_callback n a h\nE ev 1 ?o:wl_buffer\n"
        let parsed = try SignatureText.parse(text)
        let t = try #require(parsed.first)
        #expect(t.name == "t" && t.version == 3)
        #expect(t.requests == [MessageSpec(name: "gone", since: 2, isDestructor: true, args: [
            ArgSpec(.int), ArgSpec(.uint), ArgSpec(.fixed), ArgSpec(.string, nullable: true),
            ArgSpec(.object, interface: "wl_surface"), ArgSpec(.object, nullable: true),
            ArgSpec(.newID, interface: "wl_callback"), ArgSpec(.newID), ArgSpec(.array), ArgSpec(.fd),
        ])])
        #expect(t.events == [MessageSpec(name: "ev", args: [ArgSpec(.object, interface: "wl_buffer", nullable: true)])])
        #expect(SignatureText.render(parsed) == text)
    }

    @Test func argumentNamesSurviveARoundTrip() throws {
        let text = "I t 1\nR make 1 id=n:wl_buffer label=?s buffer=?o:wl_buffer\nE told 1 fd=h count=u\n"
        let parsed = try SignatureText.parse(text)
        let t = try #require(parsed.first)
        #expect(t.requests[0].args == [
            ArgSpec(.newID, name: "id", interface: "wl_buffer"), ArgSpec(.string, name: "label", nullable: true),
            ArgSpec(.object, name: "buffer", interface: "wl_buffer", nullable: true),
        ])
        #expect(t.events[0].args.map(\.name) == ["fd", "count"])
        #expect(SignatureText.render(parsed) == text)
    }

    @Test func namedAndUnnamedTokensMixOnOneLine() throws {
        let t = try #require(try SignatureText.parse("I t 1\nR r 1 i width=i u\n").first)
        #expect(t.requests[0].args.map(\.name) == ["", "width", ""])
    }

    @Test func theBuiltinTablesKeepTheNamesOfTheXML() throws {
        let pool = try #require(ProtocolTables.builtin["wl_shm_pool"])
        let create = pool.requests[Int(try #require(pool.requestOpcode("create_buffer")))]
        #expect(create.args.map(\.name) == ["id", "offset", "width", "height", "stride", "format"])
        #expect(SignatureText.token(create.args[0]) == "id=n:wl_buffer")
        let bind = try #require(ProtocolTables.builtin["wl_registry"]).requests[0]
        #expect(bind.args.map(\.name) == ["name", "id"])
        for iface in builtinInterfaces {
            for m in iface.requests + iface.events {
                #expect(m.args.allSatisfy { ArgSpec.isValidName($0.name) }, "\(iface.name).\(m.name) has an unnamed argument")
            }
        }
    }

    @Test func syntaxErrorsNameTheLine() {
        let cases: [(String, Int)] = [
            ("I wl_x\n", 1),
            ("I wl_x 0\n", 1),
            ("R early 1\n", 1),
            ("I wl_x 1\nR ok 1 i\nR bad 1 z\n", 3),
            ("I wl_x 1\nE missing\n", 2),
            ("I wl_x 1\nQ what 1\n", 2),
            ("I wl_x 1\nR empty 1 o:\n", 2),
            ("I wl_x 1\nR unnamed 1 =i\n", 2),
            ("I wl_x 1\nR digit 1 1x=i\n", 2),
            ("I wl_x 1\nR dash 1 a-b=i\n", 2),
            ("I wl_x 1\nR twice 1 a=b=i\n", 2),
            ("I wl_x 1\nR ok 1 a=i\nR bare 1 a=\n", 3),
        ]
        for (text, line) in cases {
            do throws(SignatureText.ParseError) {
                _ = try SignatureText.parse(text)
                Issue.record("parsed bad text: \(text)")
            } catch {
                #expect(error.line == line, "\(text)")
                #expect("\(error)".contains("line \(line)"))
            }
        }
    }
}

/// Enumerations in the tables: the values a request's argument may carry,
/// checked by `MessageParser` on both proxies.
@Suite struct EnumerationTests {
    static let text = """
        I t 2
        R set 1 mode=u@t.mode
        R flags 1 bits=u@t.bits
        R turn 1 transform=i@wl_output.transform
        N mode 0 1 2/2
        N| bits 1 2 8/2
        I wl_output 4
        N transform 0 1 2 3 4 5 6 7

        """

    @Test func enumerationsAndTheArgumentsNamingThemSurviveARoundTrip() throws {
        let parsed = try SignatureText.parse(Self.text)
        let t = try #require(parsed.first)
        #expect(t.enums == [EnumSpec(name: "t.mode", entries: [.init(value: 0), .init(value: 1), .init(value: 2, since: 2)]),
                            EnumSpec(name: "t.bits", isBitfield: true, entries: [.init(value: 1), .init(value: 2), .init(value: 8, since: 2)])])
        #expect(t.requests[0].args == [ArgSpec(.uint, name: "mode", enumName: "t.mode")])
        #expect(SignatureText.render(parsed) == Self.text)
    }

    @Test(arguments: ["R a 1 x=s@t.mode", "R a 1 x=u@mode", "R a 1 x=u@t.mode.more", "N mode 1 x", "N mode 1/0", "N 9mode 1"])
    func malformedEnumerationTextIsAnError(_ line: String) {
        #expect(throws: SignatureText.ParseError.self) { try SignatureText.parse("I t 1\n" + line + "\n") }
    }

    @Test func valuesAreCheckedAtTheObjectsVersionAndBitfieldsBitByBit() {
        let mode = EnumSpec(name: "t.mode", entries: [.init(value: 0), .init(value: 1), .init(value: 2, since: 2)])
        #expect(mode.allows(1, version: 1) && !mode.allows(2, version: 1) && mode.allows(2, version: 2) && !mode.allows(3, version: 9))
        let bits = EnumSpec(name: "t.bits", isBitfield: true, entries: [.init(value: 1), .init(value: 2), .init(value: 8, since: 2)])
        #expect(bits.allows(0, version: 1) && bits.allows(3, version: 1) && !bits.allows(8, version: 1) && bits.allows(11, version: 2))
        #expect(!bits.allows(4, version: 2) && !bits.allows(0x8000_0000, version: 2))
    }

    /// Parses one request to a `t` object of `version` (id 2) against the tables of `text`.
    private func parse(_ opcode: UInt16, _ args: [WireArg], version: UInt32) throws(MessageFault) -> ParsedMessage? {
        let tables = ProtocolTables(try! SignatureText.parse(Self.text + "I wl_display 1\nR sync 1 callback=n\n"))
        let objects = ObjectMap(tables: tables)
        try! objects.insert(2, tables["t"]!, version: version, fromClient: true)
        let bytes = WireCodec.encode(objectID: 2, opcode: opcode, args)
        let result = bytes.withUnsafeBytes { b in
            Result { () throws(MessageFault) -> ParsedMessage? in try MessageParser.next(b, objects: objects, isRequest: true, availableFds: 0) }
        }
        return try result.get()
    }

    @Test func aRequestWithAValueOutsideItsEnumerationIsRefused() throws {
        #expect(try parse(0, [.uint(1)], version: 1) != nil)
        #expect(throws: MessageFault.self) { try parse(0, [.uint(2)], version: 1) }
        #expect(try parse(0, [.uint(2)], version: 2) != nil)
        #expect(throws: MessageFault.self) { try parse(1, [.uint(4)], version: 2) }
        #expect(try parse(1, [.uint(9)], version: 2) != nil)
        // Another interface's enumeration: its entries' versions are not the object's.
        #expect(try parse(2, [.int(7)], version: 1) != nil)
        do {
            _ = try parse(2, [.int(-1)], version: 1)
            Issue.record("transform -1 was accepted")
        } catch {
            #expect(error.code == DisplayErrorCode.invalidMethod.rawValue && error.objectID == 2)
            #expect(error.message == "t.turn: transform 4294967295 is not one of wl_output.transform at version 1", "\(error.message)")
        }
    }

    @Test func theBuiltinTablesCheckSurfaceTransformsButNotShmFormats() throws {
        let surface = try #require(ProtocolTables.builtin["wl_surface"])
        let transform = try #require(surface.requests.first { $0.name == "set_buffer_transform" }?.args.first?.enumeration)
        #expect(transform.name == "wl_output.transform" && transform.entries.map(\.value) == Array(0...7))
        let pool = try #require(ProtocolTables.builtin["wl_shm_pool"])
        let format = try #require(pool.requests.first { $0.name == "create_buffer" }?.args.last)
        #expect(format.enumName == "wl_shm.format" && format.enumeration == nil)
    }
}
