import Foundation
import Glibc
import PortholeSystem
import Wayland

/// A deliberately dumb Wayland client for hostile-input tests: it writes
/// whatever bytes and fds it is told to and reads what comes back.
final class RawWaylandClient {
    let socket: OwnedFD
    private let input = ReadBuffer()
    private(set) var sawEOF = false

    init(path: String) throws {
        socket = try Socket.connect(.unix(path: path))
    }

    func send(_ bytes: [UInt8], fds: [OwnedFD] = []) throws {
        let raw = fds.map(\.rawValue)
        var offset = 0
        while offset < bytes.count {
            let n = try bytes.withUnsafeBytes { b in
                try Socket.send(socket, UnsafeRawBufferPointer(rebasing: b[offset...]), fds: offset == 0 ? raw : [])
            }
            if n == 0 { usleep(1000) }
            offset += n
        }
    }

    func send(_ object: UInt32, _ opcode: UInt16, _ args: [WireArg], fds: [OwnedFD] = []) throws {
        try send(WireCodec.encode(objectID: object, opcode: opcode, args), fds: fds)
    }

    /// Reads until `timeout` or EOF; returns the messages as (object, opcode, body bytes).
    func readMessages(until stop: ([(UInt32, UInt16, [UInt8])]) -> Bool, timeout: Double = 10) throws -> [(UInt32, UInt16, [UInt8])] {
        var messages: [(UInt32, UInt16, [UInt8])] = []
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline && !sawEOF {
            var pfd = pollfd(fd: socket.rawValue, events: Int16(POLLIN), revents: 0)
            _ = poll(&pfd, 1, 50)
            if try !input.fill(from: socket) { sawEOF = true }
            while let h = input.withUnconsumed({ MessageHeader.peek($0) }), h.size >= 8, input.count >= h.size {
                let body = input.withUnconsumed { Array($0[8..<h.size]) }
                messages.append((h.objectID, h.opcode, body))
                input.consume(h.size)
            }
            if stop(messages) { break }
        }
        return messages
    }

    /// Reads until the connection closes; returns the wl_display.error, if any, as (object, code, message).
    func expectErrorAndClose(timeout: Double = 10) throws -> (UInt32, UInt32, String)? {
        let messages = try readMessages(until: { _ in false }, timeout: timeout)
        guard sawEOF else { return nil }
        return try Self.displayError(in: messages) ?? (0, 0, "<closed without wl_display.error>")
    }

    /// The first wl_display.error among `messages`, as (object, code, message).
    static func displayError(in messages: [(UInt32, UInt16, [UInt8])]) throws -> (UInt32, UInt32, String)? {
        for (obj, op, body) in messages where obj == 1 && op == 0 {
            let args = try body.withUnsafeBytes { b -> [WireArg] in
                var whole = [UInt8](repeating: 0, count: 8)
                whole.append(contentsOf: b)
                return try whole.withUnsafeBytes { try WireCodec.decode($0, ProtocolTables.builtin.display.events[0]) }
            }
            if case .object(let o) = args[0], case .uint(let code) = args[1], case .string(let text) = args[2] {
                return (o, code, String(decoding: text ?? [], as: UTF8.self))
            }
        }
        return nil
    }

    /// get_registry + sync; returns interface name -> (registry name, version).
    func registryGlobals(registryID: UInt32 = 2, callbackID: UInt32 = 3) throws -> [String: (UInt32, UInt32)] {
        try send(1, 1, [.newID(registryID)])
        try send(1, 0, [.newID(callbackID)])
        let messages = try readMessages(until: { $0.contains { $0.0 == callbackID } })
        var globals: [String: (UInt32, UInt32)] = [:]
        let globalSpec = ProtocolTables.builtin["wl_registry"]!.events[0]
        for (obj, op, body) in messages where obj == registryID && op == 0 {
            var whole = [UInt8](repeating: 0, count: 8)
            whole.append(contentsOf: body)
            let args = try whole.withUnsafeBytes { try WireCodec.decode($0, globalSpec) }
            if case .uint(let name) = args[0], case .string(let iface?) = args[1], case .uint(let v) = args[2] {
                globals[String(decoding: iface, as: UTF8.self)] = (name, v)
            }
        }
        return globals
    }
}

