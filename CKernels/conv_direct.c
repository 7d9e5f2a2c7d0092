/*
 * Forward of thin convolutions on one input channel (a greyscale image's first layer, as in LeNet-5:
 * 6 filters of 5x5). As a GEMM, such a layer multiplies a 25-float field by 6 columns: the
 * micro-kernel's 32-wide tile is 81 % idle, its rows end in scalar edge stores, and unfolding the input
 * (one short run per window row) costs more than the products. Here 16 output pixels of a row sit in
 * the lanes of a vector, each filter has its own accumulator (4, 8 or 16 of them, the fewest that hold
 * the filters), and the input rows are read from a zero-padded copy of the image: every input value
 * feeds all filters at once. (The weight gradient of such layers is conv_narrow_weight.c's.)
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

/* The sums of filters [0, nf) for output pixels ox0 .. ox0 + LANES - 1 of one row, whose window rows
 * start at `rows` (each `span` floats), into sums[f]; with the GEMM's tile-store epilogue when `act`
 * is one it applies there (see gemm_kernel.h): + bias, then ReLU or leaky ReLU, elementwise as it does.
 * nf is a constant at each call, so the accumulators stay in registers. */
DK_INLINE void forward_block(float sums[][LANES], const float *rows, size_t span, const float *filters,
                             const float *bias, dk_activation act, float slope, int kh, int kw, const int nf) {
    lanes_vec acc[MAX_FILTERS];
    for (int f = 0; f < nf; f++) acc[f] = (lanes_vec){0};
    for (int ky = 0; ky < kh; ky++)
        for (int kx = 0; kx < kw; kx++) {
            lanes_vec v = *(const lanes_vecu *)(rows + (size_t)ky * span + kx);
            const float *restrict wk = filters + (size_t)(ky * kw + kx) * MAX_FILTERS;
            for (int f = 0; f < nf; f++) acc[f] += wk[f] * v;
        }
    for (int f = 0; f < nf; f++) {
        lanes_vec x = acc[f];
        if (bias) x = x + bias[f];
        lanes_activate(&x, act, slope);
        *(lanes_vecu *)sums[f] = x;
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
    for (size_t row = r0; row < r1; row++) {
        if (oy == w->out_h) {
            oy = 0;
            dk__pad_image(padded, span, a->inp, ++image, w);
        }
        const float *rows = padded + (size_t)oy * w->stride_h * span;
        float *out_row = a->out + row * (size_t)ow * n;
        for (int ox0 = 0; ox0 < ow; ox0 += LANES) {
            float sums[MAX_FILTERS][LANES];
            if (n <= 4) forward_block(sums, rows + ox0, span, filters, bias, act, a->act_alpha, kh, kw, 4);
            else if (n <= 8) forward_block(sums, rows + ox0, span, filters, bias, act, a->act_alpha, kh, kw, 8);
            else forward_block(sums, rows + ox0, span, filters, bias, act, a->act_alpha, kh, kw, MAX_FILTERS);
            /* Written pixel by pixel, filters contiguous: plain copies (vectorized, the loop reads the
             * sums with gathers, which took half the time). */
            int lanes = ow - ox0 < LANES ? ow - ox0 : LANES;
            for (int l = 0; l < lanes; l++) {
                float *o = out_row + (size_t)(ox0 + l) * n;
#pragma clang loop vectorize(disable)
                for (int f = 0; f < n; f++) o[f] = sums[f][l];
            }
        }
        /* The exp-based activations, as the GEMM applies them: on the stored values afterwards. */
        if (!lanes_in_tiles(a->act)) dk__bias_activation_block(out_row, n, ow, n, a->bias, a->act, a->act_alpha);
        oy++;
    }
    dk__scratch_release(&g_direct, slot);
}

void dk__conv2d_forward_direct(const dk__conv_forward *a) {
    dk__parallel_for((size_t)a->w->batch * a->w->out_h, 8, 1, direct_rows, (void *)a);
}
