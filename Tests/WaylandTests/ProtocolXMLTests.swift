import Foundation
import Testing
import Wayland

/// Reading protocol XML.
@Suite struct ProtocolXMLTests {
    static let waylandXML = "/usr/share/wayland/wayland.xml"

    @Test
    func systemWaylandXMLEqualsTheBuiltinCoreInterfaces() throws {
        let (name, interfaces) = try ProtocolXML.load(path: Self.waylandXML)
        #expect(name == "wayland")
        let builtinCore = Set(ProtocolTables.builtin.interfaces.keys.filter { $0.hasPrefix("wl_") })
        #expect(Set(interfaces.map(\.name)) == builtinCore)
        for i in interfaces {
            let b = try #require(ProtocolTables.builtin[i.name])
            #expect(sameInterface(i, b), "\(i.name) differs from the builtin table")
        }
        let display = try #require(interfaces.first)
        #expect(display.name == "wl_display" && display.requests.map(\.name) == ["sync", "get_registry"])
    }

    private func loadError(_ xml: String) -> ProtocolXML.LoadError? {
        do throws(ProtocolXML.LoadError) {
            _ = try ProtocolXML.parse(Data(xml.utf8), file: "test.xml")
            return nil
        } catch {
            return error
        }
    }

    @Test func malformedXMLIsAClearError() throws {
        let cases = [
            "not xml at all",
            "<protocol name=p><interface name='a' version='1'/></protocol>",
            "<protocol name='p'><interface name='a' version='1'/><</protocol>",
            "<protocol name='p'><interface name='a' version='1' version='2'/></protocol>",
            "<protocol name='p'><interface name='a' version='1'>&bogus;</interface></protocol>",
        ]
        for xml in cases {
            let error = try #require(loadError(xml), "accepted: \(xml)")
            #expect(error.file == "test.xml")
            #expect(error.reason.hasPrefix("XML error at line 1"), "\(error)")
            #expect("\(error)".hasPrefix("test.xml: "))
        }
        // Cut off inside an interface: nothing complete was read.
        #expect(loadError(#"<protocol name="p"><interface name="a" version="1"><request name="r">"#) != nil)
    }

    /// FoundationXML on Linux does not report unclosed or mismatched tags or
    /// content after the root element; ProtocolXML checks these itself.
    @Test func unbalancedXMLIsAnError() {
        let cases = [
            #"<protocol name="p"><interface name="a" version="1"></interface>"#,
            #"<protocol name="p"><interface name="a" version="1"></protocol>"#,
            "<protocol name='p'><interface name='a' version='1'/></protocol><protocol/>",
        ]
        for xml in cases {
            #expect(loadError(xml) != nil, "accepted: \(xml)")
        }
    }

    @Test func structuralProblemsAreNamed() throws {
        let noVersion = try #require(loadError(#"<protocol name="p"><interface name="a"><request name="r"/></interface></protocol>"#))
        #expect(noVersion.reason.contains("version"))
        let badType = try #require(loadError(#"<protocol name="p"><interface name="a" version="1"><request name="r"><arg name="x" type="float"/></request></interface></protocol>"#))
        #expect(badType.reason.contains("unknown arg type 'float'"))
        let badSince = try #require(loadError(#"<protocol name="p"><interface name="a" version="1"><event name="e" since="zero"/></interface></protocol>"#))
        #expect(badSince.reason.contains("since"))
        #expect(try #require(loadError(#"<protocol name="p"></protocol>"#)).reason.contains("no <interface>"))
        #expect(try #require(loadError(#"<interface name="a" version="1"/>"#)).reason.contains("no <protocol>"))
    }

    @Test func argumentsKeepInterfaceAndNullability() throws {
        let xml = #"""
        <protocol name="p">
          <interface name="a" version="2">
            <description summary="ignored">text</description>
            <request name="bye" type="destructor" since="2"/>
            <request name="make"><arg name="id" type="new_id" interface="b"/><arg name="s" type="string" allow-null="true"/></request>
            <event name="got"><arg name="o" type="object" interface="b" allow-null="true"/><arg name="f" type="fd"/></event>
          </interface>
          <interface name="b" version="1"/>
        </protocol>
        """#
        let (name, interfaces) = try ProtocolXML.parse(Data(xml.utf8))
        #expect(name == "p" && interfaces.map(\.name) == ["a", "b"])
        let a = interfaces[0]
        #expect(a.requests == [
            MessageSpec(name: "bye", since: 2, isDestructor: true, args: []),
            MessageSpec(name: "make", args: [ArgSpec(.newID, name: "id", interface: "b"), ArgSpec(.string, name: "s", nullable: true)]),
        ])
        #expect(a.events == [MessageSpec(name: "got", args: [ArgSpec(.object, name: "o", interface: "b", nullable: true), ArgSpec(.fd, name: "f")])])
    }

    @Test func enumerationsKeepTheirValuesVersionsAndKind() throws {
        let xml = #"""
        <protocol name="p">
          <interface name="a" version="3">
            <request name="set"><arg name="m" type="uint" enum="mode"/><arg name="t" type="int" enum="wl_output.transform"/></request>
            <request name="label"><arg name="s" type="string" enum="mode"/></request>
            <enum name="mode"><entry name="off" value="0"/><entry name="big" value="0x10" since="3"/></enum>
            <enum name="caps" bitfield="true" since="2"><entry name="x" value="1"/><entry name="y" value="2" since="3"/></enum>
          </interface>
        </protocol>
        """#
        let a = try ProtocolXML.parse(Data(xml.utf8)).interfaces[0]
        #expect(a.requests[0].args == [ArgSpec(.uint, name: "m", enumName: "a.mode"), ArgSpec(.int, name: "t", enumName: "wl_output.transform")])
        // Only integers hold enumeration values.
        #expect(a.requests[1].args == [ArgSpec(.string, name: "s")])
        #expect(a.enums == [EnumSpec(name: "a.mode", entries: [.init(value: 0), .init(value: 16, since: 3)]),
                            EnumSpec(name: "a.caps", isBitfield: true, entries: [.init(value: 1, since: 2), .init(value: 2, since: 3)])])
        let bad = #"<protocol name="p"><interface name="a" version="1"><enum name="e"><entry name="x" value="-1"/></enum></interface></protocol>"#
        #expect(try #require(loadError(bad)).reason.contains("without a valid value"))
    }

    @Test func anArgumentNeedsAUsableName() throws {
        for arg in [#"<arg type="int"/>"#, #"<arg name="" type="int"/>"#, #"<arg name="two words" type="int"/>"#, #"<arg name="a=b" type="int"/>"#] {
            let xml = #"<protocol name="p"><interface name="a" version="1"><request name="r">"# + arg + "</request></interface></protocol>"
            let error = try #require(loadError(xml), "accepted: \(arg)")
            #expect(error.reason.contains("without a valid name"), "\(error)")
        }
    }
}
