/// A `ConnectAttempt` run on an event loop, with a deadline. `completion` is
/// called exactly once, from the loop (never from `init`), unless `cancel()`
/// comes first. The loop keeps the attempt alive until then: there is no
/// need to hold on to it except to cancel it.
public final class PendingConnect {
    public let address: SocketAddress
    private let attempt: ConnectAttempt
    private let loop: EventLoop
    private let timeout: Double
    private var completion: ((Result<OwnedFD, SystemError>) -> Void)?
    private var watch: EventLoop.Token?
    private var timer: EventLoop.Token?

    public init(to address: SocketAddress, loop: EventLoop, timeout: Double = Socket.connectTimeout,
                completion: @escaping (Result<OwnedFD, SystemError>) -> Void) {
        self.address = address
        self.loop = loop
        self.timeout = timeout
        self.completion = completion
        attempt = ConnectAttempt(address)
        loop.defer_ { self.begin() }
    }

    /// Whether the attempt has finished or was cancelled.
    public var isFinished: Bool { completion == nil }

    /// Abandons the attempt (closing its socket); `completion` is not called.
    public func cancel() {
        completion = nil
        attempt.abandon()
        stopWatching()
        if let t = timer { loop.unregister(t) }
        timer = nil
    }

    private func begin() {
        guard completion != nil else { return }
        do {
            timer = try loop.addTimer(nanoseconds: UInt64(timeout * 1e9), repeating: false) {
                self.timer = nil
                self.finish(.failure(self.attempt.timeoutError(seconds: self.timeout)))
            }
        } catch {
            finish(.failure(error))
            return
        }
        step()
    }

    private func step() {
        guard completion != nil else { return }
        // The descriptor may change (next candidate), and the caller registers
        // the connected one itself: never leave a registration behind.
        stopWatching()
        do {
            switch try attempt.advance() {
            case .wait(let fd, let events):
                watch = try loop.register(fd, events: events) { _ in self.step() }
            case .done(let fd):
                finish(.success(fd))
            }
        } catch {
            finish(.failure(error))
        }
    }

    private func stopWatching() {
        if let w = watch { loop.unregister(w) }
        watch = nil
    }

    private func finish(_ result: Result<OwnedFD, SystemError>) {
        guard let done = completion else { return }
        cancel()
        done(result)
    }
}
