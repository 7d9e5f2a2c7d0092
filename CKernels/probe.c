/*
 * Machine probes for the benchmark harness: the peak FP32 FMA rate and the memory copy bandwidth,
 * so kernel figures can be shown as a share of what the machine can do, and the C heap's size, so
 * it can check that training steps do not grow it. Not used by training.
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
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define DK_PROBE_X86 1
#endif

static double probe_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Keeps the accumulators observable so the compiler cannot drop the chains. */
static volatile float probe_sink;

/* Start value, factor and addend of the chains, read through a volatile so the compiler cannot
 * evaluate any chain ahead of time. With literal constants, clang saw that the chain starting at
 * 1.0 (the fixed point of x*0.999 + 0.001) never changes and dropped it: 11 chains ran while 12
 * were counted, which overstated the peak by 9 %. */
static volatile float probe_seed[3] = {1.0f, 0.999f, 0.001f};

/* Iterations between clock reads: long enough that reading the clock costs nothing. */
enum { PROBE_BLOCK = 1 << 16 };

#ifdef DK_PROBE_X86
/*
 * 12 independent 8-wide FMA chains: more than latency (4-5 cycles) x FMA ports (2) on current
 * x86 cores, so the ports never wait on a result. a*b+c with b < 1 converges, so no overflow or
 * denormals. Returns this thread's FLOPs per second (2 per lane per FMA).
 */
__attribute__((target("avx2,fma"))) static double fma_chains_avx2(double seconds) {
    __m256 a[12];
    for (int j = 0; j < 12; j++) a[j] = _mm256_set1_ps(probe_seed[0] + 0.01f * (float)j);
    const __m256 b = _mm256_set1_ps(probe_seed[1]), c = _mm256_set1_ps(probe_seed[2]);
    double flops = 0, start = probe_now();
    do {
        for (int i = 0; i < PROBE_BLOCK; i++) {
            a[0] = _mm256_fmadd_ps(a[0], b, c);   a[1] = _mm256_fmadd_ps(a[1], b, c);
            a[2] = _mm256_fmadd_ps(a[2], b, c);   a[3] = _mm256_fmadd_ps(a[3], b, c);
            a[4] = _mm256_fmadd_ps(a[4], b, c);   a[5] = _mm256_fmadd_ps(a[5], b, c);
            a[6] = _mm256_fmadd_ps(a[6], b, c);   a[7] = _mm256_fmadd_ps(a[7], b, c);
            a[8] = _mm256_fmadd_ps(a[8], b, c);   a[9] = _mm256_fmadd_ps(a[9], b, c);
            a[10] = _mm256_fmadd_ps(a[10], b, c); a[11] = _mm256_fmadd_ps(a[11], b, c);
        }
        flops += (double)PROBE_BLOCK * 12 * 8 * 2;
    } while (probe_now() - start < seconds);
    __m256 s = a[0];
    for (int j = 1; j < 12; j++) s = _mm256_add_ps(s, a[j]);
    probe_sink = s[0];
    return flops / (probe_now() - start);
}

/* The same 12 chains 16 wide: 12 is still above latency (4) x ports (2) on AVX-512 cores. */
__attribute__((target("avx512f"))) static double fma_chains_avx512(double seconds) {
    __m512 a[12];
    for (int j = 0; j < 12; j++) a[j] = _mm512_set1_ps(probe_seed[0] + 0.01f * (float)j);
    const __m512 b = _mm512_set1_ps(probe_seed[1]), c = _mm512_set1_ps(probe_seed[2]);
    double flops = 0, start = probe_now();
    do {
        for (int i = 0; i < PROBE_BLOCK; i++) {
            a[0] = _mm512_fmadd_ps(a[0], b, c);   a[1] = _mm512_fmadd_ps(a[1], b, c);
            a[2] = _mm512_fmadd_ps(a[2], b, c);   a[3] = _mm512_fmadd_ps(a[3], b, c);
            a[4] = _mm512_fmadd_ps(a[4], b, c);   a[5] = _mm512_fmadd_ps(a[5], b, c);
            a[6] = _mm512_fmadd_ps(a[6], b, c);   a[7] = _mm512_fmadd_ps(a[7], b, c);
            a[8] = _mm512_fmadd_ps(a[8], b, c);   a[9] = _mm512_fmadd_ps(a[9], b, c);
            a[10] = _mm512_fmadd_ps(a[10], b, c); a[11] = _mm512_fmadd_ps(a[11], b, c);
        }
        flops += (double)PROBE_BLOCK * 12 * 16 * 2;
    } while (probe_now() - start < seconds);
    __m512 s = a[0];
    for (int j = 1; j < 12; j++) s = _mm512_add_ps(s, a[j]);
    probe_sink = s[0];
    return flops / (probe_now() - start);
}
#endif

/* The portable path: separate multiply and add (2 FLOPs) on 4-wide vectors. */
typedef float v4sf __attribute__((vector_size(16)));
static double mul_add_chains_portable(double seconds) {
    v4sf a[12];
    for (int j = 0; j < 12; j++) a[j] = (v4sf){1, 1, 1, 1} * (probe_seed[0] + 0.01f * (float)j);
    const float bs = probe_seed[1], cs = probe_seed[2];
    const v4sf b = {bs, bs, bs, bs}, c = {cs, cs, cs, cs};
    double flops = 0, start = probe_now();
    do {
        for (int i = 0; i < PROBE_BLOCK; i++)
            for (int j = 0; j < 12; j++) a[j] = a[j] * b + c;
        flops += (double)PROBE_BLOCK * 12 * 4 * 2;
    } while (probe_now() - start < seconds);
    v4sf s = a[0];
    for (int j = 1; j < 12; j++) s += a[j];
    probe_sink = s[0];
    return flops / (probe_now() - start);
}

/* Called from the parallel region: outlined OpenMP code would lose the target attribute. */
static double fma_worker(dk_isa isa, double seconds) {
#ifdef DK_PROBE_X86
    if (isa == DK_ISA_AVX512) return fma_chains_avx512(seconds);
    if (isa == DK_ISA_AVX2) return fma_chains_avx2(seconds);
#endif
    return mul_add_chains_portable(seconds);
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
