/*
 * Max and average pooling on NHWC images (see dk_window), forward and backward.
 * inp is (batch, height, width, C), out and dout (batch, out_h, out_w, C); windows skip padding.
 * Forward passes split output rows between threads (each output written once). Backward passes
 * give each image to one thread, which zeroes its dinp and adds every window's share in a fixed
 * order: overlapping windows (stride < size) then sum the same way for any thread count. Max pool
 * windows that tile the image write each pixel's gradient once instead (same bits).
 * The inner loops run over the contiguous channel vector.
 */
#include "internal.h"

#include <float.h>
#include <stddef.h>
#include <string.h>

typedef struct {
    float *out;
    const float *inp, *dout;
    const dk_window *w;
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

void dk_maxpool_forward(float *out, const float *inp, const dk_window *w) { pool_forward(out, inp, w, maxpool_rows); }
void dk_avgpool_forward(float *out, const float *inp, const dk_window *w) { pool_forward(out, inp, w, avgpool_rows); }

/* ---------------------------------------------------------------- backward */

/* Channels whose window argmax is tracked at once (kept in registers / L1). */
#define POOL_CHANNEL_BLOCK 64

/* Windows that tile the image without overlap or padding (a stride equal to the size, the usual
 * max pool): each input pixel has at most one window, so its gradient can be written outright, with no
 * zeroing pass over dinp and no scatter. Only with a vector's worth of channels or more: with a few
 * (LeNet's 6), the writes' per-channel tests cost more than memset and six scattered additions
 * (0.55 -> 0.91 ms on 128x28x28x6). */
#define TILED_MIN_CHANNELS 16
DK_INLINE int windows_tile(const dk_window *w) {
    return w->stride_h == w->kernel_h && w->stride_w == w->kernel_w && w->pad_top == 0 && w->pad_left == 0 &&
           w->channels >= TILED_MIN_CHANNELS;
}

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
    const int tiles = windows_tile(w);
    for (size_t img = i0; img < i1; img++) {
        float *dimage = a->out + img * image_len;
        const float *image = a->inp + img * image_len;
        if (!tiles) memset(dimage, 0, image_len * sizeof(float));
        for (int oy = 0; oy < w->out_h; oy++)
            for (int ox = 0; ox < w->out_w; ox++) {
                int y0, y1, x0, x1;
                clip_window(w, oy, ox, &y0, &y1, &x0, &x1);
                const float *d = a->dout + ((img * w->out_h + oy) * w->out_w + ox) * C;
                for (size_t c0 = 0; c0 < C; c0 += POOL_CHANNEL_BLOCK) {
                    size_t cn = C - c0 < POOL_CHANNEL_BLOCK ? C - c0 : POOL_CHANNEL_BLOCK;
                    int where[POOL_CHANNEL_BLOCK];
                    window_argmax(w, image, c0, cn, y0, y1, x0, x1, where);
                    if (!tiles) {
                        for (size_t c = 0; c < cn; c++) dimage[(size_t)where[c] * C + c0 + c] += d[c0 + c];
                        continue;
                    }
                    /* 0 + d, as the zeroed-then-added path computes it (it turns -0 into +0). */
                    for (int y = y0; y < y1; y++)
                        for (int x = x0; x < x1; x++) {
                            float *restrict g = dimage + ((size_t)y * w->width + x) * C + c0;
                            int at = y * w->width + x;
                            for (size_t c = 0; c < cn; c++) g[c] = where[c] == at ? 0.0f + d[c0 + c] : 0.0f;
                        }
                }
            }
        if (tiles) {
            /* The pixels right of and below the last whole window belong to none. */
            size_t covered_w = (size_t)w->out_w * w->kernel_w, covered_h = (size_t)w->out_h * w->kernel_h;
            for (size_t y = 0; y < covered_h && covered_w < (size_t)w->width; y++)
                memset(dimage + (y * w->width + covered_w) * C, 0, (w->width - covered_w) * C * sizeof(float));
            if (covered_h < (size_t)w->height)
                memset(dimage + covered_h * w->width * C, 0, (w->height - covered_h) * w->width * C * sizeof(float));
        }
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

void dk_maxpool_backward(float *dinp, const float *dout, const float *inp, const dk_window *w) {
    if (w->batch <= 0) return;
    pool_args a = {dinp, inp, dout, w};
    dk__parallel_for((size_t)w->batch, 1, 1, maxpool_back_images, &a);
}

void dk_avgpool_backward(float *dinp, const float *dout, const dk_window *w) {
    if (w->batch <= 0) return;
    pool_args a = {dinp, NULL, dout, w};
    dk__parallel_for((size_t)w->batch, 1, 1, avgpool_back_images, &a);
}
