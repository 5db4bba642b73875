#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "CPorthole.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/sched.h>
#include <linux/sched/types.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

const unsigned int porthole_seal_seal = F_SEAL_SEAL;
const unsigned int porthole_seal_shrink = F_SEAL_SHRINK;
const unsigned int porthole_seal_grow = F_SEAL_GROW;
const unsigned int porthole_seal_write = F_SEAL_WRITE;
const unsigned int porthole_seal_future_write = F_SEAL_FUTURE_WRITE;

ssize_t porthole_sendmsg(int sock, const struct iovec *iov, int iovcnt, const int *fds, int nfds) {
    if (nfds < 0 || nfds > PORTHOLE_MAX_FDS_PER_MSG || iovcnt < 0) { errno = EINVAL; return -1; }
    union { char buf[CMSG_SPACE(sizeof(int) * PORTHOLE_MAX_FDS_PER_MSG)]; struct cmsghdr align; } control;
    // sendmsg does not write through msg_iov; the cast only drops const.
    struct msghdr msg = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt };
    if (nfds > 0) {
        memset(&control, 0, sizeof control);
        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    return sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
}

ssize_t porthole_recv_with_fds(int sock, void *buf, size_t len, int *fds, int maxfds, int *nfds, int *truncated) {
    union { char buf[CMSG_SPACE(sizeof(int) * PORTHOLE_MAX_FDS_PER_MSG)]; struct cmsghdr align; } control;
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf };
    *nfds = 0;
    *truncated = 0;
    ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0) return n;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        int *data = (int *)CMSG_DATA(c);
        for (size_t i = 0; i < count; i++) {
            int fd;
            memcpy(&fd, data + i, sizeof fd);
            if (*nfds < maxfds) fds[(*nfds)++] = fd;
            else { close(fd); *truncated = 1; }
        }
    }
    if (msg.msg_flags & MSG_CTRUNC) *truncated = 1;
    return n;
}

int porthole_memfd_create(const char *name) {
    return memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
}

int porthole_add_seals(int fd, unsigned int seals) { return fcntl(fd, F_ADD_SEALS, seals); }
int porthole_get_seals(int fd) { return fcntl(fd, F_GET_SEALS); }

int porthole_accept(int sock) { return accept4(sock, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK); }
int porthole_pipe(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int porthole_peer_pid(int sock) {
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return -1;
    return cred.pid;
}

int porthole_peer_identity(int sock, unsigned *uid, unsigned *cid, char *address, size_t address_length) {
    struct sockaddr_storage peer;
    socklen_t len = sizeof peer;
    memset(&peer, 0, sizeof peer);
    if (getpeername(sock, (struct sockaddr *)&peer, &len) != 0) return -1;
    switch (peer.ss_family) {
    case AF_UNIX: {
        struct ucred cred;
        socklen_t clen = sizeof cred;
        if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0) return -1;
        *uid = cred.uid;
        return AF_UNIX;
    }
    case AF_VSOCK:
        *cid = ((struct sockaddr_vm *)&peer)->svm_cid;
        return AF_VSOCK;
    case AF_INET:
        if (!inet_ntop(AF_INET, &((struct sockaddr_in *)&peer)->sin_addr, address, address_length)) return -1;
        return AF_INET;
    case AF_INET6:
        if (!inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&peer)->sin6_addr, address, address_length)) return -1;
        return AF_INET6;
    default:
        return 0;
    }
}

// sched_setattr has no glibc wrapper. The thread keeps its policy and nice
// value (a user's `nice porthole ...` stays); only the slice changes, and
// SCHED_FLAG_RESET_ON_FORK gives threads and processes started later the
// kernel's default slice again (and nice 0 if ours was negative).
int porthole_set_time_slice(unsigned long long ns) {
    struct sched_attr a;
    memset(&a, 0, sizeof a);
    if (syscall(SYS_sched_getattr, 0, &a, sizeof a, 0) != 0) return -1;
    if (a.sched_policy != SCHED_NORMAL && a.sched_policy != SCHED_BATCH) { errno = EPERM; return -1; }
    a.size = sizeof a;
    a.sched_flags = SCHED_FLAG_RESET_ON_FORK;
    a.sched_runtime = ns;
    return (int)syscall(SYS_sched_setattr, 0, &a, 0);
}

int porthole_set_thread_nice(int nice) {
    return setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), nice);
}

int porthole_set_thread_idle(void) {
    struct sched_attr a;
    memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.sched_policy = SCHED_IDLE;
    return (int)syscall(SYS_sched_setattr, 0, &a, 0);
}

int porthole_set_thread_name(const char *name) {
    return prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);
}

unsigned long long porthole_time_slice(void) {
    struct sched_attr a;
    memset(&a, 0, sizeof a);
    if (syscall(SYS_sched_getattr, 0, &a, sizeof a, 0) != 0) return 0;
    return a.sched_runtime;
}
