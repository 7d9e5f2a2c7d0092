/*
 * Elementwise updates (y += x, y *= a) and double-precision reductions (sum, sum of squares).
 * Reductions cut x into chunks whose count and bounds depend on n alone; each chunk is summed
 * by one thread and the partials are added in chunk order, so the result is bitwise identical
 * for any thread count.
 */
#include "internal.h"

#include <stddef.h>

/* Elements per thread below which waking another thread does not pay (a fork/join costs a few µs
 * idle, tens of µs when the other cores are busy; these maps take ~0.05 ns per element). */
#define EW_GRAIN (128 * 1024)

typedef struct {
    float *y;
    const float *x;
    float a;
} ew_args;

DK_KERNEL(static, add_range, (void *p, size_t b, size_t e),
          (p, b, e)) {
    const ew_args *a = p;
    float *restrict y = a->y;
    const float *restrict x = a->x;
    for (size_t i = b; i < e; i++) y[i] += x[i];
}

void dk_add_inplace(float *y, const float *x, size_t n) {
    ew_args a = {y, x, 0.0f};
    dk__parallel_for(n, EW_GRAIN, 16, add_range, &a);
}

DK_KERNEL(static, scale_range, (void *p, size_t b, size_t e),
          (p, b, e)) {
    const ew_args *a = p;
    float *restrict y = a->y;
    const float s = a->a;
    for (size_t i = b; i < e; i++) y[i] *= s;
}

void dk_scale_inplace(float *y, float a, size_t n) {
    ew_args args = {y, NULL, a};
    dk__parallel_for(n, EW_GRAIN, 16, scale_range, &args);
}

/* Up to MAX_CHUNKS chunks of at least CHUNK_MIN elements. */
#define MAX_CHUNKS 64
#define CHUNK_MIN (16 * 1024)

typedef struct {
    const float *x;
    size_t n, chunk;
    int squares;
    double partial[MAX_CHUNKS];
} sum_args;

/* `omp simd reduction` lets the compiler reassociate into vector lanes; the lane layout is fixed
 * at compile time, so the order still does not depend on the thread count. It is pinned to 16
 * partial sums (4 lanes x 4 interleaved) so the AVX-512 path sums in the AVX2 path's order. */
DK_KERNEL(static, sum_chunks, (void *p, size_t c0, size_t c1),
          (p, c0, c1)) {
    sum_args *a = p;
    const float *restrict x = a->x;
    for (size_t c = c0; c < c1; c++) {
        size_t b = c * a->chunk, e = b + a->chunk < a->n ? b + a->chunk : a->n;
        double s = 0.0;
        if (a->squares) {
#pragma omp simd reduction(+ : s)
#pragma clang loop vectorize_width(4) interleave_count(4)
            for (size_t i = b; i < e; i++) s += (double)x[i] * (double)x[i];
        } else {
#pragma omp simd reduction(+ : s)
#pragma clang loop vectorize_width(4) interleave_count(4)
            for (size_t i = b; i < e; i++) s += (double)x[i];
        }
        a->partial[c] = s;
    }
}

static double sum_impl(const float *x, size_t n, int squares) {
    if (n == 0) return 0.0;
    sum_args a = {.x = x, .n = n, .squares = squares};
    size_t chunks = (n + CHUNK_MIN - 1) / CHUNK_MIN;
    if (chunks > MAX_CHUNKS) chunks = MAX_CHUNKS;
    /* Chunks of a multiple of 16 floats start on 64-byte boundaries whenever x does. */
    a.chunk = ((n + chunks - 1) / chunks + 15) / 16 * 16;
    chunks = (n + a.chunk - 1) / a.chunk;
    dk__parallel_for(chunks, 8, 1, sum_chunks, &a); /* >= 128K elements per thread */
    double total = 0.0;
    for (size_t c = 0; c < chunks; c++) total += a.partial[c];
    return total;
}

double dk_sum(const float *x, size_t n) { return sum_impl(x, n, 0); }

double dk_sum_squares(const float *x, size_t n) { return sum_impl(x, n, 1); }
