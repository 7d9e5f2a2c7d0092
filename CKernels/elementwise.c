/*
 * Elementwise updates (y += x, y *= a) and double-precision reductions (sum, sum of squares).
 * Reductions cut x into chunks whose count and bounds depend on n alone; each chunk is summed
 * with fixed lanes by one thread and the partials are added in chunk order, so the result is
 * bitwise identical for any thread count.
 */
#include "internal.h"

#include <stddef.h>

#define EW_GRAIN (32 * 1024)

typedef struct {
    float *y;
    const float *x;
    float a;
} ew_args;

DK_KERNEL static void add_range(void *p, size_t b, size_t e) {
    const ew_args *a = p;
    float *restrict y = a->y;
    const float *restrict x = a->x;
    for (size_t i = b; i < e; i++) y[i] += x[i];
}

void dk_add_inplace(float *y, const float *x, size_t n) {
    ew_args a = {y, x, 0.0f};
    dk__parallel_for(n, EW_GRAIN, 16, add_range, &a);
}

DK_KERNEL static void scale_range(void *p, size_t b, size_t e) {
    const ew_args *a = p;
    float *restrict y = a->y;
    const float s = a->a;
    for (size_t i = b; i < e; i++) y[i] *= s;
}

void dk_scale_inplace(float *y, float a, size_t n) {
    ew_args args = {y, NULL, a};
    dk__parallel_for(n, EW_GRAIN, 16, scale_range, &args);
}

/* Up to MAX_CHUNKS chunks of at least CHUNK_MIN elements (a multiple of the lane count). */
#define MAX_CHUNKS 64
#define CHUNK_MIN (16 * 1024)
#define SUM_LANES 8

typedef struct {
    const float *x;
    size_t n, chunk;
    int squares;
    double partial[MAX_CHUNKS];
} sum_args;

DK_KERNEL static void sum_chunks(void *p, size_t c0, size_t c1) {
    sum_args *a = p;
    for (size_t c = c0; c < c1; c++) {
        size_t b = c * a->chunk, e = b + a->chunk < a->n ? b + a->chunk : a->n;
        const float *restrict x = a->x;
        double s[SUM_LANES] = {0};
        size_t i = b;
        if (a->squares) {
            for (; i + SUM_LANES <= e; i += SUM_LANES)
                for (int j = 0; j < SUM_LANES; j++) s[j] += (double)x[i + j] * (double)x[i + j];
            for (; i < e; i++) s[0] += (double)x[i] * (double)x[i];
        } else {
            for (; i + SUM_LANES <= e; i += SUM_LANES)
                for (int j = 0; j < SUM_LANES; j++) s[j] += (double)x[i + j];
            for (; i < e; i++) s[0] += (double)x[i];
        }
        for (int w = SUM_LANES / 2; w > 0; w /= 2)
            for (int j = 0; j < w; j++) s[j] += s[j + w];
        a->partial[c] = s[0];
    }
}

static double sum_impl(const float *x, size_t n, int squares) {
    if (n == 0) return 0.0;
    sum_args a = {.x = x, .n = n, .squares = squares};
    size_t chunks = (n + CHUNK_MIN - 1) / CHUNK_MIN;
    if (chunks > MAX_CHUNKS) chunks = MAX_CHUNKS;
    a.chunk = (n + chunks - 1) / chunks;
    a.chunk = (a.chunk + SUM_LANES - 1) / SUM_LANES * SUM_LANES;
    chunks = (n + a.chunk - 1) / a.chunk;
    dk__parallel_for(chunks, 2, 1, sum_chunks, &a);
    double total = 0.0;
    for (size_t c = 0; c < chunks; c++) total += a.partial[c];
    return total;
}

double dk_sum(const float *x, size_t n) { return sum_impl(x, n, 0); }

double dk_sum_squares(const float *x, size_t n) { return sum_impl(x, n, 1); }
