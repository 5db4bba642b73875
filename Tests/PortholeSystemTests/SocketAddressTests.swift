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
        for text in ["", "udp:1.2.3.4:5", "UNIX:/tmp/x", "VSOCK:2:1", "/tmp/socket", "unix", "tcp", "vsock", "file", "vsockmux:/x:1"] {
            let e = parseError(text)
            #expect(e?.reason.hasPrefix("unknown transport") == true, "\(text)")
            #expect(e?.text == text)
        }
        #expect(parseError("ftp:x")?.description
            == "bad address 'ftp:x': unknown transport (expected unix:PATH, tcp:HOST:PORT, vsock:CID:PORT, vsock-mux:PATH:PORT or file:PATH)")
    }

    @Test func vsockAddresses() {
        #expect(parse("vsock:2:1234") == .vsock(cid: 2, port: 1234))
        #expect(parse("vsock:host:7300") == .vsock(cid: SocketAddress.vsockHostCID, port: 7300))
        #expect(parse("vsock:any:7300") == .vsock(cid: 0xFFFF_FFFF, port: 7300))
        #expect(parse("vsock:0:1") == .vsock(cid: 0, port: 1))
        #expect(parse("vsock:3:4294967294") == .vsock(cid: 3, port: 4_294_967_294))
        #expect(parse("vsock:4294967294:5") == .vsock(cid: 4_294_967_294, port: 5))
        // Which addresses work for which verb.
        #expect(parse("vsock:any:1")?.canListen == true)
        #expect(parse("vsock:any:1")?.canConnect == false, "CID any is for listening only")
        #expect(parse("vsock:3:1")?.canConnect == true)
    }

    @Test func vsockErrors() {
        let cidError = "vsock CID must be 0...4294967294, 'host' or 'any'"
        let portError = "vsock port must be 1...4294967294"
        #expect(parseError("vsock:4294967295:5")?.reason == cidError, "0xFFFFFFFF is spelled 'any'")
        #expect(parseError("vsock:4294967296:5")?.reason == cidError)
        #expect(parseError("vsock:-1:5")?.reason == cidError)
        #expect(parseError("vsock:+3:5")?.reason == cidError)
        #expect(parseError("vsock::5")?.reason == cidError)
        #expect(parseError("vsock:ANY:5")?.reason == cidError)
        #expect(parseError("vsock:guest:5")?.reason == cidError)
        #expect(parseError("vsock:3:0")?.reason == portError)
        #expect(parseError("vsock:3:4294967295")?.reason == portError, "VMADDR_PORT_ANY is not a port")
        #expect(parseError("vsock:3:99999999999")?.reason == portError)
        #expect(parseError("vsock:3:")?.reason == portError)
        #expect(parseError("vsock:3:x")?.reason == portError)
        #expect(parseError("vsock:3: 5")?.reason == portError)
        for text in ["vsock:", "vsock:3", "vsock:3:4:5", "vsock:1234"] {
            #expect(parseError(text)?.reason == "expected vsock:CID:PORT", "\(text)")
        }
    }

    @Test func vsockMuxAddresses() {
        #expect(parse("vsock-mux:/run/fc/v.sock:1024") == .vsockMux(path: "/run/fc/v.sock", port: 1024))
        #expect(parse("vsock-mux:/a:b/v.sock:5") == .vsockMux(path: "/a:b/v.sock", port: 5), "the port follows the last colon")
        #expect(parse("vsock-mux:rel.sock:4294967294") == .vsockMux(path: "rel.sock", port: 4_294_967_294))
        #expect(parse("vsock-mux:/x:1")?.canListen == false)
        #expect(parse("vsock-mux:/x:1")?.canConnect == true)
    }

    @Test func vsockMuxErrors() {
        #expect(parseError("vsock-mux:/x.sock")?.reason == "expected vsock-mux:PATH:PORT")
        #expect(parseError("vsock-mux:")?.reason == "expected vsock-mux:PATH:PORT")
        #expect(parseError("vsock-mux::5")?.reason == "empty path")
        #expect(parseError("vsock-mux:/x.sock:0")?.reason == "vsock port must be 1...4294967294")
        #expect(parseError("vsock-mux:/x.sock:")?.reason == "vsock port must be 1...4294967294")
        #expect(parseError("vsock-mux:/x.sock:port")?.reason == "vsock port must be 1...4294967294")
        let tooLong = "/" + String(repeating: "p", count: 107)
        #expect(parseError("vsock-mux:\(tooLong):5")?.reason.contains("longer than 107") == true)
    }

    @Test func fileAddresses() {
        #expect(parse("file:/dev/vport0p1") == .file(path: "/dev/vport0p1"))
        #expect(parse("file:/dev/virtio-ports/org.porthole.link") == .file(path: "/dev/virtio-ports/org.porthole.link"))
        #expect(parse("file:relative:with:colons") == .file(path: "relative:with:colons"))
        let long = "/" + String(repeating: "d", count: 300)
        #expect(parse("file:" + long) == .file(path: long), "not a socket: no sun_path limit")
        #expect(parse("file:/dev/ttyS1")?.canListen == false)
        #expect(parse("file:/dev/ttyS1")?.canConnect == true)
        #expect(parseError("file:")?.reason == "empty path")
    }

    @Test func descriptionRoundTrips() {
        let addresses: [SocketAddress] = [
            .unix(path: "/tmp/porthole.sock"),
            .tcp(host: "127.0.0.1", port: 4000),
            .tcp(host: "::1", port: 4001),
            .tcp(host: "host.example", port: 80),
            .vsock(cid: 3, port: 7300),
            .vsock(cid: SocketAddress.vsockAnyCID, port: 1),
            .vsockMux(path: "/run/vmm/vsock.sock", port: 1024),
            .file(path: "/dev/vport0p1"),
        ]
        for a in addresses { #expect(parse(a.description) == a, "\(a)") }
        #expect(SocketAddress.tcp(host: "::1", port: 4001).description == "tcp:[::1]:4001")
        #expect(SocketAddress.unix(path: "/x").description == "unix:/x")
        #expect(SocketAddress.vsock(cid: SocketAddress.vsockAnyCID, port: 9).description == "vsock:any:9")
        #expect(SocketAddress.vsock(cid: 2, port: 9).description == "vsock:2:9")
        #expect(SocketAddress.vsockMux(path: "/v.sock", port: 52).description == "vsock-mux:/v.sock:52")
        #expect(SocketAddress.file(path: "/dev/vport0p1").description == "file:/dev/vport0p1")
    }
}
