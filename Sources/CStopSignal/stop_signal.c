#include "CStopSignal.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

// A lock-free atomic int: safe to touch from a signal handler.
static atomic_int received;

static void handle(int signal) {
    int none = 0;
    if (!atomic_compare_exchange_strong(&received, &none, signal)) _exit(128 + signal);
}

void dendrite_stop_install(void) {
    struct sigaction action = {0};
    action.sa_handler = handle;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, 0);
    sigaction(SIGTERM, &action, 0);
    // A process may start with these blocked (a parent's worker thread spawned it): then they would stay
    // pending forever. Unblocked here, in the calling thread and the threads it starts later.
    sigset_t stops;
    sigemptyset(&stops);
    sigaddset(&stops, SIGINT);
    sigaddset(&stops, SIGTERM);
    pthread_sigmask(SIG_UNBLOCK, &stops, 0);
}

int dendrite_stop_signal(void) { return atomic_load_explicit(&received, memory_order_relaxed); }
