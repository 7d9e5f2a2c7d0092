/*
 * Forward of convolutions with at most 64 filters: LeNet-5's second layer (16 filters of 5x5 over 6
 * channels), the `cnn` preset's first and second (32 of 3x3 over 1, 64 of 3x3 over 32). As a
 * GEMM, the input is first unfolded into rows, a copy kernel_h * kernel_w times the image, written and
 * read again for every product; and 16 filters fill half of the micro-kernel's 32-wide tile. Here the
 * filters sit in the lanes, each window is read where it lies (a kernel row of a window is kernel_w * C
 * contiguous floats of the image, of a zero-padded copy when the layer pads), and a tile of output
 * pixels along a row has its accumulators in registers:
 *   - up to 16 filters over several channels: one vector, PIXELS_ONE pixels (PIXELS_ONE_AVX512 on the
 *     AVX-512 path), on every code path (over one channel, conv_direct.c puts the pixels in the lanes
 *     instead);
 *   - up to 64: groups of 32 filters in two vectors, PIXELS_TWO pixels (24 of AVX-512's 32 registers),
 *     on the AVX-512 path only (with 8-float registers such a tile would spill: there the GEMM runs).
 * A band of output rows shares each group's weights of one K block while they are in L1.
 *
 * Bits: the field is cut in dk_sgemm's K blocks; in each, an output's multiply-add chain runs in
 * (ky, kx, c) order from zero, and the blocks' sums are added to the stored output in block order, then
 * the GEMM's tile epilogue; so the results equal dk_im2col + dk_sgemm_bias_activation bit for bit, for
 * any thread count.
 */
#include "conv_lanes.h"

#include <stddef.h>

#define PIXELS_ONE 8         /* output pixels of a one-vector tile: 16 registers on the AVX2 path, all it has */
#define PIXELS_ONE_AVX512 12 /* with 32 registers: LeNet-5's rows of 10 pixels in one tile of 10 chains */
#define PIXELS_TWO 12        /* output pixels of a two-vector tile */
#define GROUP_TWO (2 * LANES)
#define MAX_FILTERS (2 * GROUP_TWO)
#define BAND_ROWS 4    /* output rows that share one group's K block of weights */
#define SCRATCH_FLOATS ((size_t)1 << 20)

static dk_scratch_pool g_narrow = {.floats = SCRATCH_FLOATS};

static size_t field_floats(const dk_window *w) { return (size_t)w->kernel_h * w->kernel_w * w->channels; }

/* Filters per group: the vectors a tile holds, in floats. */
static int group_floats(int out_channels) { return out_channels <= LANES ? LANES : GROUP_TWO; }

static size_t scratch_floats(const dk_window *w, int out_channels) {
    size_t group = (size_t)group_floats(out_channels), groups = ((size_t)out_channels + group - 1) / group;
    size_t padded = dk__window_reads_padding(w) ? dk__window_reach_h(w) * dk__window_reach_w(w) * (size_t)w->channels : 0;
    return (field_floats(w) + 1) * group * groups + padded;
}

int dk__conv2d_narrow_applies(const dk_window *w, int out_channels) {
    int lanes_fit = out_channels <= LANES || (out_channels <= MAX_FILTERS && dk__isa() == DK_ISA_AVX512);
    return (w->channels > 1 || out_channels > LANES) && out_channels >= 1 && lanes_fit && w->out_w > 0 &&
           scratch_floats(w, out_channels) <= SCRATCH_FLOATS;
}

/* Where a tile's windows lie: window i of the tile starts at window + i * pixel_step, its kernel rows
 * `run` floats long and `line` floats apart. */
typedef struct {
    size_t line, pixel_step, run;
} window_shape;

/* Field floats [k0, k1) of the chains of P output pixels (P, V constants at each call) for V vectors of
 * filters; weights holds the group's field rows of V * LANES floats. The sums of n filters go to
 * out + i * oc: stored when `first`, else added to what is there, as a later K block of the GEMM; when
 * `last`, then + bias and ReLU or leaky ReLU, as its tile epilogue. */
DK_INLINE void tile(float *out, size_t oc, int n, const float *window, window_shape s, size_t k0, size_t k1,
                    const float *weights, int first, int last, const float *bias, dk_activation act, float slope,
                    const int P, const int V) {
#define EACH_PIXEL _Pragma("clang loop unroll(full)") for (int i = 0; i < P; i++)
    lanes_vec acc[PIXELS_TWO][2]; /* the widest tile of either width (PIXELS_ONE_AVX512 is no wider) */
    EACH_PIXEL acc[i][0] = acc[i][1] = (lanes_vec){0};
    const float *wk = weights + k0 * (size_t)(V * LANES);
    size_t ky = k0 / s.run, t = k0 % s.run;
    for (size_t k = k0; k < k1; ky++, t = 0) {
        const float *src = window + ky * s.line;
        size_t end = s.run - t < k1 - k ? s.run : t + (k1 - k);
        k += end - t;
        /* Pixel i's float at row_at(src + t, ...): one pointer to advance, the others at strides held in
         * registers, which the loads' addresses add themselves. */
        ptrdiff_t r1 = (ptrdiff_t)(s.pixel_step * sizeof(float)), r3 = 3 * r1, r5 = 5 * r1, r7 = 7 * r1;
        for (; t < end; t++, wk += V * LANES) {
            if (P > 2) __asm__("" : "+r"(r1), "+r"(r3), "+r"(r5), "+r"(r7));
            lanes_vec w0 = *(const lanes_vec *)wk, w1 = V > 1 ? *(const lanes_vec *)(wk + LANES) : w0;
            EACH_PIXEL {
                float x = *row_at(src + t, r1, r3, r5, r7, i);
                acc[i][0] += x * w0;
                if (V > 1) acc[i][1] += x * w1;
            }
        }
    }
    EACH_PIXEL _Pragma("clang loop unroll(full)") for (int v = 0; v < V; v++) {
        float *o = out + (size_t)i * oc + (size_t)v * LANES;
        int lanes = n - v * LANES;
        if (lanes <= 0) continue;
        lanes_vec x = acc[i][v];
        if (!first) { /* the sums of earlier K blocks */
            lanes_vec stored;
            lanes_load_first(&stored, o, lanes);
            x = stored + x;
        }
        if (last) {
            if (bias) x = x + *(const lanes_vec *)(bias + v * LANES);
            lanes_activate(&x, act, slope);
        }
        lanes_store_first(o, &x, lanes);
    }
#undef EACH_PIXEL
}

/* One output row's pixels for K block [k0, k1) of one group (V vectors), in the fewest tiles of at most
 * `pixels_one` (V = 1) or PIXELS_TWO (V = 2) pixels, of about equal widths: a narrow last tile has too few
 * chains to hide its multiply-adds' latency (LeNet's rows of 10 pixels went 8 + 1 + 1, each of the last two
 * a single chain, and took 40 % of the time; 5 + 5 still leave the two FMA pipes half idle). */
DK_INLINE void row_tiles(float *out, size_t oc, int n, int ow, const float *top, window_shape s, size_t k0,
                         size_t k1, const float *weights, int first, int last, const float *bias, dk_activation act,
                         float slope, int pixels_one, const int V) {
    const int P = V == 1 ? pixels_one : PIXELS_TWO, tiles = (ow + P - 1) / P;
    for (int t = 0, ox = 0; t < tiles; t++) {
        const int width = (ow - ox) / (tiles - t);
        float *o = out + (size_t)ox * oc;
        const float *window = top + (size_t)ox * s.pixel_step;
        /* The width as a constant, so that each gets its own unrolled tile. */
#define DK_TILE(W) tile(o, oc, n, window, s, k0, k1, weights, first, last, bias, act, slope, W, V)
        switch (width) {
            DK_CASES_7_TO_12(DK_TILE)
            DK_CASES_1_TO_6(DK_TILE)
        }
#undef DK_TILE
        ox += width;
    }
}

/* Output rows [r0, r1) (row = image * out_h + oy), in bands of up to BAND_ROWS rows of one image. */
DK_KERNEL(static, narrow_rows, (void *p, size_t r0, size_t r1), (p, r0, r1)) {
    const dk__conv_forward *a = p;
    const dk_window *w = a->w;
    const size_t C = (size_t)w->channels, field = field_floats(w), oc = (size_t)a->oc;
    const int ow = w->out_w, padding = dk__window_reads_padding(w), group = group_floats(a->oc);
    const int groups = (a->oc + group - 1) / group;
    const window_shape s = {(padding ? dk__window_reach_w(w) : (size_t)w->width) * C, (size_t)w->stride_w * C,
                            (size_t)w->kernel_w * C};
    const size_t image_floats = (size_t)w->height * w->width * C;
    const size_t kc = (size_t)dk__blocking(dk__isa()).kc, blocks = (field + kc - 1) / kc;
    const size_t step = (field + blocks - 1) / blocks;
    const int pixels_one = dk__isa() == DK_ISA_AVX512 ? PIXELS_ONE_AVX512 : PIXELS_ONE;
    int slot;
    float *weights = dk__scratch_claim(&g_narrow, (int)r0, &slot);
    const float *biases;
    dk_activation act;
    float *restrict padded = lanes_forward_setup(weights, a, field, group, &biases, &act); /* when the layer pads */
    size_t padded_image = (size_t)-1;
    for (size_t row = r0, band_end; row < r1; row = band_end) {
        const size_t image = row / (size_t)w->out_h, oy = row % (size_t)w->out_h;
        band_end = row + BAND_ROWS;
        if (band_end > r1) band_end = r1;
        if (band_end > (image + 1) * (size_t)w->out_h) band_end = (image + 1) * (size_t)w->out_h;
        if (padding && image != padded_image) dk__pad_image(padded, dk__window_reach_w(w), a->inp, image, w);
        padded_image = image;
        const float *image_top = padding ? padded : a->inp + image * image_floats;
        for (int g = 0; g < groups; g++) {
            const int n = a->oc - g * group < group ? a->oc - g * group : group;
            const float *gw = weights + (size_t)g * field * (size_t)group;
            const float *bias = biases ? biases + (size_t)g * group : NULL;
            for (size_t b = 0; b < blocks; b++) {
                size_t k0 = b * step, k1 = k0 + step < field ? k0 + step : field;
                for (size_t r = row; r < band_end; r++) {
                    const float *top = image_top + (oy + (r - row)) * (size_t)w->stride_h * s.line;
                    float *out = a->out + r * (size_t)ow * oc + (size_t)g * group;
                    if (group == LANES)
                        row_tiles(out, oc, n, ow, top, s, k0, k1, gw, b == 0, b == blocks - 1, bias, act,
                                  a->act_alpha, pixels_one, 1);
                    else
                        row_tiles(out, oc, n, ow, top, s, k0, k1, gw, b == 0, b == blocks - 1, bias, act,
                                  a->act_alpha, pixels_one, 2);
                }
            }
        }
        /* The exp-based activations, as the GEMM applies them: on the stored values afterwards. */
        if (!lanes_in_tiles(a->act))
            dk__bias_activation_block(a->out + row * (size_t)ow * oc, a->oc, (int)((band_end - row) * ow), a->oc,
                                      a->bias, a->act, a->act_alpha);
    }
    dk__scratch_release(&g_narrow, slot);
}

void dk__conv2d_forward_narrow(const dk__conv_forward *a) {
    dk__parallel_for((size_t)a->w->batch * a->w->out_h, 8, 1, narrow_rows, (void *)a);
}
