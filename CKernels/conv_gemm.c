/*
 * Convolutions as implicit GEMMs: the products of conv.c's formulas without the whole unfolded
 * input. A convolution's unfolded input (im2col) is K = kh*kw*C times larger than the image it
 * comes from (85 MB for the `cnn` preset's second layer at batch 128, against 11 MB of image):
 * written out whole, it streams through DRAM twice per product and the GEMM waits on it. Here each
 * worker unfolds one chunk of rows at a time into its own scratch slot, sized like the GEMM's
 * A block (MC x KC floats, which the blocking fits to the caches), and runs the product on that
 * chunk at once, on its own thread, while it is in cache. The image itself stays in L2/L3.
 *
 * Bits: every element of every product is accumulated over the same K blocks in the same order as
 * the whole-buffer products (dk_sgemm's K blocks depend on K and KC only, and the weight gradient's
 * chunks are exactly those blocks), and col2im adds rows in the same order; so the results equal
 * dk_im2col + dk_sgemm (+ dk_col2im) bit for bit, for any thread count.
 */
#include "conv_lanes.h"

#include <stddef.h>

/* One slot per worker: as large as the largest A block any blocking uses. */
static dk_scratch_pool g_unfolded = {.floats = (size_t)DK_MC_MAX * DK_KC_MAX};

size_t dk_conv2d_max_field(void) { return g_unfolded.floats; }

/* Fields below this many floats are unfolded whole (see dk_conv2d_prefers_unfolded). */
#define SMALL_FIELD 32

int dk_conv2d_prefers_unfolded(const dk_window *w, int out_channels) {
    /* Layers whose forward and weight gradient both run directly unfold nothing. */
    int forward = dk__conv2d_direct_applies(w, out_channels) || dk__conv2d_narrow_applies(w, out_channels);
    int weight = dk__conv2d_block_lanes_weight_applies(w, out_channels) ||
                 dk__conv2d_narrow_weight_applies(w, out_channels) || dk__conv2d_wide_weight_applies(w, out_channels);
    if ((forward && weight) || dk_conv2d_uses_winograd(w, out_channels)) return 0;
    size_t k = (size_t)w->kernel_h * w->kernel_w * w->channels;
    return k < SMALL_FIELD || k > dk_conv2d_max_field();
}

/* Floats of unfolded input a worker keeps in cache at once: the GEMM's A block on this path. */
static size_t chunk_floats(void) {
    dk_blocking b = dk__blocking(dk__isa());
    return (size_t)b.mc * b.kc;
}

/* Rows per chunk for a field of k floats: as many as fit, a whole number of micro-kernel tiles when
 * that is at least one tile. */
static size_t chunk_rows(size_t k) {
    int mr, nr;
    dk_gemm_tile(dk__isa(), &mr, &nr);
    size_t rows = chunk_floats() / k;
    if (rows >= (size_t)mr) rows -= rows % (size_t)mr;
    return rows < 1 ? 1 : rows;
}

static size_t field(const dk_window *w) { return (size_t)w->kernel_h * w->kernel_w * w->channels; }
static size_t pixels(const dk_window *w) { return (size_t)w->batch * w->out_h * w->out_w; }

/* ---------------------------------------------------------------- forward */

static void forward_range(void *p, size_t r0, size_t r1) {
    const dk__conv_forward *a = p;
    const size_t k = field(a->w);
    int slot;
    float *col = dk__scratch_claim(&g_unfolded, (int)(r0 / a->rows), &slot);
    for (size_t r = r0; r < r1; r += a->rows) {
        size_t n = r1 - r < a->rows ? r1 - r : a->rows;
        dk__im2col_block(col, k, a->inp, a->w, r, r + n, 0, k);
        dk__sgemm_on_this_thread(0, 0, (int)n, a->oc, (int)k, 1.0f, col, (int)k, a->weight, a->oc, 0.0f,
                                 a->out + r * (size_t)a->oc, a->oc, a->bias, a->act, a->act_alpha);
    }
    dk__scratch_release(&g_unfolded, slot);
}

void dk_conv2d_forward(float *out, const float *inp, const float *weight, const float *bias, int out_channels,
                       const dk_window *w, dk_activation act, float act_alpha) {
    size_t m = pixels(w), k = field(w);
    if (m == 0 || out_channels <= 0 || k == 0 || k > dk_conv2d_max_field()) return;
    if (dk_conv2d_uses_winograd(w, out_channels) && lanes_in_tiles(act)) {
        dk__conv2d_forward_winograd(out, inp, weight, bias, out_channels, w, act, act_alpha);
        return;
    }
    dk__conv_forward a = {out, inp, weight, bias, w, out_channels, act, act_alpha, 0};
    if (dk__conv2d_direct_applies(w, out_channels)) {
        dk__conv2d_forward_direct(&a);
        return;
    }
    if (dk__conv2d_narrow_applies(w, out_channels)) {
        dk__conv2d_forward_narrow(&a);
        return;
    }
    a.rows = chunk_rows(k);
    dk__parallel_for(m, a.rows, 1, forward_range, &a);
}

/* ---------------------------------------------------------------- input gradient */

typedef struct {
    float *dinp;
    const float *dout, *weight;
    const dk_window *w;
    int oc;
    size_t rows;
} input_args;

/* Images [i0, i1): each image is summed by one thread, its rows in order, as dk_col2im does. */
static void input_images(void *p, size_t i0, size_t i1) {
    const input_args *a = p;
    const size_t k = field(a->w), per_image = (size_t)a->w->out_h * a->w->out_w;
    const size_t r1 = i1 * per_image;
    int slot;
    float *dcol = dk__scratch_claim(&g_unfolded, (int)i0, &slot);
    for (size_t r = i0 * per_image; r < r1; r += a->rows) {
        size_t n = r1 - r < a->rows ? r1 - r : a->rows;
        dk__sgemm_on_this_thread(0, 1, (int)n, (int)k, a->oc, 1.0f, a->dout + r * (size_t)a->oc, a->oc,
                                 a->weight, a->oc, 0.0f, dcol, (int)k, NULL, DK_ACT_IDENTITY, 0.0f);
        dk__col2im_rows(a->dinp, dcol, k, a->w, r, r + n);
    }
    dk__scratch_release(&g_unfolded, slot);
}

void dk_conv2d_backward_input(float *dinp, const float *dout, const float *weight, int out_channels,
                              const dk_window *w) {
    size_t k = field(w);
    if (w->batch <= 0 || k == 0 || k > dk_conv2d_max_field()) return;
    if (pixels(w) == 0 || out_channels <= 0) {
        /* Nothing flows back, but dinp is still overwritten. */
        memset(dinp, 0, (size_t)w->batch * w->height * w->width * w->channels * sizeof(float));
        return;
    }
    if (dk_conv2d_uses_winograd(w, out_channels)) {
        dk__conv2d_backward_input_winograd(dinp, dout, weight, out_channels, w);
        return;
    }
    if (dk__conv2d_narrow_input_applies(w, out_channels)) {
        dk__conv2d_backward_input_narrow(dinp, dout, weight, out_channels, w);
        return;
    }
    input_args a = {dinp, dout, weight, w, out_channels, chunk_rows(k)};
    dk__parallel_for((size_t)w->batch, 1, 1, input_images, &a);
}

/* ---------------------------------------------------------------- weight gradient */

/* Rows [c0, c1) of dweight (columns of the unfolded input): for each of the K blocks in order,
 * unfold the block's pixels over these columns and add its product, as one K block of the whole
 * product would. */
static void weight_rows(void *p, size_t c0, size_t c1) {
    const dk__conv_weight *a = p;
    const size_t m = pixels(a->w), oc = (size_t)a->oc;
    const size_t width = chunk_floats() / a->step < 1 ? 1 : chunk_floats() / a->step;
    int slot;
    float *col = dk__scratch_claim(&g_unfolded, (int)(c0 / width), &slot);
    for (size_t c = c0; c < c1; c += width) {
        size_t cols = c1 - c < width ? c1 - c : width;
        for (size_t b = 0; b < a->blocks; b++) {
            size_t r0 = b * a->step, rows = m - r0 < a->step ? m - r0 : a->step;
            dk__im2col_block(col, cols, a->inp, a->w, r0, r0 + rows, c, c + cols);
            dk__sgemm_on_this_thread(1, 0, (int)cols, a->oc, (int)rows, 1.0f, col, (int)cols, a->dout + r0 * oc,
                                     a->oc, b == 0 ? a->beta : 1.0f, a->dweight + c * oc, a->oc, NULL,
                                     DK_ACT_IDENTITY, 0.0f);
        }
    }
    dk__scratch_release(&g_unfolded, slot);
}

void dk_conv2d_backward_weight(float *dweight, const float *dout, const float *inp, int out_channels,
                               const dk_window *w, float beta) {
    size_t m = pixels(w), k = field(w);
    if (k == 0 || out_channels <= 0) return;
    if (m == 0) {
        dk_sgemm(1, 0, (int)k, out_channels, 0, 1.0f, inp, (int)k, dout, out_channels, beta, dweight, out_channels);
        return;
    }
    if (dk_conv2d_uses_winograd(w, out_channels)) {
        dk__conv2d_backward_weight_winograd(dweight, dout, inp, out_channels, w, beta);
        return;
    }
    int kc = dk__blocking(dk__isa()).kc;
    size_t blocks = (m + (size_t)kc - 1) / (size_t)kc;
    dk__conv_weight a = {dweight, dout, inp, w, out_channels, beta, (m + blocks - 1) / blocks, blocks};
    if (dk__conv2d_block_lanes_weight_applies(w, out_channels)) {
        dk__conv2d_backward_weight_block_lanes(&a);
        return;
    }
    if (dk__conv2d_narrow_weight_applies(w, out_channels)) {
        dk__conv2d_backward_weight_narrow(&a);
        return;
    }
    if (dk__conv2d_wide_weight_applies(w, out_channels)) {
        dk__conv2d_backward_weight_wide(&a);
        return;
    }
    /* Each worker's rows of dweight take the whole of every K block. Fewer than 16 rows (a greyscale
     * input's 3x3 field: 9) stay on one thread: splitting the output channels instead measured slower on
     * 2 threads than 1 (each part unfolds the whole field, and the unfolding is most of the work). */
    dk__parallel_for(k, 8, 8, weight_rows, &a);
}
