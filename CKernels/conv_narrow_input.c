/*
 * Input gradient of convolutions with at most 16 filters (LeNet-5's second layer: 16 filters of 5x5
 * over 6 channels), and on the AVX-512 path at most 64 (the `cnn` preset's second layer). As
 * conv_gemm.c computes it, dcol = dout · weight^T is a GEMM whose K is the filter count (16: a sliver of
 * the micro-kernel's work per tile), written out by chunks of rows into L2 and read back by col2im. Here
 * a few pixels' unfolded gradients are made at a time, 16 field positions to a vector, from the pixels'
 * dout values broadcast against the transposed weights, and added straight into their windows of the
 * image (of a zero-padded copy when the layer pads, whose interior is then copied out) while they are in
 * L1. With up to 16 filters the chains are short: a pair of pixels by 8 field vectors (10 with AVX-512's
 * 32 registers) keeps enough of them in flight. With more, 8 pixels by 2 field vectors share each weight
 * load, as the GEMM's tile does.
 *
 * Bits: each unfolded element is one multiply-add chain over the filters in order from zero, as the
 * GEMM computes it (its K, the filter count, is one block), and the image gets them added pixel by
 * pixel in order from zero, as col2im adds them; so the results equal dk_conv2d_backward_input's GEMM
 * path bit for bit, for any thread count (each image is one thread's).
 */
#include "conv_lanes.h"

#include <stddef.h>
#include <string.h>

#define NARROW_FILTERS LANES
#define MAX_FILTERS (4 * LANES)
#define NARROW_VECTORS 8 /* field vectors per pass over the filters, up to 16 filters */
#define NARROW_VECTORS_AVX512 10 /* the same with 32 registers: LeNet-5's 10 field vectors in one pass */
#define NARROW_PIXELS 2  /* pixels per pass, up to 16 filters */
#define WIDE_VECTORS 2   /* the same with more filters */
#define WIDE_PIXELS 8
#define WIDE_GROUP (3 * WIDE_PIXELS) /* pixels made together with more filters */
#define SCRATCH_FLOATS ((size_t)1 << 20)

static dk_scratch_pool g_input = {.floats = SCRATCH_FLOATS};

static size_t field_floats(const dk_window *w) { return (size_t)w->kernel_h * w->kernel_w * w->channels; }
/* The field rounded up to whole vectors: the transposed weights' row length. */
static size_t field_vectors(const dk_window *w) { return (field_floats(w) + LANES - 1) / LANES; }
static size_t padded_floats(const dk_window *w) {
    return dk__window_reads_padding(w) ? dk__window_reach_h(w) * dk__window_reach_w(w) * (size_t)w->channels : 0;
}

int dk__conv2d_narrow_input_applies(const dk_window *w, int out_channels) {
    size_t scratch = (size_t)(MAX_FILTERS + WIDE_GROUP) * field_vectors(w) * LANES + padded_floats(w);
    int lanes_fit = out_channels <= NARROW_FILTERS || (out_channels <= MAX_FILTERS && dk__isa() == DK_ISA_AVX512);
    return out_channels >= 1 && lanes_fit && w->out_h > 0 && w->out_w > 0 &&
           out_channels <= dk__blocking(dk__isa()).kc && scratch <= SCRATCH_FLOATS;
}

typedef struct {
    float *dinp;
    const float *dout, *weight;
    const dk_window *w;
    int oc;
} input_args;

/* Field vectors [0, V) of the unfolded gradients of P pixels (V and P constants at each call; pixel i's
 * dout row at d + i * n, its gradient at dst + i * stride): each the chain over the n filters of d[f]
 * times row f of the transposed weights (`stride` floats apart). Two pixels at a time keep enough
 * chains in flight when V is small: a chain waits on its last multiply-add. */
DK_INLINE void unfolded_vectors(float *dst, const float *d, const float *wt, size_t stride, int n, const int V,
                                const int P) {
    lanes_vec acc[WIDE_PIXELS][NARROW_VECTORS_AVX512];
    for (int i = 0; i < P; i++)
        for (int v = 0; v < V; v++) acc[i][v] = (lanes_vec){0};
    /* Pixel i's value at row_at(d, ...) (see there): left to itself, the compiler derives each pixel's
     * address from the one before, a chain of additions per filter as long as its multiply-adds. */
    ptrdiff_t r1 = (ptrdiff_t)n * (ptrdiff_t)sizeof(float), r3 = 3 * r1, r5 = 5 * r1, r7 = 7 * r1;
    for (int f = 0; f < n; f++, wt += stride, d++) {
        if (P > 2) __asm__("" : "+r"(r1), "+r"(r3), "+r"(r5), "+r"(r7));
        for (int v = 0; v < V; v++) {
            lanes_vec w = *(const lanes_vec *)(wt + (size_t)v * LANES);
            for (int i = 0; i < P; i++) acc[i][v] += *row_at(d, r1, r3, r5, r7, i) * w;
        }
    }
    for (int i = 0; i < P; i++)
        for (int v = 0; v < V; v++) *(lanes_vec *)(dst + (size_t)i * stride + (size_t)v * LANES) = acc[i][v];
}

/* The unfolded gradients of P pixels (1 or NARROW_PIXELS), every field vector, up to 16 filters; with 32
 * registers (`wide_registers`), NARROW_VECTORS_AVX512 vectors per pass first: 8 + 2 left 4 chains in the
 * second pass, each waiting on its last multiply-add. */
DK_INLINE void unfold_pixels(float *dst, const float *d, const float *wt, size_t stride, size_t vectors, int n,
                             int wide_registers, const int P) {
    size_t v = 0;
    for (; wide_registers && v + NARROW_VECTORS_AVX512 <= vectors; v += NARROW_VECTORS_AVX512)
        unfolded_vectors(dst + v * LANES, d, wt + v * LANES, stride, n, NARROW_VECTORS_AVX512, P);
    for (; v + NARROW_VECTORS <= vectors; v += NARROW_VECTORS)
        unfolded_vectors(dst + v * LANES, d, wt + v * LANES, stride, n, NARROW_VECTORS, P);
    if (v + 4 <= vectors) unfolded_vectors(dst + v * LANES, d, wt + v * LANES, stride, n, 4, P), v += 4;
    if (v + 2 <= vectors) unfolded_vectors(dst + v * LANES, d, wt + v * LANES, stride, n, 2, P), v += 2;
    if (v < vectors) unfolded_vectors(dst + v * LANES, d, wt + v * LANES, stride, n, 1, P);
}

/* Field vectors [v, v + V) of `count` pixels' unfolded gradients, with more filters: tiles of WIDE_PIXELS
 * pixels, then one at a time. */
DK_INLINE void unfold_wide_vectors(float *dst, const float *d, const float *wt, size_t stride, int n, size_t count,
                                   size_t v, const int V) {
    size_t i = 0;
    for (; i + WIDE_PIXELS <= count; i += WIDE_PIXELS)
        unfolded_vectors(dst + i * stride + v * LANES, d + i * n, wt + v * LANES, stride, n, V, WIDE_PIXELS);
    for (; i < count; i++) unfolded_vectors(dst + i * stride + v * LANES, d + i * n, wt + v * LANES, stride, n, V, 1);
}

/* Pixels [q, q + count) of an image (dout rows from d): their unfolded gradients, made together. */
DK_INLINE void unfold_group(float *dst, const float *d, const float *wt, size_t stride, size_t vectors, int n,
                            size_t count, int wide_registers) {
    if (n <= NARROW_FILTERS) {
        if (count == NARROW_PIXELS) unfold_pixels(dst, d, wt, stride, vectors, n, wide_registers, NARROW_PIXELS);
        else
            for (size_t i = 0; i < count; i++)
                unfold_pixels(dst + i * stride, d + i * n, wt, stride, vectors, n, wide_registers, 1);
    } else {
        /* Each pass's weights (n x WIDE_VECTORS vectors) stay in L1 while every tile of the group reads them;
         * all of them (73 KB for the `cnn` preset's conv2) would come from L2 for every tile. */
        size_t v = 0;
        for (; v + WIDE_VECTORS <= vectors; v += WIDE_VECTORS)
            unfold_wide_vectors(dst, d, wt, stride, n, count, v, WIDE_VECTORS);
        if (v < vectors) unfold_wide_vectors(dst, d, wt, stride, n, count, v, 1);
    }
}

typedef float run8 __attribute__((vector_size(32), aligned(4), __may_alias__));
typedef float run4 __attribute__((vector_size(16), aligned(4), __may_alias__));
typedef float run2 __attribute__((vector_size(8), aligned(4), __may_alias__));

/* dst[t] += src[t] for t < len: whole vectors, then a tail of 8, 4, 2 and 1. A kernel row is rarely a
 * multiple of 16 floats (LeNet's: 30), and the compiler left such a tail to a scalar loop that took a
 * quarter of the kernel's time. */
DK_INLINE void add_run(float *restrict dst, const float *restrict src, size_t len) {
    size_t t = 0;
    for (; t + LANES <= len; t += LANES) *(lanes_vecu *)(dst + t) += *(const lanes_vecu *)(src + t);
    if (len - t >= 8) *(run8 *)(dst + t) += *(const run8 *)(src + t), t += 8;
    if (len - t >= 4) *(run4 *)(dst + t) += *(const run4 *)(src + t), t += 4;
    if (len - t >= 2) *(run2 *)(dst + t) += *(const run2 *)(src + t), t += 2;
    if (t < len) dst[t] += src[t];
}

/* Adds pixel (oy, ox)'s unfolded gradient into its window of target (rows `line` floats apart). */
DK_INLINE void add_window(float *target, const float *unfolded, const dk_window *w, size_t line, int oy, int ox) {
    const size_t run = (size_t)w->kernel_w * w->channels;
    float *window = target + (size_t)oy * w->stride_h * line + (size_t)ox * w->stride_w * w->channels;
    for (int ky = 0; ky < w->kernel_h; ky++) add_run(window + (size_t)ky * line, unfolded + (size_t)ky * run, run);
}

/* Images [i0, i1). */
DK_KERNEL(static, narrow_input_images, (void *p, size_t i0, size_t i1), (p, i0, i1)) {
    const input_args *a = p;
    const dk_window *w = a->w;
    const int n = a->oc, padding = dk__window_reads_padding(w);
    const size_t C = (size_t)w->channels, field = field_floats(w);
    const size_t vectors = field_vectors(w), stride = vectors * LANES;
    const size_t image_floats = (size_t)w->height * w->width * C;
    const size_t line = (padding ? dk__window_reach_w(w) : (size_t)w->width) * C;
    int slot;
    float *mem = dk__scratch_claim(&g_input, (int)i0, &slot);
    float *restrict wt = mem;                                  /* n rows of `stride` floats, zeros past the field */
    float *restrict unfolded = wt + (size_t)MAX_FILTERS * stride; /* a group of pixels' gradients */
    float *restrict padded = unfolded + WIDE_GROUP * stride;  /* the image's gradient, when the layer pads */
    const size_t group = n <= NARROW_FILTERS ? NARROW_PIXELS : WIDE_GROUP;
    const int wide_registers = dk__isa() == DK_ISA_AVX512;
    for (int f = 0; f < n; f++)
        for (size_t k = 0; k < stride; k++) wt[(size_t)f * stride + k] = k < field ? a->weight[k * n + f] : 0.0f;
    for (size_t img = i0; img < i1; img++) {
        float *dimage = a->dinp + img * image_floats;
        float *target = padding ? padded : dimage;
        memset(target, 0, (padding ? padded_floats(w) : image_floats) * sizeof(float));
        /* Pixels in groups, a group's gradients made together, then added in pixel order. */
        const size_t pixels = (size_t)w->out_h * w->out_w;
        const float *d = a->dout + img * pixels * n;
        int oy = 0, ox = 0;
        for (size_t q = 0; q < pixels; q += group, d += group * (size_t)n) {
            size_t count = pixels - q < group ? pixels - q : group;
            unfold_group(unfolded, d, wt, stride, vectors, n, count, wide_registers);
            for (size_t i = 0; i < count; i++) {
                add_window(target, unfolded + (size_t)i * stride, w, line, oy, ox);
                if (++ox == w->out_w) ox = 0, oy++;
            }
        }
        if (padding) {
            /* The interior, and zeros for input pixels no window reaches. */
            const size_t cols = dk__window_reach_w(w), rows = dk__window_reach_h(w);
            memset(dimage, 0, image_floats * sizeof(float));
            for (int y = 0; y < w->height; y++) {
                size_t py = (size_t)y + w->pad_top;
                if (py >= rows) break;
                size_t x0 = (size_t)w->pad_left, x1 = cols < x0 + w->width ? cols : x0 + w->width;
                if (x1 > x0) memcpy(dimage + (size_t)y * w->width * C, padded + (py * cols + x0) * C, (x1 - x0) * C * sizeof(float));
            }
        }
    }
    dk__scratch_release(&g_input, slot);
}

void dk__conv2d_backward_input_narrow(float *dinp, const float *dout, const float *weight, int out_channels,
                                      const dk_window *w) {
    input_args a = {dinp, dout, weight, w, out_channels};
    dk__parallel_for((size_t)w->batch, 1, 1, narrow_input_images, &a);
}
