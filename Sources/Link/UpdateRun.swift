/// One run of bytes of a resource for `LinkEndpoint.sendUpdate`.
public struct UpdateRun: Equatable, Sendable {
    public var offset: Int
    public var length: Int
    public init(offset: Int, length: Int) {
        self.offset = offset
        self.length = length
    }
}
