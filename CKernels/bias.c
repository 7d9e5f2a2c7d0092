/*
 * Bias forward (broadcast add over rows) and backward (column sums).
 * The backward pass splits columns, never rows, between threads: each column is summed over the
 * rows in order by one thread, so dbias is bitwise identical for any thread count.
 */
#include "internal.h"

#include <stddef.h>

typedef struct {
    float *out;
    const float *inp, *bias;
    int cols;
} bias_add_args;

DK_KERNEL(static, bias_add_rows, (void *p, size_t r0, size_t r1),
          (p, r0, r1)) {
    const bias_add_args *a = p;
    size_t cols = (size_t)a->cols;
    const float *restrict bias = a->bias;
    for (size_t r = r0; r < r1; r++) {
        /* out may equal inp, so no restrict on these two; per element reads precede writes. */
        float *out = a->out + r * cols;
        const float *inp = a->inp + r * cols;
        for (size_t c = 0; c < cols; c++) out[c] = inp[c] + bias[c];
    }
}

void dk_bias_add(float *out, const float *inp, const float *bias, int rows, int cols) {
    if (rows <= 0 || cols <= 0) return;
    bias_add_args a = {out, inp, bias, cols};
    size_t grain = 1 + (128 * 1024) / (size_t)cols; /* ~128K elements per thread at least */
    dk__parallel_for((size_t)rows, grain, 1, bias_add_rows, &a);
}

/* Columns summed together: a block's double accumulators stay in L1 while rows stream by. */
#define BIAS_COL_BLOCK 512

typedef struct {
    float *dbias;
    const float *dout;
    int rows, cols, accumulate;
} bias_back_args;

DK_KERNEL(static, bias_backward_cols, (void *p, size_t c0, size_t c1),
          (p, c0, c1)) {
    const bias_back_args *a = p;
    size_t cols = (size_t)a->cols;
    for (size_t cb = c0; cb < c1; cb += BIAS_COL_BLOCK) {
        size_t w = c1 - cb < BIAS_COL_BLOCK ? c1 - cb : BIAS_COL_BLOCK;
        double acc[BIAS_COL_BLOCK];
        for (size_t c = 0; c < w; c++) acc[c] = 0.0;
        size_t rows = (size_t)a->rows, r = 0;
        /* Four rows per pass cut the accumulator traffic; the additions stay in row order. */
        for (; r + 4 <= rows; r += 4) {
            const float *restrict d0 = a->dout + r * cols + cb;
            const float *restrict d1 = d0 + cols, *restrict d2 = d1 + cols, *restrict d3 = d2 + cols;
            for (size_t c = 0; c < w; c++)
                acc[c] = (((acc[c] + (double)d0[c]) + (double)d1[c]) + (double)d2[c]) + (double)d3[c];
        }
        for (; r < rows; r++) {
            const float *restrict d = a->dout + r * cols + cb;
            for (size_t c = 0; c < w; c++) acc[c] += (double)d[c];
        }
        float *restrict db = a->dbias + cb;
        if (a->accumulate)
            for (size_t c = 0; c < w; c++) db[c] = (float)((double)db[c] + acc[c]);
        else
            for (size_t c = 0; c < w; c++) db[c] = (float)acc[c];
    }
}

void dk_bias_backward(float *dbias, const float *dout, int rows, int cols, int accumulate) {
    if (cols <= 0) return;
    bias_back_args a = {dbias, dout, rows < 0 ? 0 : rows, cols, accumulate};
    /* Each thread needs at least 64 columns and ~128K elements to be worth waking. */
    size_t per_col = rows > 0 ? (size_t)rows : 1;
    size_t grain = 128 * 1024 / per_col;
    if (grain < 64) grain = 64;
    dk__parallel_for((size_t)cols, grain, 16, bias_backward_cols, &a);
}
