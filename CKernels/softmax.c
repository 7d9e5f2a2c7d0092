/*
 * Row-wise softmax, log-softmax, their backward passes, fused softmax cross-entropy and argmax.
 * Every row is max-subtracted, so logits of any finite magnitude give finite results; the loss
 * comes from log-sum-exp, never from log(softmax). Rows are split between threads and each row
 * is reduced by one thread with fixed-width lanes combined in a fixed order: deterministic.
 * A row is walked in a few short passes (max, exp with its sum, then a map); after the first pass
 * it is in L1. out may equal inp, so loops writing out use `omp simd`: it tells the vectorizer that
 * element i is read before it is written, sparing the runtime overlap check and the scalar fallback
 * that check takes when out == inp.
 * Outputs too large for the caches that overlap no input are streamed (see internal.h): the last
 * pass writes them with non-temporal stores, and softmax's exponentials wait for it in a row on the
 * stack instead of in the output. The arithmetic is the same either way, and so are the bits.
 */
#include "internal.h"

#include <math.h>
#include <stddef.h>

#define LANES 16
/* Elements per thread below which rows are not worth splitting: a fork/join costs a few µs on an
 * idle machine, tens of µs when the other cores are busy. Rows with an exp per element are slower
 * (~0.3 ns per element), so fewer of them pay for a thread. */
#define ROW_GRAIN_EXP (32 * 1024)
#define ROW_GRAIN (128 * 1024)
/* The longest rows whose exponentials a streaming softmax keeps on the stack (16 KB: in L1 beside
 * the input row); longer rows write them into the output as when not streaming. */
#define STREAM_ROW_MAX 4096

DK_INLINE float reduce_lanes(float s[LANES]) {
    for (int w = LANES / 2; w > 0; w /= 2)
        for (int j = 0; j < w; j++) s[j] += s[j + w];
    return s[0];
}

/* Max is exact in any order, so the vectorizer may choose the lanes; it recognizes an fmaxf
 * reduction (a select-based one would need fast-math). NaNs are skipped. */
DK_INLINE float row_max(const float *restrict x, size_t n) {
    float m = -__builtin_inff();
    for (size_t i = 0; i < n; i++) m = fmaxf(x[i], m);
    return m;
}

/* Σ x[i] in LANES lanes added in a fixed order, prefetching the row `also` into L2 one cache line per LANES
 * elements: the pass over it that follows then finds it there instead of waiting on memory, which the
 * hardware prefetcher, following this pass's one row, leaves it to do. */
DK_INLINE float row_sum(const float *restrict x, const float *also, size_t n) {
    float s[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES) {
        __builtin_prefetch(also + i, 0, 2);
        for (int j = 0; j < LANES; j++) s[j] += x[i + j];
    }
    for (; i < n; i++) s[i % LANES] += x[i];
    return reduce_lanes(s);
}

/*
 * The exp passes are compute-bound and run from L1, while the max pass that starts each row waits
 * for DRAM and the first stores to a row wait for its lines. So the exp passes prefetch into L2 one
 * cache line per LANES elements of the next row: of its input (`ahead`) and, for writing, of its
 * output (`ahead_out`, may be NULL); memory traffic then overlaps the arithmetic.
 */
DK_INLINE void prefetch_ahead(const float *ahead, float *ahead_out, size_t i) {
    __builtin_prefetch(ahead + i, 0, 2);
    if (ahead_out) __builtin_prefetch(ahead_out + i, 1, 2);
}

/* Σ e^(x[i] - mx), lanes as in row_sum. */
DK_INLINE float row_sum_exp(const float *restrict x, size_t n, float mx, const float *ahead,
                            float *ahead_out) {
    float s[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES) {
        prefetch_ahead(ahead, ahead_out, i);
        for (int j = 0; j < LANES; j++) s[j] += dk__exp_nonpos(x[i + j] - mx);
    }
    for (; i < n; i++) s[i % LANES] += dk__exp_nonpos(x[i] - mx);
    return reduce_lanes(s);
}

/* y[i] = e^(x[i] - mx) and returns their sum (lanes as in row_sum); y may equal x. */
DK_INLINE float row_exp_sum(float *y, const float *x, size_t n, float mx, const float *ahead,
                            float *ahead_out) {
    float s[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES) {
        prefetch_ahead(ahead, ahead_out, i);
#pragma omp simd
        for (int j = 0; j < LANES; j++) {
            float e = dk__exp_nonpos(x[i + j] - mx);
            y[i + j] = e;
            s[j] += e;
        }
    }
    for (; i < n; i++) {
        float e = dk__exp_nonpos(x[i] - mx);
        y[i] = e;
        s[i % LANES] += e;
    }
    return reduce_lanes(s);
}

/* Σ x[i]·y[i], lanes as in row_sum, prefetching the rows next_x and next_y into L2 one cache line of each per
 * LANES elements. The pass waits on memory with little to compute; the requests for the next rows, whole
 * pages ahead, keep more lines in flight than the hardware prefetcher does (it stops at each 4 KB page). */
DK_INLINE float row_dot(const float *restrict x, const float *restrict y, size_t n, const float *next_x,
                        const float *next_y) {
    float s[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES) {
        __builtin_prefetch(next_x + i, 0, 2);
        __builtin_prefetch(next_y + i, 0, 2);
        for (int j = 0; j < LANES; j++) s[j] += x[i + j] * y[i + j];
    }
    for (; i < n; i++) s[i % LANES] += x[i] * y[i];
    return reduce_lanes(s);
}

typedef struct {
    float *out, *losses;
    const float *inp, *aux;
    const int32_t *labels;
    int32_t *indices;
    size_t cols;
    float scale;
    int stream; /* write out with non-temporal stores */
} rows_args;

/// Whether a kernel writing `out` (rows x cols) from `inp` and `aux` (NULL: none), both as large,
/// should stream it.
static int streams_output(const float *out, const float *inp, const float *aux, int rows, int cols) {
    size_t count = (size_t)rows * (size_t)cols;
    return dk__streams_output(out, count, inp, count, aux, aux ? count : 0);
}

DK_KERNEL(static, softmax_rows, (void *p, size_t r0, size_t r1),
          (p, r0, r1)) {
    const rows_args *a = p;
    size_t n = a->cols;
    for (size_t r = r0; r < r1; r++) {
        const float *x = a->inp + r * n;
        float *y = a->out + r * n;
        int more = r + 1 < r1; /* the last row prefetches itself: no address past the arrays */
        float inv = 1.0f / row_exp_sum(y, x, n, row_max(x, n), more ? x + n : x, more ? y + n : y);
#pragma omp simd
        for (size_t i = 0; i < n; i++) y[i] *= inv;
    }
}

/* For the streaming kernels: row r's e^(x - max) into e (a row on the stack) and their sum; *mx
 * gets the max. Prefetches the next row of the worker's rows [.., r1), none of its output. */
DK_INLINE float row_exp_sum_to_stack(const rows_args *a, size_t r, size_t r1, float *e, float *mx) {
    size_t n = a->cols;
    const float *x = a->inp + r * n;
    *mx = row_max(x, n);
    return row_exp_sum(e, x, n, *mx, r + 1 < r1 ? x + n : x, NULL);
}

DK_KERNEL(static, softmax_rows_streaming, (void *p, size_t r0, size_t r1),
          (p, r0, r1)) {
    const rows_args *a = p;
    size_t n = a->cols;
    float e[STREAM_ROW_MAX] __attribute__((aligned(64))), mx;
    for (size_t r = r0; r < r1; r++) {
        float *y = a->out + r * n;
        float inv = 1.0f / row_exp_sum_to_stack(a, r, r1, e, &mx);
        DK_STREAM_ROW(y, n, i, e[i] * inv);
    }
    dk__stream_fence();
}

void dk_softmax_forward(float *out, const float *inp, int rows, int cols) {
    if (rows <= 0 || cols <= 0) return;
    rows_args a = {.out = out, .inp = inp, .cols = (size_t)cols};
    int stream = cols <= STREAM_ROW_MAX && streams_output(out, inp, NULL, rows, cols);
    dk__parallel_for((size_t)rows, 1 + ROW_GRAIN_EXP / (size_t)cols, 1,
                     stream ? softmax_rows_streaming : softmax_rows, &a);
}

DK_KERNEL(static, log_softmax_rows, (void *p, size_t r0, size_t r1),
          (p, r0, r1)) {
    const rows_args *a = p;
    size_t n = a->cols;
    for (size_t r = r0; r < r1; r++) {
        const float *x = a->inp + r * n;
        float *y = a->out + r * n;
        float mx = row_max(x, n);
        /* (x - max) is exact; folding max into the log-sum-exp first would round at |max|'s scale. */
        int more = r + 1 < r1; /* the last row prefetches itself: no address past the arrays */
        float *ahead_out = a->stream ? NULL : more ? y + n : y;
        float log_sum = logf(row_sum_exp(x, n, mx, more ? x + n : x, ahead_out));
        if (a->stream) {
            DK_STREAM_ROW(y, n, i, (x[i] - mx) - log_sum);
            continue;
        }
#pragma omp simd
        for (size_t i = 0; i < n; i++) y[i] = (x[i] - mx) - log_sum;
    }
    if (a->stream) dk__stream_fence();
}

void dk_log_softmax_forward(float *out, const float *inp, int rows, int cols) {
    if (rows <= 0 || cols <= 0) return;
    rows_args a = {.out = out, .inp = inp, .cols = (size_t)cols,
                   .stream = streams_output(out, inp, NULL, rows, cols)};
    dk__parallel_for((size_t)rows, 1 + ROW_GRAIN_EXP / (size_t)cols, 1, log_softmax_rows, &a);
}

DK_KERNEL(static, softmax_backward_rows, (void *p, size_t r0, size_t r1),
          (p, r0, r1)) {
    const rows_args *a = p;
    size_t n = a->cols;
    for (size_t r = r0; r < r1; r++) {
        const float *g = a->inp + r * n, *y = a->aux + r * n;
        float *d = a->out + r * n;
        int more = r + 1 < r1; /* the last row prefetches itself: no address past the arrays */
        float dot = row_dot(g, y, n, more ? g + n : g, more ? y + n : y);
        if (a->stream) {
            DK_STREAM_ROW(d, n, i, y[i] * (g[i] - dot));
            continue;
        }
#pragma omp simd
        for (size_t i = 0; i < n; i++) d[i] = y[i] * (g[i] - dot);
    }
    if (a->stream) dk__stream_fence();
}

void dk_softmax_backward(float *dinp, const float *dout, const float *out, int rows, int cols) {
    if (rows <= 0 || cols <= 0) return;
    rows_args a = {.out = dinp, .inp = dout, .aux = out, .cols = (size_t)cols,
                   .stream = streams_output(dinp, dout, out, rows, cols)};
    dk__parallel_for((size_t)rows, 1 + ROW_GRAIN / (size_t)cols, 1, softmax_backward_rows, &a);
}

DK_KERNEL(static, log_softmax_backward_rows, (void *p, size_t r0, size_t r1),
          (p, r0, r1)) {
    const rows_args *a = p;
    size_t n = a->cols;
    for (size_t r = r0; r < r1; r++) {
        const float *g = a->inp + r * n, *y = a->aux + r * n;
        float *d = a->out + r * n;
        float sum = row_sum(g, y, n); /* the exp pass reads y */
        /* The exp pass is compute-bound and reads g from L1 and y from L2; it prefetches the next
         * row's g and y, so that row's sum pass does not wait on memory with nothing to compute. */
        int more = r + 1 < r1; /* the last row prefetches itself: no address past the arrays */
        const float *next_g = more ? g + n : g, *next_y = more ? y + n : y;
        if (a->stream) {
            DK_STREAM_ROW_EACH_LINE(d, n, i, g[i] - dk__exp(y[i]) * sum,
                                    (__builtin_prefetch(next_g + i, 0, 2), __builtin_prefetch(next_y + i, 0, 2)));
            continue;
        }
        size_t i = 0;
        for (; i + LANES <= n; i += LANES) {
            __builtin_prefetch(next_g + i, 0, 2);
            __builtin_prefetch(next_y + i, 0, 2);
#pragma omp simd
            for (size_t j = i; j < i + LANES; j++) d[j] = g[j] - dk__exp(y[j]) * sum;
        }
#pragma omp simd
        for (size_t j = i; j < n; j++) d[j] = g[j] - dk__exp(y[j]) * sum;
    }
    if (a->stream) dk__stream_fence();
}

void dk_log_softmax_backward(float *dinp, const float *dout, const float *out, int rows, int cols) {
    if (rows <= 0 || cols <= 0) return;
    rows_args a = {.out = dinp, .inp = dout, .aux = out, .cols = (size_t)cols,
                   .stream = streams_output(dinp, dout, out, rows, cols)};
    dk__parallel_for((size_t)rows, 1 + ROW_GRAIN_EXP / (size_t)cols, 1, log_softmax_backward_rows, &a);
}

/* -log softmax[label] = (max - x[label]) + log(sum): no exp of large values, no log(0). */
DK_INLINE float label_loss(float mx, float x_label, float sum) { return (mx - x_label) + logf(sum); }

DK_KERNEL(static, cross_entropy_rows, (void *p, size_t r0, size_t r1),
          (p, r0, r1)) {
    const rows_args *a = p;
    size_t n = a->cols;
    for (size_t r = r0; r < r1; r++) {
        const float *x = a->inp + r * n;
        size_t label = (size_t)a->labels[r];
        float x_label = x[label]; /* read before dlogits, which may be logits, is written */
        int more = r + 1 < r1; /* the last row prefetches itself: no address past the arrays */
        const float *ahead = more ? x + n : x;
        float mx = row_max(x, n);
        float sum;
        if (a->out) {
            float *d = a->out + r * n;
            sum = row_exp_sum(d, x, n, mx, ahead, more ? d + n : d);
            float inv = 1.0f / sum, scale = a->scale;
            float p_label = d[label] * inv;
#pragma omp simd
            for (size_t i = 0; i < n; i++) d[i] = (d[i] * inv) * scale;
            d[label] = (p_label - 1.0f) * scale;
        } else {
            sum = row_sum_exp(x, n, mx, ahead, NULL);
        }
        a->losses[r] = label_loss(mx, x_label, sum);
    }
}

/* cross_entropy_rows for a streamed dlogits (no overlap with logits, rows up to STREAM_ROW_MAX). */
DK_KERNEL(static, cross_entropy_rows_streaming, (void *p, size_t r0, size_t r1),
          (p, r0, r1)) {
    const rows_args *a = p;
    size_t n = a->cols;
    float e[STREAM_ROW_MAX] __attribute__((aligned(64))), mx;
    for (size_t r = r0; r < r1; r++) {
        float *d = a->out + r * n;
        size_t label = (size_t)a->labels[r];
        float sum = row_exp_sum_to_stack(a, r, r1, e, &mx);
        float inv = 1.0f / sum, scale = a->scale;
        float p_label = e[label] * inv; /* a statement of its own, as above: not fused into an FMA */
        float d_label = (p_label - 1.0f) * scale;
        /* The label's cache line is written with ordinary stores: an ordinary store after a
         * streaming one to the same line would wait for that line to reach memory. The next row's
         * label line is fetched now, so that those stores do not wait for it either. */
        if (r + 1 < r1) __builtin_prefetch(d + n + a->labels[r + 1], 1, 3);
        size_t line_offset = ((uintptr_t)(d + label) % 64) / sizeof(float);
        size_t line_begin = label >= line_offset ? label - line_offset : 0;
        size_t line_end = label + 16 - line_offset < n ? label + 16 - line_offset : n;
        DK_STREAM_ROW(d, line_begin, i, (e[i] * inv) * scale);
        for (size_t i = line_begin; i < line_end; i++) d[i] = (e[i] * inv) * scale;
        d[label] = d_label;
        DK_STREAM_ROW(d + line_end, n - line_end, i, (e[line_end + i] * inv) * scale);
        a->losses[r] = label_loss(mx, a->inp[r * n + label], sum);
    }
    dk__stream_fence();
}

double dk_softmax_cross_entropy(float *losses, float *dlogits, const float *logits,
                                const int32_t *labels, int rows, int cols, float grad_scale) {
    if (rows <= 0 || cols <= 0) return 0.0;
    rows_args a = {.out = dlogits, .losses = losses, .inp = logits, .labels = labels,
                   .cols = (size_t)cols, .scale = grad_scale};
    int stream = dlogits && cols <= STREAM_ROW_MAX && streams_output(dlogits, logits, NULL, rows, cols);
    dk__parallel_for((size_t)rows, 1 + ROW_GRAIN_EXP / (size_t)cols, 1,
                     stream ? cross_entropy_rows_streaming : cross_entropy_rows, &a);
    double total = 0.0;
    for (int r = 0; r < rows; r++) total += (double)losses[r];
    return total / rows;
}

DK_KERNEL(static, argmax_rows, (void *p, size_t r0, size_t r1),
          (p, r0, r1)) {
    const rows_args *a = p;
    size_t n = a->cols;
    for (size_t r = r0; r < r1; r++) {
        const float *x = a->inp + r * n;
        size_t best = 0;
        for (size_t i = 1; i < n; i++)
            if (x[i] > x[best]) best = i;
        a->indices[r] = (int32_t)best;
    }
}

void dk_argmax_rows(int32_t *out, const float *inp, int rows, int cols) {
    if (rows <= 0 || cols <= 0) return;
    rows_args a = {.indices = out, .inp = inp, .cols = (size_t)cols};
    dk__parallel_for((size_t)rows, 1 + ROW_GRAIN / (size_t)cols, 1, argmax_rows, &a);
}
