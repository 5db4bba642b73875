import Link
import PortholeSystem

/// What a handler decides for one message.
enum Verdict {
    case forward
    /// Not passed on (the proxy answered it itself, or hides it).
    case drop
}
