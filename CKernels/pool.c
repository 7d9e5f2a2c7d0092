/*
 * Max and average pooling on NHWC images (see dk_window), forward and backward.
 * inp is (batch, height, width, C), out and dout (batch, out_h, out_w, C); windows skip padding.
 * Forward passes split output rows between threads (each output written once). Backward passes
 * give each image to one thread, which zeroes its dinp and adds every window's share in a fixed
 * order: overlapping windows (stride < size) then sum the same way for any thread count. Max pool
 * windows that tile the image (stride = size, no padding: the usual max pool) have kernels of their
 * own, a row of windows at a time with no clipping, the backward writing each pixel's gradient once;
 * same bits.
 * Max pool backward through a ReLU (dk_maxpool_relu_backward) keeps a window's gradient only where its
 * maximum is positive: the ReLU's derivative, applied as the gradient is written instead of in a pass
 * of its own over the whole image; same bits as the two passes.
 * The inner loops run over the contiguous channel vector, but for 2x2 max pool windows that tile an image of
 * few channels, which run over the floats of a row (tiled_2x2_max_row_lanes, tiled_2x2_back_lanes).
 */
#include "internal.h"

#include <float.h>
#include <stddef.h>
#include <string.h>

typedef struct {
    float *out;
    const float *inp, *dout;
    const dk_window *w;
    int through_relu; /* max pool backward: keep only the gradients of positive maxima */
    int by_lanes;     /* max pool backward: 2x2 windows that tile the image go by tiled_2x2_back_row_lanes */
} pool_args;

/* The window of output pixel (oy, ox) clipped to the input: rows [*y0, *y1), columns [*x0, *x1). */
DK_INLINE void clip_window(const dk_window *w, int oy, int ox, int *y0, int *y1, int *x0, int *x1) {
    int ys = oy * w->stride_h - w->pad_top, xs = ox * w->stride_w - w->pad_left;
    *y0 = ys < 0 ? 0 : ys;
    *x0 = xs < 0 ? 0 : xs;
    *y1 = ys + w->kernel_h > w->height ? w->height : ys + w->kernel_h;
    *x1 = xs + w->kernel_w > w->width ? w->width : xs + w->kernel_w;
}

/* Output rows [r0, r1) of a max (is_max) or average pool; the branch is hoisted out of the loops. */
DK_INLINE void pool_rows(const pool_args *a, size_t r0, size_t r1, int is_max) {
    const dk_window *w = a->w;
    const size_t C = (size_t)w->channels, image_len = (size_t)w->height * w->width * C;
    for (size_t r = r0; r < r1; r++) {
        size_t img = r / ((size_t)w->out_h * w->out_w), pix = r % ((size_t)w->out_h * w->out_w);
        int y0, y1, x0, x1;
        clip_window(w, (int)(pix / (size_t)w->out_w), (int)(pix % (size_t)w->out_w), &y0, &y1, &x0, &x1);
        float *restrict dst = a->out + r * C;
        const float *image = a->inp + img * image_len;
        for (size_t c = 0; c < C; c++) dst[c] = is_max ? -FLT_MAX : 0.0f;
        for (int y = y0; y < y1; y++)
            for (int x = x0; x < x1; x++) {
                const float *restrict s = image + ((size_t)y * w->width + x) * C;
                if (is_max)
                    for (size_t c = 0; c < C; c++) dst[c] = s[c] > dst[c] ? s[c] : dst[c];
                else
                    for (size_t c = 0; c < C; c++) dst[c] += s[c];
            }
        if (!is_max) {
            const float scale = 1.0f / (float)((y1 - y0) * (x1 - x0));
            for (size_t c = 0; c < C; c++) dst[c] *= scale;
        }
    }
}

DK_KERNEL(static, maxpool_rows, (void *p, size_t r0, size_t r1), (p, r0, r1)) { pool_rows(p, r0, r1, 1); }
DK_KERNEL(static, avgpool_rows, (void *p, size_t r0, size_t r1), (p, r0, r1)) { pool_rows(p, r0, r1, 0); }

static void pool_forward(float *out, const float *inp, const dk_window *w, dk_range_fn fn) {
    size_t rows = (size_t)w->batch * w->out_h * w->out_w;
    if (rows == 0 || w->channels <= 0) return;
    pool_args a = {out, inp, NULL, w};
    dk__parallel_for(rows, 1 + (32 * 1024) / ((size_t)w->channels * w->kernel_h * w->kernel_w), 1, fn, &a);
}

/* ---------------------------------------------------------------- windows that tile the image */

/* A stride equal to the size and no padding, before or after the image (a 'same' pool over an odd
 * size pads after it; its cut last windows take the clipping loops): each input pixel is in at most
 * one window, windows need no clipping, and a row of windows reads kernel_h whole input rows. With a
 * few channels (LeNet's 6) the general kernels' per-window bookkeeping cost about 250 cycles a window. */
DK_INLINE int windows_tile(const dk_window *w) {
    return w->stride_h == w->kernel_h && w->stride_w == w->kernel_w && w->pad_top == 0 && w->pad_left == 0 &&
           (size_t)w->out_h * w->kernel_h <= (size_t)w->height && (size_t)w->out_w * w->kernel_w <= (size_t)w->width;
}

/* With fewer channels than this, 2x2 windows may be computed a lane per input float rather than a lane per
 * channel (see by_lanes). */
#define POOL_FEW_CHANNELS 16
/* The lanes of a row of 2x2 windows are taken a segment of whole windows at a time, so that the segment's
 * maxima, or gradients and right-pixel flags, fit on the stack. */
#define POOL_SEGMENT_LANES 256

/* n floats (1..16) from src to dst as two copies of a power of two that may overlap: no call, no loop. */
DK_INLINE void copy_few(float *restrict dst, const float *restrict src, size_t n) {
    if (n >= 8) {
        memcpy(dst, src, 8 * sizeof(float));
        memcpy(dst + n - 8, src + n - 8, 8 * sizeof(float));
    } else if (n >= 4) {
        memcpy(dst, src, 4 * sizeof(float));
        memcpy(dst + n - 4, src + n - 4, 4 * sizeof(float));
    } else if (n >= 2) {
        memcpy(dst, src, 2 * sizeof(float));
        memcpy(dst + n - 2, src + n - 2, 2 * sizeof(float));
    } else {
        dst[0] = src[0];
    }
}

/* Whether 2x2 windows that tile the image go a lane per input float, forward and backward: with fewer than
 * POOL_FEW_CHANNELS channels, unless they fill the code path's vectors exactly, which the channel loop then
 * does as fast. */
static int by_lanes(const dk_window *w) {
    const int vector_floats = dk__isa() == DK_ISA_AVX512 ? 16 : dk__isa() == DK_ISA_AVX2 ? 8 : 4;
    return windows_tile(w) && w->kernel_h == 2 && w->kernel_w == 2 && w->channels < POOL_FEW_CHANNELS &&
           w->channels % vector_floats != 0;
}

/* One row of 2x2 windows with fewer than POOL_FEW_CHANNELS channels, as tiled_max_row computes it, a lane per
 * input float (the channel loop would leave LeNet's 6 channels scalar): lane e = x * C + c of the two input
 * rows takes the first maximum of pixel x's and pixel x + 1's values, which for a window's left pixel is the
 * window's; those lanes are then copied out a window at a time. The lanes stop at the last window's left
 * pixel, whose next pixel is the last one read. */
DK_INLINE void tiled_2x2_max_row_lanes(const dk_window *w, float *restrict dst, const float *restrict src) {
    const size_t C = (size_t)w->channels, line = (size_t)w->width * C, out_w = (size_t)w->out_w;
    const size_t per_segment = POOL_SEGMENT_LANES / (2 * C);
    float best[POOL_SEGMENT_LANES];
    for (size_t ox0 = 0; ox0 < out_w; ox0 += per_segment) {
        const size_t windows = out_w - ox0 < per_segment ? out_w - ox0 : per_segment;
        const float *restrict r0 = src + ox0 * 2 * C, *restrict r1 = r0 + line;
        for (size_t e = 0; e < (2 * windows - 1) * C; e++) {
            float m = -FLT_MAX;
            m = r0[e] > m ? r0[e] : m;
            m = r0[e + C] > m ? r0[e + C] : m;
            m = r1[e] > m ? r1[e] : m;
            m = r1[e + C] > m ? r1[e + C] : m;
            best[e] = m;
        }
        for (size_t i = 0; i < windows; i++) copy_few(dst + (ox0 + i) * C, best + 2 * i * C, C);
    }
}

/* One row of windows: dst[ox, c] = the first maximum of window ox in row-major order, from -FLT_MAX
 * as pool_rows starts (NaN never wins a comparison); src is the window row's first input row. kh and
 * kw are constants where it matters (2x2), so the window loops unroll. */
DK_INLINE void tiled_max_row(const dk_window *w, float *restrict dst, const float *restrict src, const int kh,
                             const int kw) {
    const size_t C = (size_t)w->channels, line = (size_t)w->width * C;
    for (int ox = 0; ox < w->out_w; ox++, dst += C, src += (size_t)kw * C)
        for (size_t c = 0; c < C; c++) {
            float best = -FLT_MAX;
            for (int y = 0; y < kh; y++)
                for (int x = 0; x < kw; x++) {
                    float s = src[(size_t)y * line + (size_t)x * C + c];
                    best = s > best ? s : best;
                }
            dst[c] = best;
        }
}

/* Rows of windows [r0, r1) (row = image * out_h + oy). */
DK_KERNEL(static, tiled_max_rows, (void *p, size_t r0, size_t r1), (p, r0, r1)) {
    const pool_args *a = p;
    const dk_window *w = a->w;
    const size_t C = (size_t)w->channels, line = (size_t)w->width * C, image_len = (size_t)w->height * line;
    const int lanes = by_lanes(w);
    for (size_t r = r0; r < r1; r++) {
        float *dst = a->out + r * w->out_w * C;
        const float *src = a->inp + r / (size_t)w->out_h * image_len + r % (size_t)w->out_h * w->kernel_h * line;
        if (lanes) tiled_2x2_max_row_lanes(w, dst, src);
        else if (w->kernel_h == 2 && w->kernel_w == 2) tiled_max_row(w, dst, src, 2, 2);
        else tiled_max_row(w, dst, src, w->kernel_h, w->kernel_w);
    }
}

void dk_maxpool_forward(float *out, const float *inp, const dk_window *w) {
    if (!windows_tile(w)) {
        pool_forward(out, inp, w, maxpool_rows);
        return;
    }
    size_t rows = (size_t)w->batch * w->out_h;
    if (rows == 0 || w->out_w <= 0 || w->channels <= 0) return;
    pool_args a = {out, inp, NULL, w};
    dk__parallel_for(rows, 1 + (32 * 1024) / ((size_t)w->channels * w->kernel_h * w->kernel_w * w->out_w), 1,
                     tiled_max_rows, &a);
}
void dk_avgpool_forward(float *out, const float *inp, const dk_window *w) { pool_forward(out, inp, w, avgpool_rows); }

/* ---------------------------------------------------------------- backward */

/* Channels whose window argmax is tracked at once (kept in registers / L1). */
#define POOL_CHANNEL_BLOCK 64

/* The argmax of each of the cn channels from c0 over the window [y0, y1) x [x0, x1) of image, as an
 * offset y * width + x: the first maximum in row-major order. */
DK_INLINE void window_argmax(const dk_window *w, const float *image, size_t c0, size_t cn, int y0, int y1,
                             int x0, int x1, int where[POOL_CHANNEL_BLOCK]) {
    const size_t C = (size_t)w->channels;
    float best[POOL_CHANNEL_BLOCK];
    for (size_t c = 0; c < cn; c++) { best[c] = -FLT_MAX; where[c] = y0 * w->width + x0; }
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) {
            const float *restrict s = image + ((size_t)y * w->width + x) * C + c0;
            int at = y * w->width + x;
            for (size_t c = 0; c < cn; c++) {
                int better = s[c] > best[c];
                best[c] = better ? s[c] : best[c];
                where[c] = better ? at : where[c];
            }
        }
}

DK_KERNEL(static, maxpool_back_images, (void *p, size_t i0, size_t i1), (p, i0, i1)) {
    const pool_args *a = p;
    const dk_window *w = a->w;
    const size_t C = (size_t)w->channels, image_len = (size_t)w->height * w->width * C;
    for (size_t img = i0; img < i1; img++) {
        float *dimage = a->out + img * image_len;
        const float *image = a->inp + img * image_len;
        memset(dimage, 0, image_len * sizeof(float));
        for (int oy = 0; oy < w->out_h; oy++)
            for (int ox = 0; ox < w->out_w; ox++) {
                int y0, y1, x0, x1;
                clip_window(w, oy, ox, &y0, &y1, &x0, &x1);
                const float *d = a->dout + ((img * w->out_h + oy) * w->out_w + ox) * C;
                for (size_t c0 = 0; c0 < C; c0 += POOL_CHANNEL_BLOCK) {
                    size_t cn = C - c0 < POOL_CHANNEL_BLOCK ? C - c0 : POOL_CHANNEL_BLOCK;
                    int where[POOL_CHANNEL_BLOCK];
                    window_argmax(w, image, c0, cn, y0, y1, x0, x1, where);
                    for (size_t c = 0; c < cn; c++) {
                        size_t at = (size_t)where[c] * C + c0 + c;
                        /* The ReLU's derivative: y > 0 ? g : +0, and dimage starts at +0. */
                        if (!a->through_relu || image[at] > 0.0f) dimage[at] += d[c0 + c];
                    }
                }
            }
    }
}

/* A window's first maximum in row-major order, found by a scan of its values, as window_argmax picks it:
 * the best value so far and its position in the window. */
typedef struct {
    float best;
    int at;
} first_max;

/* Through a ReLU only positive inputs compete: with none, `at` matches no pixel, so the window keeps +0;
 * with some, the first maximum wins as before. (Testing the maximum after the scan instead made the
 * compiler branch on it a lane at a time rather than vectorize.) */
DK_INLINE first_max first_max_start(int through_relu) {
    return (first_max){through_relu ? 0.0f : -FLT_MAX, through_relu ? -1 : 0};
}

/* The window's value at position k, in row-major order: only a strictly larger one takes over (NaN never). */
DK_INLINE void first_max_step(first_max *m, float s, int k) {
    int better = s > m->best;
    m->best = better ? s : m->best;
    m->at ^= (m->at ^ k) & -better;
}

/* One row of windows that tile the image: each window's gradient goes to its first maximum in
 * row-major order (as window_argmax picks it), 0 + d as the zeroed-then-added path computes it
 * (turning -0 into +0), and zero to the window's other pixels. */
DK_INLINE void tiled_max_back_row(const dk_window *w, float *restrict g, const float *restrict src,
                                  const float *restrict d, const int kh, const int kw, const int through_relu) {
    const size_t C = (size_t)w->channels, line = (size_t)w->width * C;
    for (int ox = 0; ox < w->out_w; ox++, g += (size_t)kw * C, src += (size_t)kw * C, d += C)
        /* One vector of channels per step: interleaving several would leave fewer than 64 channels scalar. */
#pragma clang loop interleave_count(1)
        for (size_t c = 0; c < C; c++) {
            first_max m = first_max_start(through_relu);
            for (int y = 0; y < kh; y++)
                for (int x = 0; x < kw; x++)
                    first_max_step(&m, src[(size_t)y * line + (size_t)x * C + c], y * kw + x);
            const float grad = 0.0f + d[c];
            for (int y = 0; y < kh; y++)
                for (int x = 0; x < kw; x++)
                    g[(size_t)y * line + (size_t)x * C + c] = dk__keep_if(grad, m.at == y * kw + x);
        }
}

/* Lanes [0, n) of a row of 2x2 windows, lane e the input float e = x * C + c of both input rows (r0, r1),
 * giving g0[e] and g1[e]: the same scan as tiled_max_back_row, per lane, so that a few channels (LeNet's 6)
 * still fill the vectors. Its window's other pixel in a row is at e + C for a lane of a left pixel and at
 * e - C for a right one (right[e]), so every lane reads both: the lanes of the first and last pixel read
 * a float outside the row, whose value they discard. d_lanes[e] is the gradient of e's window. */
DK_INLINE void tiled_2x2_back_lanes(float *restrict g0, float *restrict g1, const float *restrict r0,
                                    const float *restrict r1, const float *restrict d_lanes,
                                    const int *restrict right, size_t n, size_t C, const int through_relu) {
    for (size_t e = 0; e < n; e++) {
        const int is_right = right[e];
        const float own0 = r0[e], own1 = r1[e];
        const float before0 = r0[(ptrdiff_t)e - (ptrdiff_t)C], after0 = r0[e + C];
        const float before1 = r1[(ptrdiff_t)e - (ptrdiff_t)C], after1 = r1[e + C];
        first_max m = first_max_start(through_relu);
        first_max_step(&m, is_right ? before0 : own0, 0);
        first_max_step(&m, is_right ? own0 : after0, 1);
        first_max_step(&m, is_right ? before1 : own1, 2);
        first_max_step(&m, is_right ? own1 : after1, 3);
        const float grad = 0.0f + d_lanes[e];
        g0[e] = dk__keep_if(grad, m.at == is_right);
        g1[e] = dk__keep_if(grad, m.at == 2 + is_right);
    }
}

/* One row of 2x2 windows with fewer than POOL_FEW_CHANNELS channels, as tiled_max_back_row computes it, in
 * segments of whole windows: each window's gradient spread over its two pixels' lanes, then the lanes.
 * right[e] is 1 for the lanes of a window's right pixel, e < POOL_SEGMENT_LANES. The inputs are read one
 * pixel before and after the row. */
DK_INLINE void tiled_2x2_back_row_lanes(const dk_window *w, float *restrict g, const float *restrict src,
                                        const float *restrict d, const int *restrict right, const int through_relu) {
    const size_t C = (size_t)w->channels, line = (size_t)w->width * C, out_w = (size_t)w->out_w;
    const size_t per_segment = POOL_SEGMENT_LANES / (2 * C);
    float d_lanes[POOL_SEGMENT_LANES];
    for (size_t ox0 = 0; ox0 < out_w; ox0 += per_segment) {
        const size_t windows = out_w - ox0 < per_segment ? out_w - ox0 : per_segment, first = ox0 * 2 * C;
        for (size_t i = 0; i < windows; i++) {
            copy_few(d_lanes + 2 * i * C, d + (ox0 + i) * C, C);
            copy_few(d_lanes + (2 * i + 1) * C, d + (ox0 + i) * C, C);
        }
        tiled_2x2_back_lanes(g + first, g + line + first, src + first, src + line + first, d_lanes, right,
                             windows * 2 * C, C, through_relu);
    }
}

DK_KERNEL(static, tiled_max_back_images, (void *p, size_t i0, size_t i1), (p, i0, i1)) {
    const pool_args *a = p;
    const dk_window *w = a->w;
    const size_t C = (size_t)w->channels, line = (size_t)w->width * C, image_len = (size_t)w->height * line;
    const size_t covered_w = (size_t)w->out_w * w->kernel_w, covered_h = (size_t)w->out_h * w->kernel_h;
    /* Which lanes of a segment are a window's right pixel (segments start on a window). */
    int right[POOL_SEGMENT_LANES];
    for (size_t x = 0; a->by_lanes && x < POOL_SEGMENT_LANES / C; x++)
        for (size_t c = 0; c < C; c++) right[x * C + c] = (int)(x % 2);
    for (size_t img = i0; img < i1; img++) {
        float *dimage = a->out + img * image_len;
        const float *image = a->inp + img * image_len;
        for (int oy = 0; oy < w->out_h; oy++) {
            size_t first = (size_t)oy * w->kernel_h * line;
            const float *d = a->dout + (img * w->out_h + oy) * w->out_w * C;
            /* The lanes read a pixel before and after the row: outside inp for the batch's first and last rows
             * of windows, which take the channel loop. */
            const int inside = (img > 0 || oy > 0) && (img + 1 < (size_t)w->batch || oy + 1 < w->out_h);
            /* Constant arguments, so each case's loops are compiled with them. */
            if (a->by_lanes && inside && a->through_relu)
                tiled_2x2_back_row_lanes(w, dimage + first, image + first, d, right, 1);
            else if (a->by_lanes && inside)
                tiled_2x2_back_row_lanes(w, dimage + first, image + first, d, right, 0);
            else if (w->kernel_h == 2 && w->kernel_w == 2 && a->through_relu)
                tiled_max_back_row(w, dimage + first, image + first, d, 2, 2, 1);
            else if (w->kernel_h == 2 && w->kernel_w == 2)
                tiled_max_back_row(w, dimage + first, image + first, d, 2, 2, 0);
            else
                tiled_max_back_row(w, dimage + first, image + first, d, w->kernel_h, w->kernel_w, a->through_relu);
        }
        /* The pixels right of and below the last whole window belong to none. */
        for (size_t y = 0; y < covered_h && covered_w < (size_t)w->width; y++)
            memset(dimage + y * line + covered_w * C, 0, (w->width - covered_w) * C * sizeof(float));
        if (covered_h < (size_t)w->height)
            memset(dimage + covered_h * line, 0, (w->height - covered_h) * line * sizeof(float));
    }
}

DK_KERNEL(static, avgpool_back_images, (void *p, size_t i0, size_t i1), (p, i0, i1)) {
    const pool_args *a = p;
    const dk_window *w = a->w;
    const size_t C = (size_t)w->channels, image_len = (size_t)w->height * w->width * C;
    for (size_t img = i0; img < i1; img++) {
        float *dimage = a->out + img * image_len;
        memset(dimage, 0, image_len * sizeof(float));
        for (int oy = 0; oy < w->out_h; oy++)
            for (int ox = 0; ox < w->out_w; ox++) {
                int y0, y1, x0, x1;
                clip_window(w, oy, ox, &y0, &y1, &x0, &x1);
                const float *restrict d = a->dout + ((img * w->out_h + oy) * w->out_w + ox) * C;
                const float scale = 1.0f / (float)((y1 - y0) * (x1 - x0));
                for (int y = y0; y < y1; y++)
                    for (int x = x0; x < x1; x++) {
                        float *restrict s = dimage + ((size_t)y * w->width + x) * C;
                        for (size_t c = 0; c < C; c++) s[c] += d[c] * scale;
                    }
            }
    }
}

static void maxpool_backward(float *dinp, const float *dout, const float *inp, const dk_window *w, int through_relu) {
    if (w->batch <= 0 || w->channels <= 0) return;
    pool_args a = {dinp, inp, dout, w, through_relu, by_lanes(w)};
    dk__parallel_for((size_t)w->batch, 1, 1, windows_tile(w) ? tiled_max_back_images : maxpool_back_images, &a);
}

void dk_maxpool_backward(float *dinp, const float *dout, const float *inp, const dk_window *w) {
    maxpool_backward(dinp, dout, inp, w, 0);
}

void dk_maxpool_relu_backward(float *dinp, const float *dout, const float *inp, const dk_window *w) {
    maxpool_backward(dinp, dout, inp, w, 1);
}

/* avgpool_back_images for windows that tile the image: each pixel is in one window at most, so it is written
 * once, row by row, as 0 + d * scale (what adding its one share to the zeroed image gives: +0 for a share of
 * -0), instead of zeroed in one pass and added to in another. */
DK_KERNEL(static, tiled_avg_back_images, (void *p, size_t i0, size_t i1), (p, i0, i1)) {
    const pool_args *a = p;
    const dk_window *w = a->w;
    const size_t C = (size_t)w->channels, kw = (size_t)w->kernel_w, line = (size_t)w->width * C;
    const size_t image_len = (size_t)w->height * line, covered_w = (size_t)w->out_w * kw;
    const float scale = 1.0f / (float)(w->kernel_h * w->kernel_w);
    for (size_t img = i0; img < i1; img++) {
        float *dimage = a->out + img * image_len;
        for (size_t y = 0; y < (size_t)w->height; y++) {
            float *restrict s = dimage + y * line;
            const size_t oy = y / (size_t)w->kernel_h;
            if (oy >= (size_t)w->out_h) { /* below the last row of windows */
                memset(s, 0, line * sizeof(float));
                continue;
            }
            const float *restrict d = a->dout + (img * w->out_h + oy) * w->out_w * C;
            for (size_t x = 0; x < covered_w; x++, s += C) {
                const float *restrict dw = d + x / kw * C;
                for (size_t c = 0; c < C; c++) s[c] = 0.0f + dw[c] * scale;
            }
            memset(s, 0, ((size_t)w->width - covered_w) * C * sizeof(float));
        }
    }
}

void dk_avgpool_backward(float *dinp, const float *dout, const dk_window *w) {
    if (w->batch <= 0) return;
    pool_args a = {dinp, NULL, dout, w};
    dk__parallel_for((size_t)w->batch, 1, 1, windows_tile(w) ? tiled_avg_back_images : avgpool_back_images, &a);
}
