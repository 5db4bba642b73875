import CPorthole
import Glibc

/// The one place that starts a thread of our own (a pthread, so that the
/// caller keeps its handle to join it): the copy thread and its helper, a
/// host's receive threads, a guest lane's writer.
public enum NativeThread {
    /// Starts a thread named `name` that runs `body` once; `purpose` says
    /// what for, in the error. The name is what `top -H`, `ps -L` and `perf`
    /// show for the thread (the kernel keeps 15 bytes of it): without one,
    /// every thread of a proxy is "porthole" and a trace cannot tell the
    /// loop from the threads that move a video's bytes.
    public static func start(_ purpose: String, name: String, _ body: @escaping () -> Void) throws(SystemError) -> pthread_t {
        let box = Unmanaged.passRetained(Body {
            nameCurrent(name)
            body()
        })
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

    /// Names the calling thread (also a thread Foundation started, whose
    /// own `name` does not reach the kernel on Linux); the kernel keeps the
    /// first 15 bytes.
    public static func nameCurrent(_ name: String) {
        _ = porthole_set_thread_name(name)
    }

    /// What the new thread runs, handed over through pthread_create's one pointer.
    private final class Body {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }
}
