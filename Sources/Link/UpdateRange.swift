/// One byte range of a resource update and where its data sits in the frame.
public struct UpdateRange: Equatable, Sendable {
    public var offset: UInt64
    public var length: UInt32
    public init(offset: UInt64, length: UInt32) {
        self.offset = offset
        self.length = length
    }

    /// Whether the range lies inside a resource of `size` bytes (offsets
    /// come from the peer: the sum may overflow).
    public func fits(within size: UInt64) -> Bool {
        let (end, overflow) = offset.addingReportingOverflow(UInt64(length))
        return !overflow && end <= size
    }
}
