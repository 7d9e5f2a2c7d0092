/*
 * Bias forward (broadcast add over rows) and backward (column sums).
 * The backward pass splits columns between threads, each column summed over the rows in order by one
 * thread; a tall and narrow gradient is cut into a fixed number of row bands instead, whose partial
 * sums are added in band order. Either way dbias is bitwise identical for any thread count.
 */
#include "internal.h"

#include <stddef.h>
#include <stdint.h>

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

/* Rows [*r0, *r1) of band k. */
static void band_rows(const bias_back_args *a, size_t k, size_t *r0, size_t *r1) {
    size_t rows = (size_t)a->rows, band = (rows + BIAS_ROW_BANDS - 1) / BIAS_ROW_BANDS;
    *r0 = k * band < rows ? k * band : rows;
    *r1 = *r0 + band < rows ? *r0 + band : rows;
}

/* Bands [k0, k1) of rows into their partial sums. */
static void bias_backward_bands(void *p, size_t k0, size_t k1) {
    const bias_back_args *a = p;
    size_t cols = (size_t)a->cols;
    for (size_t k = k0; k < k1; k++) {
        size_t r0, r1;
        band_rows(a, k, &r0, &r1);
        column_sums(a->partial + k * cols, a->dout, cols, r0, r1, 0, cols);
    }
}

/* At most NARROW_COLS columns (a thin convolution's bias: LeNet's 6) are a vector of doubles per row, and
 * NARROW_GROUP bands are summed at once: a band's sums are one chain of additions, one per row, whose latency
 * bounds it; with the columns as scalars, six such chains were no faster than one. The last row's check stays
 * out of the loop, where the compiler made it a branch and a copy to the stack on every row. */
#define NARROW_COLS 8
#define NARROW_GROUP 8
typedef double narrow_sums __attribute__((vector_size(NARROW_COLS * 8)));
typedef float narrow_row __attribute__((vector_size(NARROW_COLS * 4), aligned(4), __may_alias__));

/* The NARROW_COLS floats from row as doubles. */
DK_INLINE narrow_sums widened(const float *row) {
    return __builtin_convertvector(*(const narrow_row *)row, narrow_sums);
}

/* Row r's first NARROW_COLS floats as doubles: past its cols, the next row's, never used; the last row of
 * dout is copied first, as nothing follows it. */
DK_INLINE narrow_sums widened_row(const bias_back_args *a, size_t r) {
    const float *row = a->dout + r * (size_t)a->cols;
    if (r + 1 < (size_t)a->rows || a->cols == NARROW_COLS) return widened(row);
    float last[NARROW_COLS] = {0};
    for (int c = 0; c < a->cols; c++) last[c] = row[c];
    return widened(last);
}

DK_INLINE void store_band(const bias_back_args *a, size_t k, narrow_sums sums) {
    for (int c = 0; c < a->cols; c++) a->partial[k * (size_t)a->cols + (size_t)c] = sums[c];
}

/* Bands [k, k + G) into their partial sums, each from zero in row order as column_sums sums; G is a constant
 * at each call. The rows all G bands have, short of dout's last, are read without widened_row's check. */
DK_INLINE void narrow_group(const bias_back_args *a, size_t k, const int G) {
    const size_t cols = (size_t)a->cols, last_row = (size_t)a->rows - 1;
    size_t r0[NARROW_GROUP], r1[NARROW_GROUP], common = SIZE_MAX;
    narrow_sums sums[NARROW_GROUP];
    for (int j = 0; j < G; j++) {
        band_rows(a, k + (size_t)j, &r0[j], &r1[j]);
        size_t end = r1[j] < last_row ? r1[j] : last_row;
        size_t unchecked = end > r0[j] ? end - r0[j] : 0;
        if (unchecked < common) common = unchecked;
        sums[j] = (narrow_sums){0};
    }
    for (size_t i = 0; i < common; i++)
        for (int j = 0; j < G; j++) sums[j] += widened(a->dout + (r0[j] + i) * cols);
    for (int j = 0; j < G; j++) {
        for (size_t r = r0[j] + common; r < r1[j]; r++) sums[j] += widened_row(a, r);
        store_band(a, k + (size_t)j, sums[j]);
    }
}

/* Bands [k0, k1) of at most NARROW_COLS columns into their partial sums. */
DK_KERNEL(static, narrow_bands, (void *p, size_t k0, size_t k1), (p, k0, k1)) {
    const bias_back_args *a = p;
    size_t k = k0;
    for (; k + NARROW_GROUP <= k1; k += NARROW_GROUP) narrow_group(a, k, NARROW_GROUP);
    for (; k < k1; k++) narrow_group(a, k, 1);
}

/* One slot per concurrent caller: the bands' partial sums, as doubles. */
static dk_scratch_pool g_partials = {.floats = 2 * BIAS_ROW_BANDS * BIAS_COL_BLOCK};

void dk_bias_backward(float *dbias, const float *dout, int rows, int cols, int accumulate) {
    if (cols <= 0) return;
    bias_back_args a = {dbias, dout, rows < 0 ? 0 : rows, cols, accumulate, NULL};
    if (rows >= BIAS_ROW_SPLIT_MIN_ROWS && cols <= BIAS_COL_BLOCK) {
        int slot;
        a.partial = (double *)(void *)dk__scratch_claim(&g_partials, 0, &slot);
        /* Whole groups of bands to a thread, for narrow_bands. */
        const int narrow = cols <= NARROW_COLS;
        dk__parallel_for(BIAS_ROW_BANDS, 1, narrow ? NARROW_GROUP : 1, narrow ? narrow_bands : bias_backward_bands, &a);
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
