/*
 * Batch assembly: gathers uint8 image rows by index and converts them to scaled floats.
 * Each output row depends on one input row only, so rows are split freely between threads.
 */
#include "internal.h"

#include <stddef.h>

typedef struct {
    float *out;
    const uint8_t *images;
    const int32_t *indices;
    size_t cols;
    float scale;
} gather_args;

/* Rows ahead whose bytes are requested before they are needed: the rows are scattered over the
 * dataset, so without this each row waits for DRAM in turn. */
#define GATHER_PREFETCH_ROWS 4

DK_KERNEL(static, gather_rows, (void *p, size_t r0, size_t r1),
          (p, r0, r1)) {
    const gather_args *a = p;
    size_t cols = a->cols;
    const float scale = a->scale;
    for (size_t r = r0; r < r1; r++) {
        if (r + GATHER_PREFETCH_ROWS < r1) {
            const uint8_t *ahead = a->images + (size_t)a->indices[r + GATHER_PREFETCH_ROWS] * cols;
            for (size_t c = 0; c < cols; c += 64) __builtin_prefetch(ahead + c);
        }
        const uint8_t *restrict src = a->images + (size_t)a->indices[r] * cols;
        float *restrict dst = a->out + r * cols;
        for (size_t c = 0; c < cols; c++) dst[c] = (float)src[c] * scale;
    }
}

/* Into the outer caches (prefetcht2): the rows are needed one step later, after the step's own
 * data has passed through L1 and L2. On the calling thread: issuing the requests takes ~1 µs. */
void dk_prefetch_rows_u8(const uint8_t *images, const int32_t *indices, int rows, int cols) {
    if (cols <= 0) return;
    for (int r = 0; r < rows; r++) {
        const uint8_t *row = images + (size_t)indices[r] * (size_t)cols;
        for (size_t c = 0; c < (size_t)cols; c += 64) __builtin_prefetch(row + c, 0, 1);
        __builtin_prefetch(row + cols - 1, 0, 1); /* the last line, when the row does not start one */
    }
}

void dk_gather_rows_u8(float *out, const uint8_t *images, const int32_t *indices, int rows, int cols,
                       float scale) {
    if (rows <= 0 || cols <= 0) return;
    gather_args a = {out, images, indices, (size_t)cols, scale};
    /* Two threads from 16K pixels each: a 128-image batch waits on scattered DRAM rows, so a
     * second thread halves the wait. */
    dk__parallel_for((size_t)rows, 1 + (16 * 1024) / (size_t)cols, 1, gather_rows, &a);
}
