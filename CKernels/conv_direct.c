/*
 * A direct forward kernel for thin convolutions on one input channel (a greyscale image's first layer,
 * as in LeNet-5: 6 filters of 5x5). As a GEMM, such a layer multiplies a 25-float field by 6 columns: the
 * micro-kernel's 32-wide tile is 81 % idle, its rows end in scalar edge stores, and unfolding the input
 * costs more than the product. Here 16 output pixels of a row sit in the lanes of a vector, each filter
 * has its own accumulator, and the input row is read in place from a zero-padded copy: every input value
 * feeds all filters at once.
 *
 * Bits: each output is accumulated over the field in the GEMM's order ((ky, kx) row-major, one
 * multiply-add each, padding included as zeros) from zero, within one K block, and finished by the same
 * epilogue arithmetic, so the result equals dk_im2col + dk_sgemm_bias_activation bit for bit, for any
 * thread count.
 */
#include "internal.h"

#include <stddef.h>

#define LANES 16        /* output pixels per accumulator */
#define MAX_FILTERS 16  /* accumulators: one per filter */
#define SCRATCH_FLOATS ((size_t)1 << 20)

/* Vector types (as in gemm_kernel.h), so each accumulator is one vector on every path rather than
 * whatever the auto-vectorizer makes of a 2-D array. */
typedef float lanes_vec __attribute__((vector_size(LANES * 4)));
typedef float lanes_vecu __attribute__((vector_size(LANES * 4), aligned(4), __may_alias__));

static dk_scratch_pool g_direct = {.floats = SCRATCH_FLOATS};

/* A padded input row: every LANES-wide load of an output block, at any kx, stays inside it. */
static size_t padded_row(const dk_window *w) { return (size_t)(w->out_w + LANES - 1) / LANES * LANES + w->kernel_w; }

int dk__conv2d_direct_applies(const dk_window *w, int out_channels) {
    size_t field = (size_t)w->kernel_h * w->kernel_w;
    size_t scratch = field * MAX_FILTERS + (size_t)w->kernel_h * padded_row(w);
    return w->channels == 1 && w->stride_w == 1 && out_channels >= 1 && out_channels <= MAX_FILTERS &&
           field <= (size_t)dk__blocking(dk__isa()).kc && scratch <= SCRATCH_FLOATS;
}

typedef struct {
    float *out;
    const float *inp, *weight, *bias;
    const dk_window *w;
    int oc;
    dk_activation act;
    float act_alpha;
} direct_args;

/* The GEMM's tile-store epilogue for the activations it applies there (see gemm_kernel.h). */
DK_INLINE float tile_epilogue(float x, const float *bias, int f, dk_activation act, float slope) {
    if (bias) x = x + bias[f];
    if (act == DK_ACT_RELU) return x < 0.0f ? 0.0f : x;
    if (act == DK_ACT_LEAKY_RELU) return x < 0.0f ? slope * x : x;
    return x;
}

/* Output rows [r0, r1) (row = image * out_h + oy). */
DK_KERNEL(static, direct_rows, (void *p, size_t r0, size_t r1), (p, r0, r1)) {
    const direct_args *a = p;
    const dk_window *w = a->w;
    const int kh = w->kernel_h, kw = w->kernel_w, ow = w->out_w, n = a->oc;
    const size_t span = padded_row(w), field = (size_t)kh * kw;
    const int in_tiles = a->act == DK_ACT_IDENTITY || a->act == DK_ACT_RELU || a->act == DK_ACT_LEAKY_RELU;
    int slot;
    float *mem = dk__scratch_claim(&g_direct, (int)r0, &slot);
    float *restrict filters = mem;                      /* field x MAX_FILTERS, zeros past n */
    float *restrict rows = mem + field * MAX_FILTERS;   /* kh padded input rows */
    for (size_t k = 0; k < field; k++)
        for (int f = 0; f < MAX_FILTERS; f++) filters[k * MAX_FILTERS + f] = f < n ? a->weight[k * n + f] : 0.0f;
    for (size_t row = r0; row < r1; row++) {
        size_t image = row / (size_t)w->out_h;
        int oy = (int)(row % (size_t)w->out_h);
        const float *in = a->inp + image * (size_t)w->height * w->width;
        for (int ky = 0; ky < kh; ky++) {
            /* Element j of padded row ky is input column j - pad_left of image row iy, or zero outside. */
            float *restrict dst = rows + ky * span;
            int iy = oy * w->stride_h - w->pad_top + ky;
            for (size_t j = 0; j < span; j++) {
                int ix = (int)j - w->pad_left;
                dst[j] = iy >= 0 && iy < w->height && ix >= 0 && ix < w->width ? in[(size_t)iy * w->width + ix] : 0.0f;
            }
        }
        float *out_row = a->out + row * (size_t)ow * n;
        for (int ox0 = 0; ox0 < ow; ox0 += LANES) {
            lanes_vec acc[MAX_FILTERS];
            for (int f = 0; f < MAX_FILTERS; f++) acc[f] = (lanes_vec){0};
            for (int ky = 0; ky < kh; ky++)
                for (int kx = 0; kx < kw; kx++) {
                    lanes_vec v = *(const lanes_vecu *)(rows + ky * span + ox0 + kx);
                    const float *restrict wk = filters + (size_t)(ky * kw + kx) * MAX_FILTERS;
                    for (int f = 0; f < MAX_FILTERS; f++) acc[f] += wk[f] * v;
                }
            int lanes = ow - ox0 < LANES ? ow - ox0 : LANES;
            for (int l = 0; l < lanes; l++) {
                float *o = out_row + (size_t)(ox0 + l) * n;
                for (int f = 0; f < n; f++)
                    o[f] = in_tiles ? tile_epilogue(acc[f][l], a->bias, f, a->act, a->act_alpha) : acc[f][l];
            }
        }
        /* The exp-based activations, as the GEMM applies them: on the stored values afterwards. */
        if (!in_tiles) dk__bias_activation_block(out_row, n, ow, n, a->bias, a->act, a->act_alpha);
    }
    dk__scratch_release(&g_direct, slot);
}

void dk__conv2d_forward_direct(float *out, const float *inp, const float *weight, const float *bias, int out_channels,
                               const dk_window *w, dk_activation act, float act_alpha) {
    direct_args a = {out, inp, weight, bias, w, out_channels, act, act_alpha};
    dk__parallel_for((size_t)w->batch * w->out_h, 8, 1, direct_rows, &a);
}
