/*
 * The weight and bias gradients of a greyscale ReLU convolution whose output only a 2x2 max pool of
 * stride 2 reads (LeNet-5's first layer). The pool hands each window's gradient, per filter, to one
 * pixel (its first largest, if positive: the ReLU's derivative), so at least three quarters of the
 * convolution's output gradient are zeros. The unfused path writes that gradient whole
 * (dk_maxpool_relu_backward), sums it for the bias and multiplies every pixel of it into the weight
 * gradient; here each pooled gradient goes straight into the window of its pixel: a quarter of the
 * multiply-adds, and the output gradient is never written or read.
 *
 * Per image: a zero-padded copy of it; then, per pooled pixel and filter, where the gradient lands and
 * how much ("codes", recomputed from the convolution's output as the pool's backward does); then, for
 * groups of filters, every code's window row by row: 8 lanes hold a kernel row (up to 8 taps), and a
 * group's filters x kernel rows of accumulators stay in registers.
 *
 * Bits: not those of the unfused path (the terms are summed in another order, the zeros left out);
 * the same for any thread count: the images are cut into PARTS fixed parts, each part sums its pooled
 * pixels in order (images, rows, columns), and the parts' sums are added in part order.
 */
#include "internal.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define PARTS 16
#define TAPS 8         /* lanes of a kernel row: kernels up to 8 wide */
#define MAX_ROWS 8     /* kernel rows */
#define MAX_FILTERS 16
#define SCRATCH_FLOATS ((size_t)1 << 18)
/* Accumulators of a group of filters: with a row and a gradient, AVX2's 16 ymm registers. */
#define MAX_ACCUMULATORS 14
/* Filters per group for KH kernel rows. */
#define GROUP_FOR(KH) ((KH) > MAX_ACCUMULATORS / 2 ? 1 : MAX_ACCUMULATORS / (KH))

typedef float row_vec __attribute__((vector_size(TAPS * 4)));
typedef float row_vecu __attribute__((vector_size(TAPS * 4), aligned(4), __may_alias__));

/* A part's sums: per filter (up to a whole last group), per kernel row, TAPS lanes; then the bias's. */
#define SUM_FILTERS (MAX_FILTERS + MAX_ACCUMULATORS)
#define PART_FLOATS (SUM_FILTERS * MAX_ROWS * TAPS + SUM_FILTERS)

static dk_scratch_pool g_images = {.floats = SCRATCH_FLOATS};
static dk_scratch_pool g_parts = {.floats = PARTS * PART_FLOATS};

/* Padded rows wide enough for a TAPS-float load at every output column. */
static size_t padded_span(const dk_window *w) {
    size_t reach = dk__window_reach_w(w), loads = (size_t)w->out_w - 1 + TAPS;
    return reach > loads ? reach : loads;
}


/* A pooled row's winners take a lane per float of a convolution row (see row_winners), plus a group's slack. */
static size_t winner_row(const dk_window *w, int out_channels) { return (size_t)w->out_w * out_channels + MAX_ACCUMULATORS; }

/* A worker's scratch: the padded image, then the winners of the image's pooled rows. */
static size_t image_floats(const dk_window *w, int out_channels) {
    return dk__window_reach_h(w) * padded_span(w) + (size_t)(w->out_h / 2) * winner_row(w, out_channels);
}

int dk_conv2d_relu_maxpool_weight_applies(const dk_window *w, int out_channels) {
    return w->channels == 1 && w->stride_h == 1 && w->stride_w == 1 && w->kernel_w >= 1 && w->kernel_w <= TAPS &&
           w->kernel_h >= 1 && w->kernel_h <= MAX_ROWS && out_channels >= 1 && out_channels <= MAX_FILTERS &&
           w->out_h >= 2 && w->out_w >= 2 && w->batch >= 1 && image_floats(w, out_channels) <= SCRATCH_FLOATS;
}

typedef struct {
    float *parts;
    const float *dpool, *conv_out, *inp;
    const dk_window *w;
    int oc;
} pooled_args;

/* Which pixel of each 2x2 window of rows r0 and r1 (n floats each: pixels of oc filters) gets its
 * gradient: winners[e] for the lane e = 2 * px * oc + f of the window's left pixels (the lanes of the right
 * ones are filled too, and unused) is 0..3, the first strictly largest of its four values in row-major order,
 * or -1 if none is positive (the ReLU's derivative keeps nothing), as dk_maxpool_relu_backward picks it.
 * A lane per float, so that LeNet's 6 filters still fill the vectors. */
static void row_winners(int *restrict winners, const float *restrict r0, const float *restrict r1, size_t n,
                        size_t lanes, size_t oc) {
    size_t e = 0;
    for (; e + oc < n; e++) {
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
    for (; e < lanes; e++) winners[e] = -1; /* the last pixel's lanes, and those a group's padding reads */
}

/* v if keep is 1, +0 if it is 0, without a branch: which pixel wins is data, and a branch on it
 * mispredicts about every other window. */
DK_INLINE float keep_if(float v, int keep) {
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    bits &= 0u - (uint32_t)keep;
    memcpy(&v, &bits, sizeof v);
    return v;
}

/* sums[f][ky] += each pooled pixel's gradient times row ky of the window it lands on, for the FG filters
 * from f0 of which nf are real (FG, KH constants, FG * KH <= MAX_ACCUMULATORS: one array of accumulators,
 * which stays in registers where a 2-D one would not); bias[f] += the gradients. The gradient is 0 + d, as
 * the unfused path stores it, or +0 where no pixel wins. */
DK_INLINE void group_windows(float *restrict sums, float *restrict bias, const int *restrict winners,
                             const float *restrict d, const float *padded, const dk_window *w, size_t oc,
                             size_t span, int f0, int nf, const int FG, const int KH) {
#define EACH_ACC(j, ky)                                                                                          \
    _Pragma("clang loop unroll(full)") for (int j = 0; j < FG; j++)                                              \
        _Pragma("clang loop unroll(full)") for (int ky = 0; ky < KH; ky++)
    const size_t ph = (size_t)(w->out_h / 2), pw = (size_t)(w->out_w / 2), row = winner_row(w, (int)oc);
    const ptrdiff_t corner[4] = {0, 1, (ptrdiff_t)span, (ptrdiff_t)span + 1};
    row_vec acc[MAX_ACCUMULATORS];
    float bacc[MAX_ACCUMULATORS];
    EACH_ACC(j, ky) acc[j * KH + ky] = *(const row_vecu *)(sums + ((size_t)(f0 + j) * MAX_ROWS + ky) * TAPS);
    _Pragma("clang loop unroll(full)") for (int j = 0; j < FG; j++) bacc[j] = bias[f0 + j];
    for (size_t py = 0; py < ph; py++) {
        const int *win = winners + py * row + f0;
        for (size_t px = 0; px < pw; px++, win += 2 * oc, d += oc) {
            const float *base = padded + 2 * py * span + 2 * px;
            _Pragma("clang loop unroll(full)") for (int j = 0; j < FG; j++) {
                const int at = win[j], wins = (at >= 0) & (j < nf);
                const float g = keep_if(0.0f + d[f0 + j], wins);
                const float *window = base + corner[at & 3];
                bacc[j] += g;
                _Pragma("clang loop unroll(full)") for (int ky = 0; ky < KH; ky++)
                    acc[j * KH + ky] += g * *(const row_vecu *)(window + (size_t)ky * span);
            }
        }
    }
    EACH_ACC(j, ky) *(row_vecu *)(sums + ((size_t)(f0 + j) * MAX_ROWS + ky) * TAPS) = acc[j * KH + ky];
    _Pragma("clang loop unroll(full)") for (int j = 0; j < FG; j++) bias[f0 + j] = bacc[j];
#undef EACH_ACC
}

DK_KERNEL(static, pooled_parts, (void *p, size_t p0, size_t p1), (p, p0, p1)) {
    const pooled_args *a = p;
    const dk_window *w = a->w;
    const int kh = w->kernel_h, group = GROUP_FOR(kh);
    const size_t span = padded_span(w), batch = (size_t)w->batch, oc = (size_t)a->oc, ow = (size_t)w->out_w;
    const size_t ph = (size_t)(w->out_h / 2), row = winner_row(w, a->oc), out_len = (size_t)w->out_h * ow * oc;
    int slot;
    float *padded = dk__scratch_claim(&g_images, (int)p0, &slot);
    int *winners = (int *)(padded + dk__window_reach_h(w) * span);
    for (size_t part = p0; part < p1; part++) {
        float *sums = a->parts + part * PART_FLOATS, *bias = sums + SUM_FILTERS * MAX_ROWS * TAPS;
        memset(sums, 0, PART_FLOATS * sizeof(float));
        for (size_t image = part * batch / PARTS; image < (part + 1) * batch / PARTS; image++) {
            dk__pad_image(padded, span, a->inp, image, w);
            const float *out = a->conv_out + image * out_len, *d = a->dpool + image * ph * (size_t)(w->out_w / 2) * oc;
            for (size_t py = 0; py < ph; py++)
                row_winners(winners + py * row, out + 2 * py * ow * oc, out + (2 * py + 1) * ow * oc, ow * oc, row, oc);
            for (int f0 = 0; f0 < a->oc; f0 += group) {
                const int nf = a->oc - f0 < group ? a->oc - f0 : group;
#define DK_GROUP(KH) group_windows(sums, bias, winners, d, padded, w, oc, span, f0, nf, GROUP_FOR(KH), KH)
                switch (kh) {
                case 1: DK_GROUP(1); break;
                case 2: DK_GROUP(2); break;
                case 3: DK_GROUP(3); break;
                case 4: DK_GROUP(4); break;
                case 5: DK_GROUP(5); break;
                case 6: DK_GROUP(6); break;
                case 7: DK_GROUP(7); break;
                default: DK_GROUP(8); break;
                }
#undef DK_GROUP
            }
        }
    }
    dk__scratch_release(&g_images, slot);
}

void dk_conv2d_relu_maxpool_backward_weight(float *dweight, float *dbias, const float *dpool, const float *conv_out,
                                            const float *inp, int out_channels, const dk_window *w,
                                            int accumulate_weight, int accumulate_bias) {
    int slot;
    float *parts = dk__scratch_claim(&g_parts, 0, &slot);
    pooled_args a = {parts, dpool, conv_out, inp, w, out_channels};
    dk__parallel_for(PARTS, 1, 1, pooled_parts, &a);
    /* The parts' sums in part order, then onto the gradients. */
    const size_t oc = (size_t)out_channels, kw = (size_t)w->kernel_w;
    for (size_t f = 0; f < oc; f++) {
        for (size_t ky = 0; ky < (size_t)w->kernel_h; ky++)
            for (size_t kx = 0; kx < kw; kx++) {
                const size_t at = (f * MAX_ROWS + ky) * TAPS + kx;
                float s = parts[at];
                for (size_t part = 1; part < PARTS; part++) s += parts[part * PART_FLOATS + at];
                float *dst = dweight + (ky * kw + kx) * oc + f;
                *dst = accumulate_weight ? *dst + s : s;
            }
        const size_t at = SUM_FILTERS * MAX_ROWS * TAPS + f;
        float s = parts[at];
        for (size_t part = 1; part < PARTS; part++) s += parts[part * PART_FLOATS + at];
        dbias[f] = accumulate_bias ? dbias[f] + s : s;
    }
    dk__scratch_release(&g_parts, slot);
}
