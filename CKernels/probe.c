/*
 * Machine probes for the benchmark harness: the peak FP32 FMA rate and the memory copy bandwidth,
 * so kernel figures can be shown as a share of what the machine can do; the time two threads take to
 * hand a cache line back and forth, so it can tell when they run far apart; and the C heap's size,
 * so it can check that training steps do not grow it. Not used by training.
 *
 * They live here rather than in Swift because Swift (and C outside this target) is compiled for
 * baseline x86-64 without FMA, which would understate the peak the kernels' paths can reach. Each
 * code path has its own probe: its widest FMA.
 */
#include "internal.h"

#include <stdlib.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <string.h>
#include <time.h>
#ifdef _OPENMP
/* Declared here: the build links the OpenMP runtime but omp.h is not always installed. */
int omp_get_thread_num(void);
int omp_get_num_threads(void);
#endif

static double probe_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Keeps the accumulators observable so the compiler cannot drop the chains. */
static volatile float probe_sink;

/* Start value, factor and addend of the chains, read through a volatile so the compiler cannot
 * evaluate any chain ahead of time. With literal constants, clang sees that the chain starting at
 * 1.0 (the fixed point of x*0.999 + 0.001) never changes and drops it, so fewer chains run than
 * are counted. */
static volatile float probe_seed[3] = {1.0f, 0.999f, 0.001f};

/* Iterations between clock reads: long enough that reading the clock costs nothing. */
enum { PROBE_BLOCK = 1 << 16 };

/*
 * 12 independent chains a = a*b + c of one vector width: more than latency (4-5 cycles) x FMA ports
 * (2) on current x86 cores, so the ports never wait on a result. a*b+c with b < 1 converges, so no
 * overflow or denormals. Where the target has FMA the expression compiles to one (2 FLOPs per lane);
 * on the portable path to a multiply and an add (the same 2 FLOPs). Returns this thread's FLOPs per
 * second.
 */
#define DK_PROBE_CHAINS(NAME, TARGET, LANES)                                                      \
    typedef float NAME##_vec __attribute__((vector_size(LANES * 4)));                            \
    TARGET static double NAME(double seconds) {                                                  \
        NAME##_vec a[12];                                                                        \
        for (int j = 0; j < 12; j++) a[j] = (NAME##_vec){0} + (probe_seed[0] + 0.01f * (float)j); \
        const NAME##_vec b = (NAME##_vec){0} + probe_seed[1], c = (NAME##_vec){0} + probe_seed[2]; \
        double flops = 0, start = probe_now();                                                   \
        do {                                                                                     \
            for (int i = 0; i < PROBE_BLOCK; i++)                                                \
                for (int j = 0; j < 12; j++) a[j] = a[j] * b + c;                                \
            flops += (double)PROBE_BLOCK * 12 * LANES * 2;                                       \
        } while (probe_now() - start < seconds);                                                 \
        NAME##_vec sum = a[0];                                                                   \
        for (int j = 1; j < 12; j++) sum += a[j];                                                \
        probe_sink = sum[0];                                                                     \
        return flops / (probe_now() - start);                                                    \
    }

DK_PROBE_CHAINS(chains_portable, , 4)
#ifdef DK_HAS_PATHS
DK_PROBE_CHAINS(chains_avx2, DK_TARGET_AVX2, 8)
DK_PROBE_CHAINS(chains_avx512, DK_TARGET_AVX512, 16)
#endif

/* Called from the parallel region: outlined OpenMP code would lose the target attribute. */
static double fma_worker(dk_isa isa, double seconds) {
#ifdef DK_HAS_PATHS
    if (isa == DK_ISA_AVX512) return chains_avx512(seconds);
    if (isa == DK_ISA_AVX2) return chains_avx2(seconds);
#endif
    return chains_portable(seconds);
}

/* The sum of each thread's own rate, so starting the threads (after a pause of the OpenMP pool,
 * say) is not counted as time the FMA units stood idle. */
double dk_probe_fma_gflops(dk_isa isa, int threads, double seconds) {
    if (!dk_isa_supported(isa)) return 0;
    if (threads < 1) threads = 1;
    double rate = 0;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) reduction(+ : rate)
    rate += fma_worker(isa, seconds);
#else
    rate = fma_worker(isa, seconds);
#endif
    return rate / 1e9;
}

static void copy_slice(char *dst, const char *src, size_t bytes, int part, int parts) {
    size_t begin = bytes * (size_t)part / (size_t)parts, end = bytes * (size_t)(part + 1) / (size_t)parts;
    memcpy(dst + begin, src + begin, end - begin);
}

double dk_probe_copy_gbps(int threads, size_t bytes, int repeats) {
    if (threads < 1) threads = 1;
    if (repeats < 1) repeats = 1;
    size_t rounded = (bytes + 63) / 64 * 64;
    char *src = aligned_alloc(64, rounded), *dst = aligned_alloc(64, rounded);
    if (!src || !dst) {
        free(src);
        free(dst);
        return -1;
    }
    /* Each thread first touches the part it copies, so pages sit near it (NUMA). */
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
    {
        int t = omp_get_thread_num(), n = omp_get_num_threads();
        size_t begin = rounded * (size_t)t / (size_t)n, end = rounded * (size_t)(t + 1) / (size_t)n;
        memset(src + begin, 1, end - begin);
        memset(dst + begin, 0, end - begin);
    }
#else
    memset(src, 1, rounded);
    memset(dst, 0, rounded);
#endif
    double best = 0;
    for (int r = 0; r < repeats; r++) {
        double start = probe_now();
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
        copy_slice(dst, src, rounded, omp_get_thread_num(), omp_get_num_threads());
#else
        copy_slice(dst, src, rounded, 0, 1);
#endif
        double elapsed = probe_now() - start;
        /* Bytes read plus bytes written; the best run is the one least disturbed by the machine. */
        double rate = 2.0 * (double)rounded / elapsed / 1e9;
        if (rate > best) best = rate;
    }
    free(src);
    free(dst);
    return best;
}

/* The line the two threads hand back and forth, and the flag that ends a probe whose threads do not
 * run at the same time (both on one CPU, each spin would last a time slice). */
static _Atomic long g_ball __attribute__((aligned(64)));
static atomic_int g_give_up;

/* Waits until the ball holds `value` (1) or the probe is given up (0). */
static int wait_for_ball(long value, double deadline) {
    for (unsigned spins = 1;; spins++) {
        if (atomic_load_explicit(&g_ball, memory_order_acquire) == value) return 1;
        if (spins % 1024 == 0 && (atomic_load_explicit(&g_give_up, memory_order_relaxed) || probe_now() > deadline)) {
            atomic_store_explicit(&g_give_up, 1, memory_order_relaxed);
            return 0;
        }
    }
}

/* Untimed round trips first: a worker the runtime has just created (the harness stops the pool
 * between samples) arrives tens of microseconds after thread 0, and may start on thread 0's CPU until
 * the scheduler moves it; timed from the start, 200 round trips read 100-300 ns each, or tens of
 * microseconds, for a pair of threads that then passed the line in 60-70 ns. */
#define WARM_ROUND_TRIPS 20

double dk_probe_core_round_trip_ns(int round_trips) {
    if (round_trips < 1) round_trips = 1;
    atomic_store(&g_ball, 0);
    atomic_store(&g_give_up, 0);
    long total = WARM_ROUND_TRIPS + (long)round_trips;
    double elapsed = 0;
    long completed = 0;
    int teams_of_two = 0;
#ifdef _OPENMP
#pragma omp parallel num_threads(2)
    if (omp_get_num_threads() == 2) {
        int me = omp_get_thread_num();
        double start = 0, deadline = probe_now() + 0.1;
        /* Thread 0 throws at even values and thread 1 at odd ones: ball 2i means round trip i begins. */
        for (long i = 0; i < total; i++) {
            if (!wait_for_ball(2 * i + me, deadline)) break;
            if (me == 0 && i == WARM_ROUND_TRIPS) start = probe_now();
            atomic_store_explicit(&g_ball, 2 * i + me + 1, memory_order_release);
            if (me == 0 && i > WARM_ROUND_TRIPS) completed = i - WARM_ROUND_TRIPS;
        }
        if (me == 0) {
            if (wait_for_ball(2L * total, deadline)) completed = round_trips;
            elapsed = start > 0 ? probe_now() - start : 0.1;
            teams_of_two = 1;
        }
    }
#endif
    if (!teams_of_two) return 0;
    return elapsed / (double)(completed > 0 ? completed : 1) * 1e9;
}

void dk_probe_heap(size_t *in_use, size_t *arena, size_t *mmapped) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    struct mallinfo2 info = mallinfo2();
    *in_use = info.uordblks;
    *arena = info.arena;
    *mmapped = info.hblkhd;
#else
    *in_use = *arena = *mmapped = 0;
#endif
}
