import Glibc

/// The one place that starts a thread of our own (a pthread, so that the
/// caller keeps its handle to join it): a region copy worker, a host's
/// receive threads, a guest lane's writer.
public enum NativeThread {
    /// Starts a thread that runs `body` once; `purpose` says what for, in the error.
    public static func start(_ purpose: String, _ body: @escaping () -> Void) throws(SystemError) -> pthread_t {
        let box = Unmanaged.passRetained(Body(body))
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, box.toOpaque())
        guard rc == 0 else {
            box.release()
            throw SystemError(purpose, code: rc)
        }
        return thread
    }

    /// What the new thread runs, handed over through pthread_create's one pointer.
    private final class Body {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }
}
