/*
 * Convolution's data movement: im2col and its adjoint col2im, on NHWC images (see dk_window).
 * The products themselves are dk_sgemm calls made by the caller:
 *   forward        out (M, OC)  = col (M, K) · weight (K, OC)      M = N*OH*OW, K = KH*KW*C
 *   input grad     dcol (M, K)  = dout (M, OC) · weight^T, then dinp = col2im(dcol)
 *   weight grad    dweight (K, OC) = col^T · dout
 * NHWC makes each (ky, kx) slice of a receptive field C contiguous floats, so both kernels move
 * whole channel vectors. im2col splits output rows between threads (each row is written once);
 * col2im gives each image to one thread, which sums its overlapping windows in a fixed order, so
 * the result does not depend on the thread count.
 */
#include "internal.h"

#include <stddef.h>
#include <string.h>

/* The kernel columns [*kx0, *kx1) of output column ox that fall inside the image (possibly none). */
DK_INLINE void valid_columns(const dk_window *w, int ox, int *kx0, int *kx1) {
    int xs = ox * w->stride_w - w->pad_left;
    *kx0 = xs < 0 ? -xs : 0;
    *kx1 = xs + w->kernel_w > w->width ? w->width - xs : w->kernel_w;
    if (*kx0 > w->kernel_w) *kx0 = w->kernel_w;
    if (*kx1 < *kx0) *kx1 = *kx0;
}

typedef struct {
    float *col;
    const float *inp;
    const dk_window *w;
} im2col_args;

DK_KERNEL(static, im2col_rows, (void *p, size_t r0, size_t r1), (p, r0, r1)) {
    const im2col_args *a = p;
    const dk_window *w = a->w;
    const size_t C = (size_t)w->channels, row_len = (size_t)w->kernel_h * w->kernel_w * C;
    for (size_t r = r0; r < r1; r++) {
        size_t img = r / ((size_t)w->out_h * w->out_w), pix = r % ((size_t)w->out_h * w->out_w);
        int oy = (int)(pix / (size_t)w->out_w), ox = (int)(pix % (size_t)w->out_w);
        float *restrict dst = a->col + r * row_len;
        const float *image = a->inp + img * (size_t)w->height * w->width * C;
        /* Along a row of the window the in-bounds pixels are contiguous in NHWC: one copy each. */
        int kx0, kx1;
        valid_columns(w, ox, &kx0, &kx1);
        const size_t left = (size_t)kx0 * C, span = (size_t)(kx1 - kx0) * C, right = (size_t)(w->kernel_w - kx1) * C;
        for (int ky = 0; ky < w->kernel_h; ky++, dst += (size_t)w->kernel_w * C) {
            int iy = oy * w->stride_h - w->pad_top + ky;
            if (iy < 0 || iy >= w->height) {
                memset(dst, 0, (size_t)w->kernel_w * C * sizeof(float));
                continue;
            }
            int ix0 = ox * w->stride_w - w->pad_left + kx0;
            memset(dst, 0, left * sizeof(float));
            memcpy(dst + left, image + ((size_t)iy * w->width + ix0) * C, span * sizeof(float));
            memset(dst + left + span, 0, right * sizeof(float));
        }
    }
}

void dk_im2col(float *col, const float *inp, const dk_window *w) {
    size_t rows = (size_t)w->batch * w->out_h * w->out_w;
    size_t row_len = (size_t)w->kernel_h * w->kernel_w * w->channels;
    if (rows == 0 || row_len == 0) return;
    im2col_args a = {col, inp, w};
    dk__parallel_for(rows, 1 + (64 * 1024) / row_len, 1, im2col_rows, &a);
}

/* ---------------------------------------------------------------- col2im */

typedef struct {
    float *dinp;
    const float *dcol;
    const dk_window *w;
} col2im_args;

DK_KERNEL(static, col2im_images, (void *p, size_t i0, size_t i1), (p, i0, i1)) {
    const col2im_args *a = p;
    const dk_window *w = a->w;
    const size_t C = (size_t)w->channels, image_len = (size_t)w->height * w->width * C;
    const size_t pixels = (size_t)w->out_h * w->out_w, row_len = (size_t)w->kernel_h * w->kernel_w * C;
    for (size_t img = i0; img < i1; img++) {
        float *image = a->dinp + img * image_len;
        memset(image, 0, image_len * sizeof(float));
        const float *src = a->dcol + img * pixels * row_len;
        for (int oy = 0; oy < w->out_h; oy++) {
            for (int ox = 0; ox < w->out_w; ox++) {
                int kx0, kx1;
                valid_columns(w, ox, &kx0, &kx1);
                const size_t span = (size_t)(kx1 - kx0) * C;
                for (int ky = 0; ky < w->kernel_h; ky++, src += (size_t)w->kernel_w * C) {
                    int iy = oy * w->stride_h - w->pad_top + ky;
                    if (iy < 0 || iy >= w->height) continue;
                    int ix0 = ox * w->stride_w - w->pad_left + kx0;
                    float *restrict dst = image + ((size_t)iy * w->width + ix0) * C;
                    const float *restrict s = src + (size_t)kx0 * C;
                    for (size_t i = 0; i < span; i++) dst[i] += s[i];
                }
            }
        }
    }
}

void dk_col2im(float *dinp, const float *dcol, const dk_window *w) {
    if (w->batch <= 0) return;
    col2im_args a = {dinp, dcol, w};
    dk__parallel_for((size_t)w->batch, 1, 1, col2im_images, &a);
}
