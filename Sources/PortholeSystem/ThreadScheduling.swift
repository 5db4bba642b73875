import CPorthole
import Glibc

/// How the kernel shares the CPU with the calling thread.
///
/// Why a proxy asks for short slices: every commit of every window crosses
/// both proxies' loops, and a loop that is also moving a 4K video's frames
/// is a busy thread to the scheduler. Under EEVDF (Linux 6.6+; the slice is
/// settable from 6.12) a woken thread runs ahead of the one on the CPU only
/// if its deadline, its slice from now, comes first; with the default slice
/// (0.7-3 ms, growing with the CPU count) a typing window's commit can wait
/// that long for a loop that just slept. A 0.1 ms slice puts the loop's
/// deadline first, the CPU share stays the same (docs/benchmarks.md, "Short
/// time slices").
public enum ThreadScheduling {
    /// The shortest slice the kernel grants a SCHED_NORMAL thread.
    public static let shortestSlice: UInt64 = 100_000

    /// Asks for slices of `nanoseconds` for the calling thread. Threads and
    /// processes it starts afterwards get the kernel's default: a copy
    /// thread or a guest's application gains nothing from a short slice.
    /// (The kernel's reset on fork also starts them at nice 0 if this
    /// thread's nice value was negative.) Kernels before 6.12 accept and
    /// ignore it.
    public static func requestTimeSlice(nanoseconds: UInt64) throws(SystemError) {
        try syscall("sched_setattr") { porthole_set_time_slice(nanoseconds) }
    }

    /// Gives the calling thread the weakest claim on the CPU a normal thread
    /// can have (nice 19), for work that another thread covers when this
    /// one does not run.
    public static func yieldToOthers() throws(SystemError) {
        _ = try syscall("setpriority") { porthole_set_thread_nice(19) }
    }

    /// Puts the calling thread in SCHED_IDLE: the lightest weight there is
    /// (3 to nice 0's 1024), and any other thread that wakes on its CPU
    /// takes the CPU from it at once. For work that must stay out of what
    /// it runs beside: the bench's frame checks (at nice 19, direct's p99
    /// with eight typing windows read 0.10-0.30 ms; in SCHED_IDLE 0.07-0.11).
    public static func runOnlyWhenIdle() throws(SystemError) {
        _ = try syscall("sched_setattr SCHED_IDLE") { porthole_set_thread_idle() }
    }

    /// Lets any thread waiting for this CPU run first (sched_yield); returns
    /// at once, for the price of a syscall, when none waits.
    ///
    /// Why bulk work on a thread of ours calls it between pieces: under
    /// EEVDF a thread that wakes takes the CPU from the running one only if
    /// it is eligible, and one that woke owing CPU time (a proxy loop, a
    /// client, a compositor that ran a moment ago) waits until the running
    /// thread's slice is used up, which the kernel notices at its next tick,
    /// however short the slice asked for. Measured here (`perf sched
    /// timehist`): a guest loop woken for a typing window's commit sat
    /// runnable for 1.8 ms behind a 4K frame's copy while the other CPU was
    /// idle. Offered the CPU every `ThreadScheduling.bulkPiece` bytes, such a
    /// thread waits one piece at most (docs/benchmarks.md, "One write per
    /// commit, and a copy that lets others run").
    public static func offerCPU() { sched_yield() }

    /// The bytes a thread doing bulk work (copying, writing or receiving a
    /// frame) handles between offers of its CPU: about 0.1 ms of copying at
    /// 10 GB/s; a 4K frame is 32 pieces.
    public static let bulkPiece = 1 << 20

    /// The calling thread's slice in nanoseconds as the kernel reports it:
    /// the one asked for, else its default (0 if it cannot say).
    public static var requestedTimeSlice: UInt64 { porthole_time_slice() }
}
