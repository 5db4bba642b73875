/// One byte range of a resource update and where its data sits in the frame.
public struct UpdateRange: Equatable, Sendable {
    public var offset: UInt64
    public var length: UInt32
    public init(offset: UInt64, length: UInt32) {
        self.offset = offset
        self.length = length
    }
}
