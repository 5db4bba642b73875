/// What a node does when the buffer behind it changes (a new buffer of the
/// same guest and application takes over an idle node): keep the format a
/// consumer negotiated, or offer the new one and let consumers renegotiate.
/// Buffers are never resized behind a consumer's back.
public enum FormatDecision: Equatable, Sendable {
    /// The new buffer has the format already offered: frames flow on.
    case keep
    /// Offer the new format (pw_stream_update_params with a new
    /// EnumFormat); frames wait until a consumer has fixed it.
    case renegotiate(SourceFormat)

    /// The decision for a node that offers `offered` when a buffer of
    /// format `next` takes it over. Only size and pixel layout are
    /// negotiated: a different guest stride changes only how rows are
    /// copied.
    public static func decide(offered: SourceFormat, next: SourceFormat) -> FormatDecision {
        if offered.pixel == next.pixel && offered.width == next.width && offered.height == next.height { return .keep }
        return .renegotiate(next)
    }
}
