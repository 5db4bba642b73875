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
