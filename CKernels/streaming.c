/*
 * When kernels stream their stores (see internal.h): outputs that overlap none of the kernel's inputs
 * and that the caches would not keep for the next kernel:
 *  - outputs of at least the last-level cache the CPU reports (where the caches cannot be read,
 *    32 MB, a common server L3);
 *  - outputs of at least every core's L2 together (the cores that share the last level) when the
 *    last level is no faster than memory. A virtual machine reports its host's whole L3 (300 MB on a
 *    60-core Xeon), which other tenants share and which, on a mesh of many cores, gives one core
 *    little more bandwidth than memory does; on Zen 4 the same question gets the other answer. It is
 *    measured once, the first time an output in between is written: passes over two arrays too large
 *    for the L2s, with ordinary and with streaming stores. It costs a few milliseconds and changes no
 *    result: streaming stores write the same values. Where the L2s together pass 8 MB (many cores
 *    share the last level) it is not measured, and the last level's size is the rule.
 */
#include "internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

/* Largest array the probe writes (it writes two): beyond this (many cores sharing the last level) it
 * would take long, and one thread's passes say little about many cores' share. */
#define PROBE_MAX_BYTES ((size_t)16 << 20)

static size_t g_last_level;     /* outputs from here on always stream */
static size_t g_every_l2;       /* outputs below never do */
static pthread_once_t g_sizes_once = PTHREAD_ONCE_INIT;
static int g_last_level_slow;   /* the probe's answer for outputs in between */
static pthread_once_t g_probe_once = PTHREAD_ONCE_INIT;

static void read_sizes(void) {
    dk_caches c = dk_cpu_caches();
    size_t last_level = c.l3 ? c.l3 : c.l2;
    g_last_level = last_level ? last_level : (size_t)32 << 20;
    g_every_l2 = c.l3 && c.l2 ? c.l2 * (size_t)c.l3_sharing : g_last_level;
    if (g_every_l2 > g_last_level) g_every_l2 = g_last_level;
}

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The fastest of a few passes y = x / 2 over n floats (each array 64-byte aligned). */
static double fastest_pass(float *y, const float *x, size_t n, int stream) {
    double best = 1e30;
    for (int pass = 0; pass < 4; pass++) {
        double start = now_seconds();
        if (stream) {
            DK_STREAM_ROW(y, n, i, 0.5f * x[i]);
            dk__stream_fence();
        } else {
            for (size_t i = 0; i < n; i++) y[i] = 0.5f * x[i];
        }
        __asm__ volatile("" : : "r"(y) : "memory");  /* the stores count: something may read them */
        double seconds = now_seconds() - start;
        if (seconds < best) best = seconds;
    }
    return best;
}

/* Whether outputs twice the size of every L2 together, read back at once (the next kernel's input),
 * move faster through memory with streaming stores than through the last level with ordinary ones:
 * the ordinary passes find both arrays in the last level from the second pass on, if it holds them. */
static void probe(void) {
    size_t n = 2 * g_every_l2 / sizeof(float);
    float *x = aligned_alloc(64, 2 * n * sizeof(float));
    if (!x) return;  /* no answer: keep to the last level */
    float *y = x + n;
    for (size_t i = 0; i < 2 * n; i++) x[i] = (float)(i & 1023);
    double ordinary = fastest_pass(y, x, n, 0), streamed = fastest_pass(y, x, n, 1);
    g_last_level_slow = streamed < 0.9 * ordinary;
    free(x);
}

size_t dk_streaming_min_bytes(void) {
    pthread_once(&g_sizes_once, read_sizes);
    if (g_every_l2 < g_last_level && 2 * g_every_l2 <= PROBE_MAX_BYTES) pthread_once(&g_probe_once, probe);
    return g_last_level_slow ? g_every_l2 : g_last_level;
}

int dk_streaming_probed_last_level_slow(void) {
    dk_streaming_min_bytes();
    return g_last_level_slow;
}

static int overlaps(const float *a, size_t a_count, const float *b, size_t b_count) {
    return (uintptr_t)a < (uintptr_t)(b + b_count) && (uintptr_t)b < (uintptr_t)(a + a_count);
}

int dk__streams_output(const float *out, size_t count, const float *in1, size_t in1_count,
                       const float *in2, size_t in2_count) {
    pthread_once(&g_sizes_once, read_sizes);
    size_t bytes = count * sizeof(float);
    /* Below every L2 the probe is never needed. */
    if (bytes < g_every_l2 || bytes < dk_streaming_min_bytes()) return 0;
    return !overlaps(out, count, in1, in1_count) && !(in2_count && overlaps(out, count, in2, in2_count));
}
