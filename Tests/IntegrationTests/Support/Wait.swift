import Foundation

/// Polls `condition` every `poll` seconds until it returns true or `timeout`
/// seconds have passed. Returns whether the condition became true. The
/// condition is always evaluated at least once, and once more at the deadline.
@discardableResult
func waitUntil(
    timeout: Double = 10,
    poll: Double = 0.05,
    _ condition: () throws -> Bool
) rethrows -> Bool {
    let deadline = monotonicSeconds() + timeout
    while true {
        if try condition() { return true }
        let now = monotonicSeconds()
        if now >= deadline { return false }
        sleepSeconds(min(poll, deadline - now))
    }
}

/// The async form of `waitUntil`: sleeps with `Task.sleep`, so it does not
/// hold a thread of Swift's cooperative pool while waiting.
@discardableResult
func waitUntil(
    timeout: Double = 10,
    poll: Double = 0.05,
    _ condition: () async throws -> Bool
) async rethrows -> Bool {
    let deadline = monotonicSeconds() + timeout
    while true {
        if try await condition() { return true }
        let now = monotonicSeconds()
        if now >= deadline { return false }
        try? await Task.sleep(nanoseconds: UInt64(min(poll, deadline - now) * 1e9))
    }
}

/// Polls `produce` until it returns a value, and returns it; throws a
/// `SupportError` naming `what` after `timeout` seconds. An error thrown by
/// `produce` is remembered and retried; if the wait times out, the last such
/// error is included in the message.
func waitFor<T>(
    _ what: String,
    timeout: Double = 10,
    poll: Double = 0.05,
    _ produce: () throws -> T?
) throws -> T {
    let start = monotonicSeconds()
    let deadline = start + timeout
    var lastError: Error?
    while true {
        do {
            if let value = try produce() { return value }
            lastError = nil
        } catch {
            lastError = error
        }
        let now = monotonicSeconds()
        if now >= deadline { break }
        sleepSeconds(min(poll, deadline - now))
    }
    var message = "timed out after \(String(format: "%.1f", monotonicSeconds() - start)) s waiting for \(what)"
    if let lastError { message += " (last error: \(lastError))" }
    throw SupportError(message)
}
