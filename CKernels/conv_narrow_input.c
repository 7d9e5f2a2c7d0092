/*
 * Input gradient of convolutions with at most 16 filters (LeNet-5's second layer: 16 filters of 5x5
 * over 6 channels). As conv_gemm.c computes it, dcol = dout · weight^T is a GEMM whose K is the filter
 * count (16: a sliver of the micro-kernel's work per tile), written out and read back by col2im. Here
 * each pixel's unfolded gradient is made in registers, 16 field positions to a vector, from the
 * pixel's dout values broadcast against the transposed weights, and added straight into its window of
 * the image (of a zero-padded copy when the layer pads, whose interior is then copied out).
 *
 * Bits: each unfolded element is one multiply-add chain over the filters in order from zero, as the
 * GEMM computes it (its K, the filter count, is one block), and the image gets them added pixel by
 * pixel in order from zero, as col2im adds them; so the results equal dk_conv2d_backward_input's GEMM
 * path bit for bit, for any thread count (each image is one thread's).
 */
#include "conv_lanes.h"

#include <stddef.h>
#include <string.h>

#define MAX_FILTERS 16
#define MAX_VECTORS 8    /* field vectors per pass over the filters */
#define PIXELS 2         /* pixels per pass */
#define SCRATCH_FLOATS ((size_t)1 << 20)

static dk_scratch_pool g_input = {.floats = SCRATCH_FLOATS};

static size_t field_floats(const dk_window *w) { return (size_t)w->kernel_h * w->kernel_w * w->channels; }
/* The field rounded up to whole vectors: the transposed weights' row length. */
static size_t field_vectors(const dk_window *w) { return (field_floats(w) + LANES - 1) / LANES; }
static size_t padded_floats(const dk_window *w) {
    return dk__window_reads_padding(w) ? dk__window_reach_h(w) * dk__window_reach_w(w) * (size_t)w->channels : 0;
}

int dk__conv2d_narrow_input_applies(const dk_window *w, int out_channels) {
    size_t scratch = (size_t)(MAX_FILTERS + PIXELS) * field_vectors(w) * LANES + padded_floats(w);
    return out_channels >= 1 && out_channels <= MAX_FILTERS && w->out_h > 0 && w->out_w > 0 &&
           field_floats(w) <= (size_t)dk__blocking(dk__isa()).kc && scratch <= SCRATCH_FLOATS;
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
    lanes_vec acc[PIXELS][MAX_VECTORS];
    for (int i = 0; i < P; i++)
        for (int v = 0; v < V; v++) acc[i][v] = (lanes_vec){0};
    for (int f = 0; f < n; f++, wt += stride)
        for (int v = 0; v < V; v++) {
            lanes_vec w = *(const lanes_vec *)(wt + (size_t)v * LANES);
            for (int i = 0; i < P; i++) acc[i][v] += d[(size_t)i * n + f] * w;
        }
    for (int i = 0; i < P; i++)
        for (int v = 0; v < V; v++) *(lanes_vec *)(dst + (size_t)i * stride + (size_t)v * LANES) = acc[i][v];
}

/* The unfolded gradients of P pixels (1 or 2), every field vector. */
DK_INLINE void unfold_pixels(float *dst, const float *d, const float *wt, size_t stride, size_t vectors, int n,
                             const int P) {
    size_t v = 0;
    for (; v + MAX_VECTORS <= vectors; v += MAX_VECTORS)
        unfolded_vectors(dst + v * LANES, d, wt + v * LANES, stride, n, MAX_VECTORS, P);
    if (v + 4 <= vectors) unfolded_vectors(dst + v * LANES, d, wt + v * LANES, stride, n, 4, P), v += 4;
    if (v + 2 <= vectors) unfolded_vectors(dst + v * LANES, d, wt + v * LANES, stride, n, 2, P), v += 2;
    if (v < vectors) unfolded_vectors(dst + v * LANES, d, wt + v * LANES, stride, n, 1, P);
}

/* Adds pixel (oy, ox)'s unfolded gradient into its window of target (rows `line` floats apart). */
DK_INLINE void add_window(float *target, const float *unfolded, const dk_window *w, size_t line, int oy, int ox) {
    const size_t run = (size_t)w->kernel_w * w->channels;
    float *window = target + (size_t)oy * w->stride_h * line + (size_t)ox * w->stride_w * w->channels;
    for (int ky = 0; ky < w->kernel_h; ky++) {
        float *restrict dst = window + (size_t)ky * line;
        const float *restrict src = unfolded + (size_t)ky * run;
        for (size_t t = 0; t < run; t++) dst[t] += src[t];
    }
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
    float *restrict unfolded = wt + (size_t)MAX_FILTERS * stride; /* a pair of pixels' gradients */
    float *restrict padded = unfolded + PIXELS * stride;       /* the image's gradient, when the layer pads */
    for (int f = 0; f < n; f++)
        for (size_t k = 0; k < stride; k++) wt[(size_t)f * stride + k] = k < field ? a->weight[k * n + f] : 0.0f;
    for (size_t img = i0; img < i1; img++) {
        float *dimage = a->dinp + img * image_floats;
        float *target = padding ? padded : dimage;
        memset(target, 0, (padding ? padded_floats(w) : image_floats) * sizeof(float));
        /* Pixels in pairs, the pair's gradients made together, then added in pixel order. */
        const size_t pixels = (size_t)w->out_h * w->out_w;
        const float *d = a->dout + img * pixels * n;
        int oy = 0, ox = 0;
        for (size_t q = 0; q < pixels; q += PIXELS, d += PIXELS * (size_t)n) {
            int pair = q + 1 < pixels;
            if (pair) unfold_pixels(unfolded, d, wt, stride, vectors, n, PIXELS);
            else unfold_pixels(unfolded, d, wt, stride, vectors, n, 1);
            for (int i = 0; i <= pair; i++) {
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
