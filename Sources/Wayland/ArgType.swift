/// The wire type of one message argument.
public enum ArgType: Sendable, Equatable {
    case int, uint, fixed, string, object, newID, array, fd
}
