/*
 * Direct kernels for thin convolutions on one input channel (a greyscale image's first layer, as in
 * LeNet-5: 6 filters of 5x5). As a GEMM, such a layer multiplies a 25-float field by 6 columns: the
 * micro-kernel's 32-wide tile is 81 % idle, its rows end in scalar edge stores, and unfolding the input
 * (one short run per window row) costs more than the products.
 *   forward: 16 output pixels of a row sit in the lanes of a vector, each filter has its own
 *     accumulator, and the input row is read from a zero-padded copy: every input value feeds all
 *     filters at once.
 *   weight gradient: the filters sit in the lanes, each of up to 16 field positions has its own
 *     accumulator, and each pixel's window is read from a zero-padded copy of its image.
 *
 * Bits: each output is accumulated in the GEMM's order, one multiply-add per term, padding included as
 * zeros, from zero within each of the GEMM's K blocks (the forward: one block over the field; the weight
 * gradient: dk_sgemm's blocks of pixels, each added to dweight as the GEMM adds them), and finished by
 * the same epilogue arithmetic; so the results equal dk_im2col + dk_sgemm(_bias_activation) bit for bit,
 * for any thread count.
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
    size_t padded_image = (size_t)((w->out_h - 1) * w->stride_h + w->kernel_h) * (size_t)(w->out_w + w->kernel_w - 1);
    size_t scratch = field * MAX_FILTERS + (size_t)w->kernel_h * padded_row(w);
    if (padded_image > scratch) scratch = padded_image;
    return w->channels == 1 && w->stride_w == 1 && out_channels >= 1 && out_channels <= MAX_FILTERS &&
           field <= (size_t)dk__blocking(dk__isa()).kc && scratch <= SCRATCH_FLOATS;
}

/* The GEMM's tile-store epilogue for the activations it applies there (see gemm_kernel.h). */
DK_INLINE float tile_epilogue(float x, const float *bias, int f, dk_activation act, float slope) {
    if (bias) x = x + bias[f];
    if (act == DK_ACT_RELU) return x < 0.0f ? 0.0f : x;
    if (act == DK_ACT_LEAKY_RELU) return x < 0.0f ? slope * x : x;
    return x;
}

/* Output rows [r0, r1) (row = image * out_h + oy). */
DK_KERNEL(static, direct_rows, (void *p, size_t r0, size_t r1), (p, r0, r1)) {
    const dk__conv_forward *a = p;
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

void dk__conv2d_forward_direct(const dk__conv_forward *a) {
    dk__parallel_for((size_t)a->w->batch * a->w->out_h, 8, 1, direct_rows, (void *)a);
}

/* ---------------------------------------------------------------- weight gradient */

#define FIELD_GROUP 16  /* field positions per pass: one accumulator each */

/* Groups [g0, g1) of FIELD_GROUP field positions. */
DK_KERNEL(static, direct_weight_groups, (void *p, size_t g0, size_t g1), (p, g0, g1)) {
    const dk__conv_weight *a = p;
    const dk_window *w = a->w;
    const int kw = w->kernel_w, ow = w->out_w, n = a->oc;
    const size_t field = (size_t)w->kernel_h * kw, per_image = (size_t)w->out_h * ow;
    const size_t m = (size_t)w->batch * per_image;
    /* One image, zero-padded so that every window reads inside it: row y, column x of the padded image
     * is input row y - pad_top, column x - pad_left. */
    const int pw = ow + kw - 1, ph = (w->out_h - 1) * w->stride_h + w->kernel_h;
    int slot;
    float *restrict padded = dk__scratch_claim(&g_direct, (int)g0, &slot);
    for (size_t g = g0; g < g1; g++) {
        const size_t k0 = g * FIELD_GROUP, count = field - k0 < FIELD_GROUP ? field - k0 : FIELD_GROUP;
        int offset[FIELD_GROUP]; /* each position's place in a window of the padded image */
        for (size_t j = 0; j < FIELD_GROUP; j++) {
            size_t k = k0 + (j < count ? j : 0);
            offset[j] = (int)(k / (size_t)kw) * pw + (int)(k % (size_t)kw);
        }
        size_t image = (size_t)-1;
        for (size_t b = 0; b < a->blocks; b++) {
            size_t r0 = b * a->step, r1 = r0 + a->step < m ? r0 + a->step : m;
            lanes_vec acc[FIELD_GROUP];
            for (int j = 0; j < FIELD_GROUP; j++) acc[j] = (lanes_vec){0};
            for (size_t r = r0; r < r1; r++) {
                if (r / per_image != image) {
                    image = r / per_image;
                    const float *in = a->inp + image * (size_t)w->height * w->width;
                    for (int y = 0; y < ph; y++)
                        for (int x = 0; x < pw; x++) {
                            int iy = y - w->pad_top, ix = x - w->pad_left;
                            padded[(size_t)y * pw + x] = iy >= 0 && iy < w->height && ix >= 0 && ix < w->width
                                ? in[(size_t)iy * w->width + ix] : 0.0f;
                        }
                }
                size_t pixel = r % per_image;
                const float *window = padded + (pixel / (size_t)ow) * w->stride_h * (size_t)pw + pixel % (size_t)ow;
                float row[LANES] = {0};
                for (int f = 0; f < n; f++) row[f] = a->dout[r * (size_t)n + f];
                lanes_vec d = *(const lanes_vecu *)row;
                for (int j = 0; j < FIELD_GROUP; j++) acc[j] += window[offset[j]] * d;
            }
            /* As the GEMM stores a K block: C = acc, or C + acc (beta 1, and every later block). */
            float beta = b == 0 ? a->beta : 1.0f;
            for (size_t j = 0; j < count; j++) {
                float *c = a->dweight + (k0 + j) * (size_t)n;
                for (int f = 0; f < n; f++) c[f] = beta == 0.0f ? acc[j][f] : c[f] + acc[j][f];
            }
        }
    }
    dk__scratch_release(&g_direct, slot);
}

void dk__conv2d_backward_weight_direct(const dk__conv_weight *a) {
    size_t field = (size_t)a->w->kernel_h * a->w->kernel_w;
    dk__parallel_for((field + FIELD_GROUP - 1) / FIELD_GROUP, 1, 1, direct_weight_groups, (void *)a);
}
