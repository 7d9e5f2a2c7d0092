/*
 * Runtime: the global thread count, the instruction-set report, and the two parallel drivers
 * every kernel uses. (The other global state: the code path, isa.c; the GEMM blocking,
 * blocking.c; GEMM's packing buffers, matmul.c.)
 * Without OpenMP everything runs on the calling thread and results are the same bits.
 */
#include "internal.h"

#include <stdatomic.h>
#include <unistd.h>

/* 0 = not set yet; resolved lazily so no constructor is needed. */
static atomic_int g_threads;

int dk__threads(void) {
    int t = atomic_load_explicit(&g_threads, memory_order_relaxed);
    if (t > 0) return t;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    t = cores < 1 ? 1 : (cores > 1024 ? 1024 : (int)cores);
    int expected = 0;
    /* A concurrent dk_set_num_threads wins over the default. */
    if (!atomic_compare_exchange_strong_explicit(&g_threads, &expected, t, memory_order_relaxed,
                                                 memory_order_relaxed))
        t = expected;
    return t;
}

void dk_set_num_threads(int n) {
    atomic_store_explicit(&g_threads, n < 1 ? 1 : n, memory_order_relaxed);
}

int dk_get_num_threads(void) { return dk__threads(); }

int dk_openmp_enabled(void) {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

const char *dk_instruction_set(void) {
#ifdef DK_HAS_PATHS
    switch (dk__isa()) {
    case DK_ISA_AVX512: return "avx512";
    case DK_ISA_AVX2: return "avx2+fma";
    default: return "x86-64 (sse2)";
    }
#else
    return "portable C";
#endif
}

int dk__threads_for(size_t work, size_t grain) {
    int t = dk__threads();
    if (grain == 0) grain = 1;
    size_t useful = work / grain;
    if (useful < (size_t)t) t = useful < 1 ? 1 : (int)useful;
    return t;
}

#ifdef _OPENMP
/* Declared here rather than through omp.h, which is not on SwiftPM's include path. */
int omp_get_thread_num(void);
int omp_get_num_threads(void);
#endif

void dk__run_tasks(int ntasks, dk_task_fn fn, void *ctx) {
#ifdef _OPENMP
    if (ntasks > 1) {
        /* One task per thread; if the runtime grants fewer threads, some run two: still correct.
         * Tasks are dealt by hand: libomp's `omp for` scheduling calls malloc on every loop, and the
         * training step must not allocate. */
        int isa = (int)dk__isa();
#pragma omp parallel num_threads(ntasks)
        {
            int stride = omp_get_num_threads(), own = dk__thread_isa();
            dk__set_thread_isa(isa); /* the caller's path, which may be its own override */
            for (int t = omp_get_thread_num(); t < ntasks; t += stride) fn(ctx, t);
            dk__set_thread_isa(own);
        }
        return;
    }
#endif
    for (int t = 0; t < ntasks; t++) fn(ctx, t);
}

/* A range is cut into up to STEAL_CHUNKS chunks per part. Each thread runs its own part's chunks in order,
 * then takes the chunks another part's thread has not started: when a thread is held up (on a virtual
 * machine, its CPU lent to another guest for a while), the others finish its part instead of waiting
 * for it at the region's end. Each chunk runs once, on whichever thread claims it; the kernels' results
 * do not depend on where a range is cut, so the bits stay the same. */
#define STEAL_CHUNKS 4
#define STEAL_MAX_PARTS 64

typedef struct {
    _Alignas(64) atomic_size_t claimed; /* chunks of the part taken so far; its own line, as each thread writes it */
} part_chunks;

typedef struct {
    dk_range_fn fn;
    void *ctx;
    size_t n, align, units, chunks;
    int parts;
    part_chunks part[STEAL_MAX_PARTS];
} range_split;

static void run_chunk(const range_split *s, int part, size_t chunk) {
    size_t first = s->units * (size_t)part / (size_t)s->parts, last = s->units * (size_t)(part + 1) / (size_t)s->parts;
    size_t b = (first + (last - first) * chunk / s->chunks) * s->align;
    size_t e = (first + (last - first) * (chunk + 1) / s->chunks) * s->align;
    if (e > s->n) e = s->n;
    if (b < e) s->fn(s->ctx, b, e);
}

static void range_task(void *p, int t) {
    range_split *s = p;
    if (s->parts > STEAL_MAX_PARTS) {
        run_chunk(s, t, 0);
        return;
    }
    for (int k = 0; k < s->parts; k++) {
        const int part = (t + k) % s->parts;
        size_t chunk;
        while ((chunk = atomic_fetch_add_explicit(&s->part[part].claimed, 1, memory_order_relaxed)) < s->chunks)
            run_chunk(s, part, chunk);
    }
}

void dk__parallel_for(size_t n, size_t grain, size_t align, dk_range_fn fn, void *ctx) {
    if (n == 0) return;
    if (align == 0) align = 1;
    if (grain == 0) grain = 1;
    int parts = dk__threads_for(n, grain);
    if (parts <= 1) {
        fn(ctx, 0, n);
        return;
    }
    range_split s = {.fn = fn, .ctx = ctx, .n = n, .align = align, .units = (n + align - 1) / align, .parts = parts};
    /* Chunks no smaller than the grain, nor than one unit; a part each past STEAL_MAX_PARTS threads. */
    size_t per_part = s.units / (size_t)parts, by_grain = n / grain / (size_t)parts;
    s.chunks = parts > STEAL_MAX_PARTS ? 1 : by_grain < STEAL_CHUNKS ? by_grain : STEAL_CHUNKS;
    if (s.chunks > per_part) s.chunks = per_part;
    if (s.chunks < 1) s.chunks = 1;
    for (int p = 0; p < parts && p < STEAL_MAX_PARTS; p++) atomic_init(&s.part[p].claimed, 0);
    dk__run_tasks(parts, range_task, &s);
}
