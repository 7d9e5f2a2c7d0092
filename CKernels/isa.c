/*
 * Code paths: which of the portable, AVX2+FMA and AVX-512 copies of every kernel runs (see
 * DK_KERNEL in internal.h). Chosen on first use: DENDRITE_ISA when it names a path the CPU has,
 * else the best one it has. A thread may override the choice for its own calls (tests run every
 * path side by side that way); dk__run_tasks hands the caller's path to its workers. A bad DENDRITE_ISA is not fatal here (a library must not exit its
 * host): it is kept as dk_environment_error's message for the caller to report.
 */
#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const g_names[DK_ISA_COUNT] = {"portable", "avx2", "avx512"};

/* -1 until the first dk__isa() resolves it. */
static atomic_int g_isa = -1;
static pthread_once_t g_isa_once = PTHREAD_ONCE_INIT;
static char g_isa_error[256];
/* The calling thread's override, or -1. Initial-exec: a plain offset from the thread pointer, no
 * lookup call, on the path every kernel call takes. */
static _Thread_local int tl_isa __attribute__((tls_model("initial-exec"))) = -1;

int dk_isa_supported(dk_isa isa) {
    switch (isa) {
    case DK_ISA_PORTABLE: return 1;
#ifdef DK_HAS_PATHS
    case DK_ISA_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case DK_ISA_AVX512:
        /* The compiler runtime also checks that the OS saves the zmm registers (XCR0). */
        return dk_isa_supported(DK_ISA_AVX2) && __builtin_cpu_supports("avx512f") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512vl");
#endif
    default: return 0;
    }
}

const char *dk_isa_name(dk_isa isa) {
    return (unsigned)isa < DK_ISA_COUNT ? g_names[isa] : NULL;
}

static dk_isa best_isa(void) {
    for (int i = DK_ISA_COUNT - 1; i > 0; i--)
        if (dk_isa_supported((dk_isa)i)) return (dk_isa)i;
    return DK_ISA_PORTABLE;
}

static void resolve_isa(void) {
    dk_isa chosen = best_isa();
    const char *requested = getenv("DENDRITE_ISA");
    if (requested && *requested) {
        int found = -1;
        for (int i = 0; i < DK_ISA_COUNT; i++)
            if (strcmp(requested, g_names[i]) == 0) found = i;
        if (found < 0)
            snprintf(g_isa_error, sizeof g_isa_error,
                     "DENDRITE_ISA='%s' is not a code path; valid paths: portable, avx2, avx512", requested);
        else if (!dk_isa_supported((dk_isa)found))
            snprintf(g_isa_error, sizeof g_isa_error,
                     "DENDRITE_ISA=%s: this CPU lacks it (it supports up to %s)", requested,
                     g_names[chosen]);
        else
            chosen = (dk_isa)found;
    }
    atomic_store_explicit(&g_isa, (int)chosen, memory_order_release);
}

dk_isa dk__isa(void) {
    if (tl_isa >= 0) return (dk_isa)tl_isa;
    int isa = atomic_load_explicit(&g_isa, memory_order_acquire);
    if (isa >= 0) return (dk_isa)isa;
    pthread_once(&g_isa_once, resolve_isa);
    return (dk_isa)atomic_load_explicit(&g_isa, memory_order_acquire);
}

dk_isa dk_get_isa(void) { return dk__isa(); }

int dk_set_isa(dk_isa isa) {
    if (!dk_isa_supported(isa)) return -1;
    pthread_once(&g_isa_once, resolve_isa); /* so a later first use cannot undo this choice */
    atomic_store_explicit(&g_isa, (int)isa, memory_order_release);
    return 0;
}

int dk_set_thread_isa(int isa) {
    if (isa >= 0 && !dk_isa_supported((dk_isa)isa)) return -1;
    tl_isa = isa < 0 ? -1 : isa;
    return 0;
}

int dk__thread_isa(void) { return tl_isa; }

void dk__set_thread_isa(int isa) { tl_isa = isa; }

const char *dk__isa_environment_error(void) {
    pthread_once(&g_isa_once, resolve_isa);
    return g_isa_error[0] ? g_isa_error : NULL;
}
