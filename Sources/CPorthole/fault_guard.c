// SIGBUS-safe reads of client-owned mappings. A client may truncate the file
// behind its wl_shm pool at any moment; reading the mapping past the new end
// raises SIGBUS. The handler swaps the guarded range for anonymous zero pages
// (mmap MAP_FIXED is async-signal-safe) and lets the faulting read restart.
#define _GNU_SOURCE
#include "CPorthole.h"
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

static __thread const char *guard_base;
static __thread size_t guard_length;
static __thread volatile sig_atomic_t guard_faults;

static struct sigaction previous_action;
static atomic_int handler_state; // 0 not installed, 1 installing, 2 installed

static void on_sigbus(int sig, siginfo_t *info, void *context) {
    const char *addr = (const char *)info->si_addr;
    if (guard_base && addr >= guard_base && addr < guard_base + guard_length) {
        void *replaced = mmap((void *)guard_base, guard_length, PROT_READ | PROT_WRITE,
                              MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (replaced != MAP_FAILED) {
            guard_faults += 1;
            return;
        }
    }
    // Not ours (or the swap failed): hand over to whoever handled SIGBUS
    // before. Restoring their action and returning re-raises the fault.
    (void)sig; (void)context;
    sigaction(SIGBUS, &previous_action, NULL);
}

static int install_handler(void) {
    int expected = 0;
    if (atomic_compare_exchange_strong(&handler_state, &expected, 1)) {
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_sigaction = on_sigbus;
        action.sa_flags = SA_SIGINFO | SA_NODEFER;
        sigemptyset(&action.sa_mask);
        if (sigaction(SIGBUS, &action, &previous_action) != 0) {
            int saved = errno;
            atomic_store(&handler_state, 0);
            errno = saved;
            return -1;
        }
        atomic_store(&handler_state, 2);
    }
    while (atomic_load(&handler_state) == 1) {}
    return atomic_load(&handler_state) == 2 ? 0 : -1;
}

// Whether on_sigbus is SIGBUS's handler now. Once a fault that was not
// ours handed SIGBUS back to the previous handler, ours is gone: put it back
// before guarding again, keeping the handler it chains to.
static int reinstall_if_displaced(void) {
    struct sigaction current;
    if (sigaction(SIGBUS, NULL, &current) != 0) return -1;
    if ((current.sa_flags & SA_SIGINFO) && current.sa_sigaction == on_sigbus) return 0;
    struct sigaction action, old;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_sigbus;
    action.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGBUS, &action, &old) != 0) return -1;
    // Another thread may have put ours back in between: never chain to ourselves.
    if (!((old.sa_flags & SA_SIGINFO) && old.sa_sigaction == on_sigbus)) previous_action = old;
    return 0;
}

int porthole_fault_guard_begin(const void *base, size_t length) {
    if (guard_base) { errno = EBUSY; return -1; }
    if (base == NULL || length == 0) { errno = EINVAL; return -1; }
    if (install_handler() != 0 || reinstall_if_displaced() != 0) return -1;
    guard_faults = 0;
    guard_length = length;
    guard_base = (const char *)base;
    return 0;
}

int porthole_fault_guard_end(void) {
    guard_base = NULL;
    guard_length = 0;
    return guard_faults;
}

int porthole_fault_guard_count(void) {
    return guard_base ? guard_faults : 0;
}
