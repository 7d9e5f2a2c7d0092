/*
 * Bias forward (broadcast add over rows) and backward (column sums).
 * The backward pass splits columns between threads, each column summed over the rows in order by one
 * thread; a tall and narrow gradient is cut into a fixed number of row bands instead, whose partial
 * sums are added in band order. Either way dbias is bitwise identical for any thread count.
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
/* A gradient at least this tall and at most BIAS_COL_BLOCK wide (a convolution's: 73728 x 64) is cut
 * into BIAS_ROW_BANDS bands of rows instead, whose partial sums are added in band order: its few
 * columns would leave all but one thread idle. Both numbers are constants, not the thread count, so the
 * bits do not depend on it; a batch of dense rows (128) stays below the threshold, summed as before. */
#define BIAS_ROW_SPLIT_MIN_ROWS 8192
#define BIAS_ROW_BANDS 32

typedef struct {
    float *dbias;
    const float *dout;
    int rows, cols, accumulate;
    double *partial; /* row-split path: BIAS_ROW_BANDS x cols partial sums */
} bias_back_args;

/* acc[c] = the sum of dout's rows [r0, r1) over the w columns from c0, in row order. */
DK_KERNEL(static, column_sums, (double *restrict acc, const float *dout, size_t cols, size_t r0, size_t r1,
                                size_t c0, size_t w),
          (acc, dout, cols, r0, r1, c0, w)) {
    for (size_t c = 0; c < w; c++) acc[c] = 0.0;
    size_t r = r0;
    /* Four rows per pass cut the accumulator traffic; the additions stay in row order. */
    for (; r + 4 <= r1; r += 4) {
        const float *restrict d0 = dout + r * cols + c0;
        const float *restrict d1 = d0 + cols, *restrict d2 = d1 + cols, *restrict d3 = d2 + cols;
        for (size_t c = 0; c < w; c++)
            acc[c] = (((acc[c] + (double)d0[c]) + (double)d1[c]) + (double)d2[c]) + (double)d3[c];
    }
    for (; r < r1; r++) {
        const float *restrict d = dout + r * cols + c0;
        for (size_t c = 0; c < w; c++) acc[c] += (double)d[c];
    }
}

static void store_sums(float *restrict db, const double *restrict acc, size_t w, int accumulate) {
    if (accumulate)
        for (size_t c = 0; c < w; c++) db[c] = (float)((double)db[c] + acc[c]);
    else
        for (size_t c = 0; c < w; c++) db[c] = (float)acc[c];
}

static void bias_backward_cols(void *p, size_t c0, size_t c1) {
    const bias_back_args *a = p;
    for (size_t cb = c0; cb < c1; cb += BIAS_COL_BLOCK) {
        size_t w = c1 - cb < BIAS_COL_BLOCK ? c1 - cb : BIAS_COL_BLOCK;
        double acc[BIAS_COL_BLOCK];
        column_sums(acc, a->dout, (size_t)a->cols, 0, (size_t)a->rows, cb, w);
        store_sums(a->dbias + cb, acc, w, a->accumulate);
    }
}

/* Bands [k0, k1) of rows into their partial sums. */
static void bias_backward_bands(void *p, size_t k0, size_t k1) {
    const bias_back_args *a = p;
    size_t rows = (size_t)a->rows, cols = (size_t)a->cols;
    size_t band = (rows + BIAS_ROW_BANDS - 1) / BIAS_ROW_BANDS;
    for (size_t k = k0; k < k1; k++) {
        size_t r0 = k * band, r1 = r0 + band < rows ? r0 + band : rows;
        column_sums(a->partial + k * cols, a->dout, cols, r0 < rows ? r0 : rows, r1, 0, cols);
    }
}

/* One slot per concurrent caller: the bands' partial sums, as doubles. */
static dk_scratch_pool g_partials = {.floats = 2 * BIAS_ROW_BANDS * BIAS_COL_BLOCK};

void dk_bias_backward(float *dbias, const float *dout, int rows, int cols, int accumulate) {
    if (cols <= 0) return;
    bias_back_args a = {dbias, dout, rows < 0 ? 0 : rows, cols, accumulate, NULL};
    if (rows >= BIAS_ROW_SPLIT_MIN_ROWS && cols <= BIAS_COL_BLOCK) {
        int slot;
        a.partial = (double *)(void *)dk__scratch_claim(&g_partials, 0, &slot);
        dk__parallel_for(BIAS_ROW_BANDS, 1, 1, bias_backward_bands, &a);
        double acc[BIAS_COL_BLOCK];
        for (int c = 0; c < cols; c++) acc[c] = a.partial[c];
        for (size_t k = 1; k < BIAS_ROW_BANDS; k++)
            for (int c = 0; c < cols; c++) acc[c] += a.partial[k * (size_t)cols + c];
        store_sums(dbias, acc, (size_t)cols, accumulate);
        dk__scratch_release(&g_partials, slot);
        return;
    }
    /* Each thread needs at least 64 columns and ~128K elements to be worth waking. */
    size_t per_col = rows > 0 ? (size_t)rows : 1;
    size_t grain = 128 * 1024 / per_col;
    if (grain < 64) grain = 64;
    dk__parallel_for((size_t)cols, grain, 16, bias_backward_cols, &a);
}
