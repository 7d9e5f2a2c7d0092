/*
 * The backward of a ReLU convolution whose output only a 2x2 max pool of stride 2 reads (both of
 * LeNet-5's convolutions), straight from the pool's output gradient. The pool hands each window's
 * gradient, per filter, to one pixel (its first largest, if positive: the ReLU's derivative), so at least
 * three quarters of the convolution's output gradient are zeros. The unfused path writes that gradient
 * whole (dk_maxpool_relu_backward), sums it for the bias and multiplies every pixel of it into the weight
 * and input gradients; here each pooled gradient goes straight to the window of its pixel: a quarter of
 * the multiply-adds, and the output gradient is never written or read.
 *
 * Per image: a zero-padded copy of it, rows of `span` floats, so that a kernel row of a window is kw * C
 * contiguous floats (read in vectors of 8, the lanes past it ignored); which pixel of each window wins,
 * per filter (from the convolution's output, as the pool's backward picks it), and so each pooled pixel's
 * gradient g and window per filter; then
 *   weight gradient  sums[f][ky] += g * the window's row ky, a filter's rows of sums in registers;
 *   input gradient   the padded gradient's row ky of the window += g * the filter's row ky (zeros past
 *                    its kw * C floats), then the padded gradient's inside to dinp.
 *
 * Bits: not those of the unfused path (the terms are summed in another order); the same for any thread
 * count: the images are cut into PARTS fixed parts, each part sums its pooled pixels in order (images,
 * rows, columns), and the parts' sums are added in part order; each image's input gradient is summed in
 * that order by one thread.
 */
#include "internal.h"

#include <stddef.h>
#include <string.h>

#define PARTS 16
#define LANES8 8
#define MAX_VECTORS 8 /* a kernel row of up to 64 floats (kw * C) */
#define MAX_ROWS 8    /* kernel rows */
#define MAX_FILTERS 32
/* Sums a register tile holds: with a row and a gradient, AVX2's 16 ymm registers. */
#define MAX_ACCUMULATORS 14
#define SCRATCH_FLOATS ((size_t)1 << 20)

typedef float row_vec __attribute__((vector_size(LANES8 * 4)));
typedef float row_vecu __attribute__((vector_size(LANES8 * 4), aligned(4), __may_alias__));

/* The parts' sums, then the filters' rows for the input gradient. */
#define SHARED_FLOATS ((PARTS + 1) * (MAX_FILTERS * MAX_ROWS * MAX_VECTORS * LANES8 + MAX_FILTERS))

static dk_scratch_pool g_images = {.floats = SCRATCH_FLOATS};
static dk_scratch_pool g_shared = {.floats = SHARED_FLOATS};

typedef struct {
    size_t C, oc, kh, kw, nv; /* nv: vectors of a kernel row */
    size_t span, rows;        /* padded image: rows of span floats */
    size_t oh, ow, ph, pw;    /* convolution output, pooled output */
    size_t winner_row;        /* ints per pooled row of winners */
    size_t row_floats;        /* a kernel row's sums: nv vectors */
    size_t part_floats;       /* a part's sums: oc x kh rows, then oc biases */
} pooled_geometry;

static pooled_geometry geometry_of(const dk_window *w, int out_channels) {
    pooled_geometry g;
    g.C = (size_t)w->channels, g.oc = (size_t)out_channels, g.kh = (size_t)w->kernel_h, g.kw = (size_t)w->kernel_w;
    g.nv = (g.kw * g.C + LANES8 - 1) / LANES8;
    g.oh = (size_t)w->out_h, g.ow = (size_t)w->out_w, g.ph = g.oh / 2, g.pw = g.ow / 2;
    /* Whole pixels, enough for the padded input and for a row's last vector at the last output column. */
    size_t loads = (g.ow - 1) * g.C + g.nv * LANES8, reach = dk__window_reach_w(w) * g.C;
    g.span = ((loads > reach ? loads : reach) + g.C - 1) / g.C * g.C;
    g.rows = dk__window_reach_h(w);
    g.winner_row = g.ow * g.oc;
    g.row_floats = g.nv * LANES8;
    g.part_floats = g.oc * g.kh * g.row_floats + g.oc;
    return g;
}

/* A worker's scratch: the padded image and its gradient, then each pooled pixel's gradients and window
 * offsets per filter, then the winners of the pooled rows. */
static size_t worker_floats(const pooled_geometry *g) {
    return 2 * g->rows * g->span + 2 * g->ph * g->pw * g->oc + g->ph * g->winner_row;
}

int dk_conv2d_relu_maxpool_backward_applies(const dk_window *w, int out_channels) {
    if (w->stride_h != 1 || w->stride_w != 1 || w->channels < 1 || w->kernel_w < 1 || w->kernel_h < 1 ||
        w->kernel_h > MAX_ROWS || (size_t)w->kernel_w * w->channels > MAX_VECTORS * LANES8 || out_channels < 1 ||
        out_channels > MAX_FILTERS || w->out_h < 2 || w->out_w < 2 || w->batch < 1)
        return 0;
    pooled_geometry g = geometry_of(w, out_channels);
    return worker_floats(&g) <= SCRATCH_FLOATS;
}

typedef struct {
    float *dinp, *sums;
    const float *filters; /* per filter, kernel row: row_floats floats, zeros past kw * C */
    const float *dpool, *conv_out, *inp;
    const dk_window *w;
    pooled_geometry g;
} pooled_args;

/* Which pixel of each 2x2 window of rows r0 and r1 (n floats each: pixels of oc filters) gets its
 * gradient: winners[e] for the lane e = 2 * px * oc + f of the window's left pixels (the lanes of the right
 * ones are filled too, and unused) is 0..3, the first strictly largest of its four values in row-major order,
 * or -1 if none is positive (the ReLU's derivative keeps nothing), as dk_maxpool_relu_backward picks it.
 * A lane per float, so that LeNet's 6 filters still fill the vectors. */
static void row_winners(int *restrict winners, const float *restrict r0, const float *restrict r1, size_t n,
                        size_t oc) {
    for (size_t e = 0; e + oc < n; e++) {
        const float v[4] = {r0[e], r0[e + oc], r1[e], r1[e + oc]};
        float best = 0.0f;
        int at = -1;
        for (int k = 0; k < 4; k++) {
            const int better = v[k] > best;
            best = better ? v[k] : best;
            at = better ? k : at;
        }
        winners[e] = at;
    }
}

/* Each pooled pixel q's gradient per filter, grads[q * oc + f] (0 + d as the unfused path stores it, +0
 * where no pixel wins), and where its window starts in the padded image, offsets[q * oc + f]; bias[f]
 * adds the gradients in order. */
static void pooled_codes(float *restrict grads, int *restrict offsets, float *restrict bias, const int *winners,
                         const float *restrict d, const pooled_geometry *g) {
    const size_t oc = g->oc;
    for (size_t py = 0; py < g->ph; py++)
        for (size_t px = 0; px < g->pw; px++, d += oc, grads += oc, offsets += oc) {
            const int *win = winners + py * g->winner_row + 2 * px * oc;
            const int base = (int)(2 * py * g->span + 2 * px * g->C);
            const int corner[4] = {0, (int)g->C, (int)g->span, (int)(g->span + g->C)};
            for (size_t f = 0; f < oc; f++) {
                const int at = win[f];
                const float grad = dk__keep_if(0.0f + d[f], at >= 0);
                grads[f] = grad;
                offsets[f] = base + corner[at & 3];
                bias[f] += grad;
            }
        }
}

/* The weight gradient's sums of filter f, kernel rows [ky0, ky0 + KR), NV vectors each, over the image's
 * pooled pixels in order, in registers (KR, NV constants, KR * NV <= MAX_ACCUMULATORS: one array of
 * accumulators, which stays in registers where a 2-D one would not). */
DK_INLINE void filter_rows(float *restrict sums, const float *restrict grads, const int *restrict offsets,
                           const float *padded, const pooled_geometry *g, size_t f, size_t ky0, const int KR,
                           const int NV) {
#define EACH_ACC(r, v)                                                                                           \
    _Pragma("clang loop unroll(full)") for (int r = 0; r < KR; r++)                                              \
        _Pragma("clang loop unroll(full)") for (int v = 0; v < NV; v++)
    row_vec acc[MAX_ROWS * MAX_VECTORS]; /* KR * NV of them used: the bound of any instance */
    float *rows = sums + (f * g->kh + ky0) * g->row_floats;
    EACH_ACC(r, v) acc[r * NV + v] = *(const row_vecu *)(rows + (size_t)r * g->row_floats + (size_t)v * LANES8);
    const size_t pooled = g->ph * g->pw, span = g->span;
    for (size_t q = 0; q < pooled; q++) {
        const float grad = grads[q * g->oc + f];
        const float *window = padded + offsets[q * g->oc + f] + ky0 * span;
        EACH_ACC(r, v) acc[r * NV + v] += grad * *(const row_vecu *)(window + (size_t)r * span + (size_t)v * LANES8);
    }
    EACH_ACC(r, v) *(row_vecu *)(rows + (size_t)r * g->row_floats + (size_t)v * LANES8) = acc[r * NV + v];
#undef EACH_ACC
}

/* The padded input gradient of one image: every pooled pixel's gradient times each filter's rows, added
 * to its window (NV constant). A filter at a time, and along a row every third window: windows of pixels
 * two apart overlap, and a load from the lines a store before it has not finished writing waits for it
 * (or, overlapping it only in part, for it to reach the cache). */
DK_INLINE void image_input_gradient(float *restrict dpadded, const float *restrict grads, const int *restrict offsets,
                                    const float *restrict filters, const pooled_geometry *g, const int NV) {
    const size_t oc = g->oc, kh = g->kh, span = g->span;
    for (size_t f = 0; f < oc; f++) {
        const float *filter = filters + f * kh * g->row_floats;
        for (size_t py = 0; py < g->ph; py++)
            for (size_t first = 0; first < 3; first++)
                for (size_t px = first; px < g->pw; px += 3) {
                    const size_t q = py * g->pw + px;
                    const float grad = grads[q * oc + f];
                    float *window = dpadded + offsets[q * oc + f];
                    for (size_t ky = 0; ky < kh; ky++)
                        _Pragma("clang loop unroll(full)") for (int v = 0; v < NV; v++) {
                            row_vecu *dst = (row_vecu *)(window + ky * span + (size_t)v * LANES8);
                            *dst += grad * *(const row_vecu *)(filter + ky * g->row_floats + (size_t)v * LANES8);
                        }
                }
    }
}

/* Kernel rows a register tile of NV vectors holds. */
#define ROWS_FOR(NV) (MAX_ACCUMULATORS / (NV) > MAX_ROWS ? MAX_ROWS : MAX_ACCUMULATORS / (NV))

DK_KERNEL(static, pooled_parts, (void *p, size_t p0, size_t p1), (p, p0, p1)) {
    const pooled_args *a = p;
    const dk_window *w = a->w;
    const pooled_geometry *g = &a->g;
    const size_t batch = (size_t)w->batch, image_in = (size_t)w->height * w->width * g->C;
    const size_t pooled = g->ph * g->pw, line = (size_t)w->width * g->C;
    int slot;
    float *padded = dk__scratch_claim(&g_images, (int)p0, &slot);
    float *dpadded = padded + g->rows * g->span, *grads = dpadded + g->rows * g->span;
    int *offsets = (int *)(grads + pooled * g->oc), *winners = offsets + pooled * g->oc;
    for (size_t part = p0; part < p1; part++) {
        float *sums = a->sums + part * g->part_floats, *bias = sums + g->oc * g->kh * g->row_floats;
        memset(sums, 0, g->part_floats * sizeof(float));
        for (size_t image = part * batch / PARTS; image < (part + 1) * batch / PARTS; image++) {
            dk__pad_image(padded, g->span / g->C, a->inp, image, w);
            const float *out = a->conv_out + image * g->oh * g->winner_row;
            for (size_t py = 0; py < g->ph; py++)
                row_winners(winners + py * g->winner_row, out + 2 * py * g->winner_row,
                            out + (2 * py + 1) * g->winner_row, g->winner_row, g->oc);
            pooled_codes(grads, offsets, bias, winners, a->dpool + image * pooled * g->oc, g);
            /* Constant tile sizes, so each case's loops are compiled with them. */
#define DK_ROWS(KR, NV)                                                                                          \
    case KR:                                                                                                     \
        if (KR <= ROWS_FOR(NV)) filter_rows(sums, grads, offsets, padded, g, f, ky0, KR, NV);                   \
        break;
#define DK_VECTORS(NV)                                                                                           \
    case NV:                                                                                                     \
        for (size_t f = 0; f < g->oc; f++)                                                                       \
            for (size_t ky0 = 0; ky0 < g->kh; ky0 += ROWS_FOR(NV))                                               \
                switch (g->kh - ky0 < ROWS_FOR(NV) ? g->kh - ky0 : ROWS_FOR(NV)) {                               \
                    DK_ROWS(1, NV) DK_ROWS(2, NV) DK_ROWS(3, NV) DK_ROWS(4, NV)                                  \
                    DK_ROWS(5, NV) DK_ROWS(6, NV) DK_ROWS(7, NV) DK_ROWS(8, NV)                                  \
                }                                                                                                \
        if (a->dinp) {                                                                                           \
            memset(dpadded, 0, g->rows * g->span * sizeof(float));                                               \
            image_input_gradient(dpadded, grads, offsets, a->filters, g, NV);                                    \
        }                                                                                                        \
        break;
            switch (g->nv) {
                DK_VECTORS(1)
                DK_VECTORS(2)
                DK_VECTORS(3)
                DK_VECTORS(4)
                DK_VECTORS(5)
                DK_VECTORS(6)
                DK_VECTORS(7)
                DK_VECTORS(8)
            }
#undef DK_VECTORS
#undef DK_ROWS
            if (a->dinp) /* the padded gradient's inside: the image's own pixels */
                for (size_t y = 0; y < (size_t)w->height; y++)
                    memcpy(a->dinp + image * image_in + y * line,
                           dpadded + (y + (size_t)w->pad_top) * g->span + (size_t)w->pad_left * g->C,
                           line * sizeof(float));
        }
    }
    dk__scratch_release(&g_images, slot);
}

void dk_conv2d_relu_maxpool_backward(float *dinp, float *dweight, float *dbias, const float *dpool,
                                     const float *conv_out, const float *inp, const float *weight, int out_channels,
                                     const dk_window *w, int accumulate_weight, int accumulate_bias) {
    const pooled_geometry g = geometry_of(w, out_channels);
    int slot;
    float *shared = dk__scratch_claim(&g_shared, 0, &slot), *filters = shared + PARTS * g.part_floats;
    /* The filters' kernel rows for the input gradient: filter f's row ky is weight[ky][kx][c][f] over
     * (kx, c), then zeros to a whole vector. */
    if (dinp)
        for (size_t f = 0; f < g.oc; f++)
            for (size_t ky = 0; ky < g.kh; ky++) {
                float *row = filters + (f * g.kh + ky) * g.row_floats;
                for (size_t i = 0; i < g.row_floats; i++)
                    row[i] = i < g.kw * g.C ? weight[(ky * g.kw * g.C + i) * g.oc + f] : 0.0f;
            }
    pooled_args a = {dinp, shared, filters, dpool, conv_out, inp, w, g};
    dk__parallel_for(PARTS, 1, 1, pooled_parts, &a);
    /* The parts' sums in part order, then onto the gradients. */
    const size_t field = g.kw * g.C;
    for (size_t f = 0; f < g.oc; f++) {
        for (size_t ky = 0; ky < g.kh; ky++)
            for (size_t i = 0; i < field; i++) {
                const size_t at = (f * g.kh + ky) * g.row_floats + i;
                float s = shared[at];
                for (size_t part = 1; part < PARTS; part++) s += shared[part * g.part_floats + at];
                float *dst = dweight + (ky * field + i) * g.oc + f;
                *dst = accumulate_weight ? *dst + s : s;
            }
        const size_t at = g.oc * g.kh * g.row_floats + f;
        float s = shared[at];
        for (size_t part = 1; part < PARTS; part++) s += shared[part * g.part_floats + at];
        dbias[f] = accumulate_bias ? dbias[f] + s : s;
    }
    dk__scratch_release(&g_shared, slot);
}
