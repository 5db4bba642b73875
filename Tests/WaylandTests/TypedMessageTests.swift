import Foundation
import Testing
import Wayland

/// The typed structs generated for protocols/interpreted-messages.txt and the
/// `kind` every table gives their messages.
@Suite struct TypedMessageTests {
    /// The builtin spec of a typed message, found by its opcode.
    private func builtinSpec(_ type: any TypedMessage.Type) throws -> MessageSpec {
        let iface = try #require(ProtocolTables.builtin[type.interfaceName], "\(type.interfaceName) is not built in")
        let list = type.isRequest ? iface.requests : iface.events
        try #require(Int(type.opcode) < list.count, "\(type) opcode \(type.opcode) is past the end")
        return list[Int(type.opcode)]
    }

    /// `type` from `args` (outside the test macros, which cannot expand a
    /// call of `init` on a metatype value).
    private func make(_ type: any TypedMessage.Type, _ args: [WireArg]) -> (any TypedMessage)? {
        type.init(args)
    }

    /// Arguments of the right shape for `spec`, each value different.
    private func sampleArgs(_ spec: MessageSpec) -> [WireArg] {
        spec.args.enumerated().map { i, a in
            switch a.type {
            case .int: .int(-10 - Int32(i))
            case .uint: .uint(100 + UInt32(i))
            case .fixed: .fixed(256 * Int32(i) + 128)
            case .string: .text("text \(i)")
            case .object: .object(20 + UInt32(i))
            case .newID: a.interface == nil ? .untypedNewID(interface: Array("wl_compositor".utf8), version: 4, id: 30 + UInt32(i)) : .newID(30 + UInt32(i))
            case .array: .array([1, 2, 3])
            case .fd: .fd
            }
        }
    }

    @Test func theGeneratedKindsAreExactlyTheListedMessages() throws {
        let listPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("protocols/interpreted-messages.txt").path
        let text = try String(contentsOfFile: listPath, encoding: .utf8)
        let listed = text.split(separator: "\n").compactMap { line -> String? in
            let content = line.split(separator: "#", omittingEmptySubsequences: false)[0].trimmingCharacters(in: .whitespaces)
            return content.isEmpty ? nil : content
        }
        let generated = MessageKind.allCases.map { kind in
            let t = kind.messageType
            return "\(t.isRequest ? "request" : "event") \(t.interfaceName).\(t.messageName)"
        }
        #expect(generated == listed, "regenerate with scripts/generate-tables")
    }

    @Test func everyListedMessageHasItsKindInTheBuiltinTables() throws {
        for kind in MessageKind.allCases {
            let t = kind.messageType
            #expect(t.kind == kind)
            let spec = try builtinSpec(t)
            #expect(spec.name == t.messageName, "\(t) opcode \(t.opcode) is \(spec.name) in the tables")
            #expect(spec.kind == t.kind)
            #expect(MessageKind(interface: t.interfaceName, message: t.messageName, isRequest: t.isRequest) == kind)
        }
    }

    @Test func messagesNotListedHaveNoKind() throws {
        var withKind = 0
        for iface in builtinInterfaces {
            for m in iface.requests + iface.events where m.kind != nil { withKind += 1 }
        }
        #expect(withKind == MessageKind.allCases.count)
        let surface = try #require(ProtocolTables.builtin["wl_surface"])
        #expect(surface.requests[Int(try #require(surface.requestOpcode("frame")))].kind == nil)
        #expect(try #require(ProtocolTables.builtin["wl_data_source"]).requests.allSatisfy { $0.kind == nil })
        // The direction is part of the name: wl_data_offer has an offer event, no offer request.
        #expect(MessageKind(interface: "wl_data_offer", message: "offer", isRequest: true) == nil)
        #expect(MessageKind(interface: "wl_data_offer", message: "offer", isRequest: false) == .wlDataOfferOffer)
    }

    @Test func everyTypedMessageTakesItsArgumentsAndGivesThemBack() throws {
        for kind in MessageKind.allCases {
            let t = kind.messageType
            let spec = try builtinSpec(t)
            let args = sampleArgs(spec)
            let value = try #require(make(t, args), "\(t) refused well-shaped arguments")
            #expect(value.args == args, "\(t)")
            let bytes = value.encode(objectID: 9)
            #expect(bytes == WireCodec.encode(objectID: 9, opcode: t.opcode, args))
            let decoded = try bytes.withUnsafeBytes { try WireCodec.decode($0, spec) }
            #expect(decoded == args, "\(t)")
        }
    }

    @Test func argumentsOfAnotherShapeGiveNoValue() throws {
        for kind in MessageKind.allCases {
            let t = kind.messageType
            let args = sampleArgs(try builtinSpec(t))
            #expect(make(t, args + [.uint(0)]) == nil, "\(t) took an extra argument")
            if !args.isEmpty { #expect(make(t, Array(args.dropLast())) == nil, "\(t) took too few arguments") }
            for i in args.indices {
                var wrong = args
                if case .array = args[i] { wrong[i] = .int(1) } else { wrong[i] = .array([1]) }
                #expect(make(t, wrong) == nil, "\(t) took \(wrong[i]) as argument \(i)")
            }
        }
        #expect(WlDataOfferOffer([.string(nil)]) == nil, "mime_type may not be null")
        #expect(WlRegistryBind([.uint(1), .newID(3)]) == nil, "bind's new_id carries its interface")
    }

    @Test func propertiesHaveTheXMLNamesAndSwiftTypes() throws {
        let buffer = try #require(WlShmPoolCreateBuffer([.newID(5), .int(64), .int(10), .int(20), .int(40), .uint(1)]))
        #expect(buffer == WlShmPoolCreateBuffer(id: 5, offset: 64, width: 10, height: 20, stride: 40, format: 1))
        #expect(WlShmPoolCreateBuffer.opcode == 0 && WlShmPoolCreateBuffer.isRequest)

        let bind = try #require(WlRegistryBind([.uint(7), .untypedNewID(interface: Array("wl_compositor".utf8), version: 4, id: 3)]))
        #expect(bind.name == 7 && bind.id.interfaceName == "wl_compositor" && bind.id.version == 4 && bind.id.id == 3)

        let source = try #require(WpViewportSetSource([.fixed(-384), .fixed(256), .fixed(3200), .fixed(1)]))
        #expect(source.x.doubleValue == -1.5 && source.y.doubleValue == 1 && source.width.doubleValue == 12.5)
        #expect(source.height == Fixed(raw: 1) && source.height.doubleValue == 1.0 / 256)

        // An fd has no property; it stays in args as .fd.
        let ready = try #require(PortholeSharedBufferV1Ready([.fd, .uint(4096), .uint(128)]))
        #expect(ready.regionSize == 4096 && ready.offset == 128)
        #expect(ready.args == [.fd, .uint(4096), .uint(128)])

        let error = try #require(WlDisplayError([.object(3), .uint(1), .text("bad")]))
        #expect(error.objectId == 3 && error.message == Array("bad".utf8))
        let attach = try #require(WlSurfaceAttach([.object(0), .int(0), .int(0)]))
        #expect(attach.buffer == 0, "a null buffer is id 0")
        #expect(WlSurfaceCommit([]) == WlSurfaceCommit())
    }

    @Test func aRewrittenValueEncodesTheNewArguments() throws {
        var pool = try #require(WlShmCreatePool([.newID(6), .fd, .int(4096)]))
        pool.size = 8192
        let bytes = pool.encode(objectID: 4)
        let header = try #require(bytes.withUnsafeBytes { MessageHeader.peek($0) })
        #expect(header == MessageHeader(objectID: 4, opcode: 0, size: 16))
        let spec = try builtinSpec(WlShmCreatePool.self)
        #expect(try bytes.withUnsafeBytes { try WireCodec.decode($0, spec) } == [.newID(6), .fd, .int(8192)])
    }

    @Test func anInterfaceLoadedAtRunTimeGetsKindsToo() throws {
        // A redefinition with another order and shape: kinds follow the
        // names, and the typed struct refuses the arguments instead of trapping.
        let xml = #"""
        <protocol name="p">
          <interface name="wl_shm_pool" version="2">
            <request name="resize"><arg name="size" type="uint"/></request>
            <request name="create_buffer"><arg name="id" type="new_id" interface="wl_buffer"/></request>
            <request name="destroy" type="destructor"/>
            <request name="grow"><arg name="size" type="int"/></request>
          </interface>
        </protocol>
        """#
        let (_, interfaces) = try ProtocolXML.parse(Data(xml.utf8))
        let pool = try #require(interfaces.first)
        #expect(pool.requests.map(\.kind) == [.wlShmPoolResize, .wlShmPoolCreateBuffer, .wlShmPoolDestroy, nil])
        #expect(WlShmPoolCreateBuffer([.newID(5)]) == nil)
        #expect(WlShmPoolResize([.uint(5)]) == nil)
        // Tables made directly get kinds the same way.
        let made = Interface(name: "wl_buffer", version: 1, requests: [MessageSpec(name: "destroy", isDestructor: true, args: [])], events: [])
        #expect(made.requests[0].kind == .wlBufferDestroy)
    }
}
