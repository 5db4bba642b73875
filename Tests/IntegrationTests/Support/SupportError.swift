import Foundation

/// An error raised by the integration-test support code. Its message is meant
/// to be read in a test failure: it says what was expected and, where there is
/// one, what the process involved wrote to stderr.
struct SupportError: Error, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

/// Monotonic seconds, for timeouts.
func monotonicSeconds() -> Double {
    Double(DispatchTime.now().uptimeNanoseconds) / 1e9
}

/// Sleeps the calling thread.
func sleepSeconds(_ seconds: Double) {
    guard seconds > 0 else { return }
    Thread.sleep(forTimeInterval: seconds)
}
