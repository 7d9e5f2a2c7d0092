/*
 * Forward of thin convolutions on one input channel (a greyscale image's first layer, as in LeNet-5:
 * 6 filters of 5x5). As a GEMM, such a layer multiplies a 25-float field by 6 columns: the
 * micro-kernel's 32-wide tile is 81 % idle, its rows end in scalar edge stores, and unfolding the input
 * (one short run per window row) costs more than the products. Here 16 output pixels of a row sit in
 * the lanes of a vector, each filter has its own accumulator (4, 8 or 16 of them, the fewest that hold
 * the filters; on the AVX-512 path, up to 8 filters of two rows at once), and the input rows are read
 * from a zero-padded copy of the image: every input value feeds all filters at once. (The weight
 * gradient of such layers is conv_narrow_weight.c's.)
 *
 * Bits: each output is accumulated in the GEMM's order, one multiply-add per term, padding included as
 * zeros, from zero (the field is within one K block), and finished by the same epilogue arithmetic; so
 * the results equal dk_im2col + dk_sgemm_bias_activation bit for bit, for any thread count.
 */
#include "conv_lanes.h"

#include <stddef.h>

#define MAX_FILTERS LANES /* one accumulator per filter; lanes_forward_setup lays them out LANES to a row */
#define SCRATCH_FLOATS ((size_t)1 << 20)

static dk_scratch_pool g_direct = {.floats = SCRATCH_FLOATS};

/* A padded image row of the forward: every LANES-wide load of an output block, at any kx, stays inside it. */
static size_t forward_span(const dk_window *w) { return (size_t)(w->out_w + LANES - 1) / LANES * LANES + w->kernel_w; }
int dk__conv2d_direct_applies(const dk_window *w, int out_channels) {
    size_t field = (size_t)w->kernel_h * w->kernel_w;
    size_t scratch = (field + 1) * MAX_FILTERS + dk__window_reach_h(w) * forward_span(w);
    return w->channels == 1 && w->stride_w == 1 && out_channels >= 1 && out_channels <= MAX_FILTERS &&
           field <= (size_t)dk__blocking(dk__isa()).kc && scratch <= SCRATCH_FLOATS;
}

/* ---------------------------------------------------------------- forward */

/* The sums of filters [0, nf) for output pixels ox0 .. ox0 + LANES - 1 of one row, whose window rows start
 * at `rows` (each `span` floats), into acc[f], and with R = 2 of the row whose windows start `next` floats
 * after, into acc_next[f]; with the GEMM's tile-store epilogue when `act` is one it applies there (see
 * gemm_kernel.h): + bias, then ReLU or leaky ReLU, elementwise as it does. nf and R are constants at each
 * call, so the accumulators stay in registers (two arrays: a 2-D one stayed in memory). Each weight feeds
 * both rows: one row of LeNet's 6 filters is 6 chains, each waiting on its last multiply-add, which leaves
 * the FMA pipes a quarter idle; 12 chains keep them busy. */
DK_INLINE void forward_block(lanes_vec acc[MAX_FILTERS], lanes_vec acc_next[MAX_FILTERS], const float *rows,
                             size_t next, size_t span, const float *filters, const float *bias, dk_activation act,
                             float slope, int kh, int kw, const int nf, const int R) {
    for (int f = 0; f < nf; f++) acc[f] = acc_next[f] = (lanes_vec){0};
    for (int ky = 0; ky < kh; ky++)
        for (int kx = 0; kx < kw; kx++) {
            const float *at = rows + (size_t)ky * span + kx;
            lanes_vec v = *(const lanes_vecu *)at, below = R > 1 ? *(const lanes_vecu *)(at + next) : v;
            const float *restrict wk = filters + (size_t)(ky * kw + kx) * MAX_FILTERS;
            for (int f = 0; f < nf; f++) {
                acc[f] += wk[f] * v;
                if (R > 1) acc_next[f] += wk[f] * below;
            }
        }
    for (int f = 0; f < nf; f++) {
        if (bias) acc[f] = acc[f] + bias[f], acc_next[f] = acc_next[f] + bias[f];
        lanes_activate(&acc[f], act, slope);
        lanes_activate(&acc_next[f], act, slope);
    }
}

typedef float pixel_vec __attribute__((vector_size(32)));
typedef float pixel_vecu __attribute__((vector_size(32), aligned(4), __may_alias__));

/* Writes `lanes` pixels of up to 8 filters (acc[f], lane l: filter f of pixel l) pixel by pixel, each
 * pixel's n filters contiguous at out + l * n, through an 8 x 16 register transpose: two pixels' 8
 * filters per vector, then one 8-float store per pixel. A store covers 8 - n floats of the pixels after
 * it too, so the pixels go in order and the next ones overwrite them; a pixel whose store would pass
 * the end of the row (`room` floats from out) is copied exactly instead. */
DK_INLINE void store_pixels_8(float *out, const lanes_vec acc[8], int n, int lanes, int room) {
    lanes_vec t[8], u[8], p[8];
    /* Pairs of filters for pairs of pixels, then four filters per pixel, then eight: each 4-lane
     * group g of u[j + q] holds pixel 4g + q's filters j .. j + 3. */
    for (int j = 0; j < 8; j += 2) {
        t[j] = __builtin_shufflevector(acc[j], acc[j + 1], 0, 16, 1, 17, 4, 20, 5, 21, 8, 24, 9, 25, 12, 28, 13, 29);
        t[j + 1] = __builtin_shufflevector(acc[j], acc[j + 1], 2, 18, 3, 19, 6, 22, 7, 23, 10, 26, 11, 27, 14, 30, 15, 31);
    }
    for (int j = 0; j < 8; j += 4)
        for (int h = 0; h < 2; h++) {
            u[j + 2 * h] = __builtin_shufflevector(t[j + h], t[j + h + 2], 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12,
                                                   13, 28, 29);
            u[j + 2 * h + 1] = __builtin_shufflevector(t[j + h], t[j + h + 2], 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26,
                                                       27, 14, 15, 30, 31);
        }
    /* p[q] holds pixels q and 4 + q, p[4 + q] pixels 8 + q and 12 + q. */
    for (int q = 0; q < 4; q++) {
        p[q] = __builtin_shufflevector(u[q], u[4 + q], 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
        p[4 + q] = __builtin_shufflevector(u[q], u[4 + q], 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
    }
    _Pragma("clang loop unroll(full)") for (int l = 0; l < LANES; l++) {
        if (l >= lanes) continue;
        const lanes_vec v = p[(l / 8) * 4 + l % 4];
        pixel_vec pixel = l / 4 % 2 ? __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15)
                                    : __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7);
        float *o = out + (size_t)l * n;
        if (l * n + 8 <= room) {
            *(pixel_vecu *)o = pixel;
        } else {
#pragma clang loop vectorize(disable)
            for (int f = 0; f < n; f++) o[f] = pixel[f];
        }
    }
}

/* Writes `lanes` pixels of n (9 to 16) filters (acc[f], lane l: filter f of pixel l) pixel by pixel,
 * filters contiguous: plain copies (vectorized, the loop reads the sums with gathers, which took half the time). */
DK_INLINE void store_pixels(float *out, const lanes_vec acc[MAX_FILTERS], int n, int lanes) {
    float sums[MAX_FILTERS][LANES];
    for (int f = 0; f < n; f++) *(lanes_vecu *)sums[f] = acc[f];
    for (int l = 0; l < lanes; l++) {
        float *o = out + (size_t)l * n;
#pragma clang loop vectorize(disable)
        for (int f = 0; f < n; f++) o[f] = sums[f][l];
    }
}

/* One block of LANES output pixels of R rows (see forward_block) for nf accumulators (R and nf constants),
 * stored to out and, for the second row, out_next floats after it, `room` floats before the end of the row. */
DK_INLINE void forward_pixels(float *out, size_t out_next, int n, int lanes, int room, const float *rows, size_t next,
                              size_t span, const float *filters, const float *bias, dk_activation act, float slope,
                              int kh, int kw, const int nf, const int R) {
    lanes_vec acc[MAX_FILTERS], acc_next[MAX_FILTERS];
    forward_block(acc, acc_next, rows, next, span, filters, bias, act, slope, kh, kw, nf, R);
    if (nf <= 8) {
        for (int f = nf; f < 8; f++) acc[f] = acc_next[f] = (lanes_vec){0};
        store_pixels_8(out, acc, n, lanes, room);
        if (R > 1) store_pixels_8(out + out_next, acc_next, n, lanes, room);
    } else {
        store_pixels(out, acc, n, lanes);
        if (R > 1) store_pixels(out + out_next, acc_next, n, lanes);
    }
}

/* Output rows [r0, r1) (row = image * out_h + oy). */
DK_KERNEL(static, direct_rows, (void *p, size_t r0, size_t r1), (p, r0, r1)) {
    const dk__conv_forward *a = p;
    const dk_window *w = a->w;
    const int kh = w->kernel_h, kw = w->kernel_w, ow = w->out_w, n = a->oc;
    const size_t span = forward_span(w), field = (size_t)kh * kw;
    int slot;
    float *filters = dk__scratch_claim(&g_direct, (int)r0, &slot);
    const float *bias;
    dk_activation act;
    float *restrict padded = lanes_forward_setup(filters, a, field, LANES, &bias, &act); /* the current image */
    size_t image = r0 / (size_t)w->out_h;
    int oy = (int)(r0 % (size_t)w->out_h);
    dk__pad_image(padded, span, a->inp, image, w);
    /* Two rows at a time on the AVX-512 path, whose 32 registers hold both rows' accumulators for up to 8
     * filters; with 16 registers they would spill. */
    const int row_pairs = dk__isa() == DK_ISA_AVX512 && n <= 8;
    const size_t next = (size_t)w->stride_h * span, out_next = (size_t)ow * n;
    for (size_t row = r0; row < r1;) {
        if (oy == w->out_h) {
            oy = 0;
            dk__pad_image(padded, span, a->inp, ++image, w);
        }
        const int pair = row_pairs && row + 1 < r1 && oy + 1 < w->out_h;
        const float *rows = padded + (size_t)oy * w->stride_h * span;
        float *out_row = a->out + row * (size_t)ow * n;
        for (int ox0 = 0; ox0 < ow; ox0 += LANES) {
            int lanes = ow - ox0 < LANES ? ow - ox0 : LANES, room = (ow - ox0) * n;
            float *out = out_row + (size_t)ox0 * n;
            /* An accumulator per filter, 6 of them for LeNet's 6 filters (a quarter of the multiply-adds of 8). */
#define DK_PIXELS(NF, R)                                                                                         \
    forward_pixels(out, out_next, n, lanes, room, rows + ox0, next, span, filters, bias, act, a->act_alpha, kh, kw, \
                   NF, R)
            if (pair) {
                if (n <= 4) DK_PIXELS(4, 2);
                else if (n <= 6) DK_PIXELS(6, 2);
                else DK_PIXELS(8, 2);
            } else {
                if (n <= 4) DK_PIXELS(4, 1);
                else if (n <= 6) DK_PIXELS(6, 1);
                else if (n <= 8) DK_PIXELS(8, 1);
                else DK_PIXELS(MAX_FILTERS, 1);
            }
#undef DK_PIXELS
        }
        /* The exp-based activations, as the GEMM applies them: on the stored values afterwards. */
        const int done = pair ? 2 : 1;
        if (!lanes_in_tiles(a->act)) dk__bias_activation_block(out_row, n, ow * done, n, a->bias, a->act, a->act_alpha);
        oy += done;
        row += (size_t)done;
    }
    dk__scratch_release(&g_direct, slot);
}

void dk__conv2d_forward_direct(const dk__conv_forward *a) {
    dk__parallel_for((size_t)a->w->batch * a->w->out_h, 8, 1, direct_rows, (void *)a);
}
