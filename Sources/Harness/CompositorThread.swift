import Foundation
import Glibc
import PortholeSystem

/// A compositor event loop (`CompositorServer`) listening on a unix socket
/// and running on its own background thread, with a wake-up socket to stop
/// it. `RecordingCompositor` and `SinkCompositor` are both built on it.
final class CompositorThread: @unchecked Sendable {
    /// Descriptors handed to the background thread.
    private final class ThreadResources: @unchecked Sendable {
        let listener: OwnedFD
        let wakeReader: OwnedFD
        var startError: SystemError?
        init(listener: OwnedFD, wakeReader: OwnedFD) {
            self.listener = listener
            self.wakeReader = wakeReader
        }
    }

    private let finished: DispatchSemaphore
    private let wakeWriter: OwnedFD
    private let resources: ThreadResources
    private let socketPath: String

    /// Listens on `socketPath`, builds the server with `make` on a new thread
    /// named `name` and starts serving. Throws if either step fails (the
    /// socket is removed again).
    init(socketPath: String, name: String,
         make: @escaping @Sendable (_ listener: OwnedFD, _ wake: OwnedFD) throws(SystemError) -> CompositorServer) throws(HarnessError) {
        self.socketPath = socketPath
        let listener = try system("listen on \(socketPath)") { () throws(SystemError) in try Socket.listen(.unix(path: socketPath)) }
        let (wakeReader, wakeWriter) = try system("create the wake-up socket pair") { () throws(SystemError) in try Socket.pair() }
        let resources = ThreadResources(listener: listener, wakeReader: wakeReader)
        let ready = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        let thread = Thread {
            NativeThread.nameCurrent(name)
            let server: CompositorServer
            do throws(SystemError) {
                server = try make(resources.listener, resources.wakeReader)
            } catch {
                resources.startError = error
                ready.signal()
                finished.signal()
                return
            }
            ready.signal()
            server.run()
            finished.signal()
        }
        thread.start()
        ready.wait()
        if let error = resources.startError {
            listener.close()
            wakeReader.close()
            wakeWriter.close()
            unlink(socketPath)
            throw .system(context: "start the compositor event loop", error)
        }
        self.finished = finished
        self.wakeWriter = wakeWriter
        self.resources = resources
    }

    /// Stops serving (every client is disconnected), waits for the thread to
    /// end and removes the socket. Call once.
    func stop() {
        var byte: UInt8 = 1
        _ = Glibc.write(wakeWriter.rawValue, &byte, 1)
        finished.wait()
        resources.listener.close()
        resources.wakeReader.close()
        wakeWriter.close()
        unlink(socketPath)
    }
}
