/// wp_viewport state of a surface (already committed).
struct ViewportState: Equatable {
    /// Source rectangle in buffer coordinates after transform and scale, or nil.
    var source: (x: Double, y: Double, width: Double, height: Double)?
    /// Destination size in surface coordinates, or nil.
    var destination: (width: Int, height: Int)?

    static func == (a: ViewportState, b: ViewportState) -> Bool {
        a.source?.x == b.source?.x && a.source?.y == b.source?.y && a.source?.width == b.source?.width
            && a.source?.height == b.source?.height && a.destination?.width == b.destination?.width
            && a.destination?.height == b.destination?.height
    }
}
