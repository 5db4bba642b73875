// The C shim: only what Swift's Glibc module cannot express (CMSG macros,
// GNU-only calls, Linux UAPI headers). GNU calls are wrapped in shim.c so this
// public header never needs _GNU_SOURCE.
#ifndef CPORTHOLE_H
#define CPORTHOLE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <linux/vm_sockets.h>

/// Largest number of fds sent in one sendmsg (libwayland's MAX_FDS_OUT).
#define PORTHOLE_MAX_FDS_PER_MSG 28

/// sendmsg of the `iovcnt` buffers of `iov` with `nfds` file descriptors as
/// SCM_RIGHTS (nfds <= 28), MSG_NOSIGNAL | MSG_DONTWAIT: a peer that closed
/// is EPIPE, not SIGPIPE. Returns bytes sent or -1 with errno set.
ssize_t porthole_sendmsg(int sock, const struct iovec *iov, int iovcnt, const int *fds, int nfds);

/// recvmsg that collects SCM_RIGHTS fds (received with MSG_CMSG_CLOEXEC).
/// On return *nfds holds the number of fds stored in `fds` (at most maxfds) and
/// *truncated is non-zero if the kernel reported MSG_CTRUNC (fds were lost).
/// Returns bytes read, 0 on EOF or -1 with errno set.
ssize_t porthole_recv_with_fds(int sock, void *buf, size_t len, int *fds, int maxfds, int *nfds, int *truncated);

/// memfd_create with MFD_CLOEXEC | MFD_ALLOW_SEALING.
int porthole_memfd_create(const char *name);
/// Adds seals (F_ADD_SEALS). `seals` is a mask of the porthole_seal_* values.
int porthole_add_seals(int fd, unsigned int seals);
/// Returns the seals of `fd` (F_GET_SEALS) or -1.
int porthole_get_seals(int fd);
extern const unsigned int porthole_seal_seal;
extern const unsigned int porthole_seal_shrink;
extern const unsigned int porthole_seal_grow;
extern const unsigned int porthole_seal_write;
extern const unsigned int porthole_seal_future_write;

/// accept4 with SOCK_CLOEXEC | SOCK_NONBLOCK.
int porthole_accept(int sock);
/// pipe2 with O_CLOEXEC.
int porthole_pipe(int fds[2]);
/// The pid of a unix socket's peer (SO_PEERCRED), or -1.
int porthole_peer_pid(int sock);
/// Who is at the other end of a connected socket: returns its address family
/// and fills `uid` (AF_UNIX, from SO_PEERCRED), `cid` (AF_VSOCK) or
/// `address` (AF_INET/AF_INET6, as text); 0 for another family, -1 on error.
int porthole_peer_identity(int sock, unsigned *uid, unsigned *cid, char *address, size_t address_length);

/// Memory a client can shrink under us (its shm pool file): between
/// porthole_fault_guard_begin and _end, a SIGBUS whose address lies in
/// [base, base + length) of this thread's guarded range replaces that whole
/// range with zero-filled anonymous memory (so the read completes with zeros)
/// and is counted; any other SIGBUS goes to the handler that was there before.
/// begin installs the handler on first use; returns -1 with errno EBUSY if this
/// thread already guards a range, EINVAL for an empty one, or sigaction's error.
int porthole_fault_guard_begin(const void *base, size_t length);
/// Ends this thread's guarded range; returns how many faults it caught.
int porthole_fault_guard_end(void);
/// Faults caught so far in this thread's guarded range (0 when none is guarded).
int porthole_fault_guard_count(void);

/// Copies n bytes with streaming stores where the CPU has them (AVX2), else
/// memcpy. Only for copies larger than the cache whose target is not read
/// again soon by this core: see streaming_copy.c.
void porthole_copy_streaming(void *dst, const void *src, size_t n);
/// Asks for time slices of `ns` for the calling thread (Linux 6.12+ honours
/// it for SCHED_NORMAL); later children get the default. -1 with errno.
int porthole_set_time_slice(unsigned long long ns);
/// The calling thread's slice as the kernel reports it: the one asked for,
/// else its default (0 if it cannot say).
unsigned long long porthole_time_slice(void);
/// Sets the calling thread's (not the process's) nice value: setpriority
/// with the thread's id, which only syscall(2) gives.
int porthole_set_thread_nice(int nice);
/// Puts the calling thread (not the process) in SCHED_IDLE: the lightest
/// weight, and preempted by any other thread waking on its CPU. -1 with errno.
int porthole_set_thread_idle(void);
/// Names the calling thread (prctl PR_SET_NAME: variadic, so not callable
/// from Swift); the kernel keeps the first 15 bytes.
int porthole_set_thread_name(const char *name);

#endif
