import PortholeSystem
import Testing

@Suite struct SocketAddressTests {
    private func parse(_ text: String) -> SocketAddress? { try? SocketAddress(parsing: text) }

    private func parseError(_ text: String) -> SocketAddress.ParseError? {
        do {
            let a = try SocketAddress(parsing: text)
            Issue.record("'\(text)' parsed as \(a), expected an error")
            return nil
        } catch {
            return error
        }
    }

    @Test func unixPaths() {
        #expect(parse("unix:/run/user/1000/wayland-0") == .unix(path: "/run/user/1000/wayland-0"))
        #expect(parse("unix:relative/sock") == .unix(path: "relative/sock"))
        #expect(parse("unix:/a:b") == .unix(path: "/a:b"), "colons belong to the path")
        let longest = "/" + String(repeating: "p", count: 106)
        #expect(parse("unix:" + longest) == .unix(path: longest), "107 bytes fit sun_path with its NUL")
    }

    @Test func unixErrors() {
        #expect(parseError("unix:")?.reason == "empty path")
        let tooLong = "/" + String(repeating: "p", count: 107)
        #expect(parseError("unix:" + tooLong)?.reason.contains("longer than 107") == true)
        // Length is counted in bytes, not characters.
        let multibyte = "/" + String(repeating: "é", count: 54) // 1 + 108 bytes
        #expect(parseError("unix:" + multibyte) != nil)
    }

    @Test func tcpAddresses() {
        #expect(parse("tcp:127.0.0.1:5000") == .tcp(host: "127.0.0.1", port: 5000))
        #expect(parse("tcp:localhost:1") == .tcp(host: "localhost", port: 1))
        #expect(parse("tcp:example.org:65535") == .tcp(host: "example.org", port: 65535))
        #expect(parse("tcp:[::1]:9000") == .tcp(host: "::1", port: 9000))
        #expect(parse("tcp:[fe80::1%eth0]:22") == .tcp(host: "fe80::1%eth0", port: 22))
    }

    @Test func tcpErrors() {
        let portError = "port must be 1...65535"
        #expect(parseError("tcp:127.0.0.1:0")?.reason == portError)
        #expect(parseError("tcp:127.0.0.1:70000")?.reason == portError)
        #expect(parseError("tcp:127.0.0.1:65536")?.reason == portError)
        #expect(parseError("tcp:127.0.0.1:-1")?.reason == portError)
        #expect(parseError("tcp:127.0.0.1:")?.reason == portError)
        #expect(parseError("tcp:127.0.0.1:http")?.reason == portError)
        #expect(parseError("tcp:127.0.0.1")?.reason == "expected tcp:HOST:PORT")
        #expect(parseError("tcp:")?.reason == "expected tcp:HOST:PORT")
        #expect(parseError("tcp::80")?.reason == "empty host")
        #expect(parseError("tcp:[]:80")?.reason == "empty host")
    }

    @Test func unknownSchemes() {
        for text in ["", "vsock:2:1234", "udp:1.2.3.4:5", "UNIX:/tmp/x", "/tmp/socket", "unix", "tcp"] {
            let e = parseError(text)
            #expect(e?.reason.hasPrefix("unknown transport") == true, "\(text)")
            #expect(e?.text == text)
        }
        #expect(parseError("ftp:x")?.description == "bad address 'ftp:x': unknown transport (expected unix:PATH or tcp:HOST:PORT)")
    }

    @Test func descriptionRoundTrips() {
        let addresses: [SocketAddress] = [
            .unix(path: "/tmp/porthole.sock"),
            .tcp(host: "127.0.0.1", port: 4000),
            .tcp(host: "::1", port: 4001),
            .tcp(host: "host.example", port: 80),
        ]
        for a in addresses { #expect(parse(a.description) == a, "\(a)") }
        #expect(SocketAddress.tcp(host: "::1", port: 4001).description == "tcp:[::1]:4001")
        #expect(SocketAddress.unix(path: "/x").description == "unix:/x")
    }
}
