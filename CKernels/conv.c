/*
 * Convolution's data movement: im2col and its adjoint col2im, on NHWC images (see dk_window), whole
 * (dk_im2col, dk_col2im: the backends that run the products themselves, on a full unfolded buffer)
 * or a block at a time (dk__im2col_block, dk__col2im_rows: conv_gemm.c's implicit GEMM).
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

/* A row of the unfolded input: its image and output pixel. Rows are walked in order by stepping
 * this, not by dividing each row number (three 64-bit divisions per row outweigh the copying when
 * the image has one channel). */
typedef struct {
    size_t image;
    int oy, ox;
} output_pixel;

DK_INLINE output_pixel output_pixel_of(const dk_window *w, size_t row) {
    size_t per_image = (size_t)w->out_h * w->out_w, pixel = row % per_image;
    return (output_pixel){row / per_image, (int)(pixel / (size_t)w->out_w), (int)(pixel % (size_t)w->out_w)};
}

DK_INLINE void next_output_pixel(const dk_window *w, output_pixel *at) {
    if (++at->ox < w->out_w) return;
    at->ox = 0;
    if (++at->oy < w->out_h) return;
    at->oy = 0;
    at->image++;
}

static size_t min_size(size_t a, size_t b) { return a < b ? a : b; }
static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

/* Below this many floats, a copy or fill is a plain loop: with few input channels (1 for greyscale
 * images) every run is a few floats, and a library call per run costs more than the run. The
 * no_builtin attribute on the callers keeps the compiler from turning the loops back into calls. */
#define SHORT_RUN 16

DK_INLINE void copy_floats(float *restrict dst, const float *restrict src, size_t n) {
    if (n > SHORT_RUN) {
        memcpy(dst, src, n * sizeof(float));
        return;
    }
    for (size_t i = 0; i < n; i++) dst[i] = src[i];
}

DK_INLINE void zero_floats(float *dst, size_t n) {
    if (n > SHORT_RUN) {
        memset(dst, 0, n * sizeof(float));
        return;
    }
    for (size_t i = 0; i < n; i++) dst[i] = 0.0f;
}

/* Columns [c0, c1) of the unfolded row of output pixel (oy, ox) of `image`, into dst; they span window
 * rows ky_first to ky_last. */
DK_INLINE void unfold_row(float *dst, const float *image, const dk_window *w, int oy, int ox, size_t c0,
                          size_t c1, int ky_first, int ky_last) {
    const size_t C = (size_t)w->channels, window_row = (size_t)w->kernel_w * C;
    int kx0, kx1;
    valid_columns(w, ox, &kx0, &kx1);
    for (int ky = ky_first; ky <= ky_last; ky++) {
        /* This window row's share [lo, hi) of the columns asked for; of it, [in_lo, in_hi) lies
         * inside the image, contiguous in NHWC: one copy, zeros either side. */
        const size_t base = (size_t)ky * window_row;
        const size_t lo = max_size(c0, base), hi = min_size(c1, base + window_row);
        float *d = dst + (lo - c0);
        int iy = oy * w->stride_h - w->pad_top + ky;
        if (iy < 0 || iy >= w->height) {
            zero_floats(d, hi - lo);
            continue;
        }
        const size_t in_first = base + (size_t)kx0 * C;
        const size_t in_lo = max_size(lo, min_size(in_first, hi));
        const size_t in_hi = max_size(in_lo, min_size(base + (size_t)kx1 * C, hi));
        zero_floats(d, in_lo - lo);
        if (in_hi > in_lo) {
            int ix0 = ox * w->stride_w - w->pad_left + kx0;
            const float *src = image + ((size_t)iy * w->width + ix0) * C + (in_lo - in_first);
            copy_floats(d + (in_lo - lo), src, in_hi - in_lo);
        }
        zero_floats(d + (in_hi - lo), hi - in_hi);
    }
}

/* Whole unfolded rows whose window rows are short runs (a greyscale image's): a window wholly inside
 * the image is copied run by run without unfold_row's clipping, whose arithmetic costs more than
 * three-float runs (71 % of cnn's first layer's forward went there). Longer runs (32 channels) keep
 * unfold_row alone: the shortcut measured 6-14 % slower there. */
__attribute__((no_builtin("memcpy", "memset"))) static void unfold_short_rows(float *dst, size_t ld, const float *inp, const dk_window *w, size_t r0, size_t r1) {
    const size_t C = (size_t)w->channels, window_row = (size_t)w->kernel_w * C;
    output_pixel at = output_pixel_of(w, r0);
    for (size_t r = r0; r < r1; r++, dst += ld, next_output_pixel(w, &at)) {
        const float *image = inp + at.image * (size_t)w->height * w->width * C;
        const int iy0 = at.oy * w->stride_h - w->pad_top, ix0 = at.ox * w->stride_w - w->pad_left;
        if (iy0 < 0 || iy0 + w->kernel_h > w->height || ix0 < 0 || ix0 + w->kernel_w > w->width) {
            unfold_row(dst, image, w, at.oy, at.ox, 0, (size_t)w->kernel_h * window_row, 0, w->kernel_h - 1);
            continue;
        }
        const float *src = image + ((size_t)iy0 * w->width + (size_t)ix0) * C;
        for (int ky = 0; ky < w->kernel_h; ky++)
            copy_floats(dst + (size_t)ky * window_row, src + (size_t)ky * w->width * C, window_row);
    }
}

__attribute__((no_builtin("memcpy", "memset"))) void dk__im2col_block(float *dst, size_t ld, const float *inp, const dk_window *w, size_t r0, size_t r1,
                      size_t c0, size_t c1) {
    if (c1 <= c0) return;
    const size_t C = (size_t)w->channels;
    /* The columns of one row of the window (one ky): kernel_w pixels of C channels. */
    const size_t window_row = (size_t)w->kernel_w * C;
    if (window_row <= SHORT_RUN && c0 == 0 && c1 == (size_t)w->kernel_h * window_row) {
        unfold_short_rows(dst, ld, inp, w, r0, r1);
        return;
    }
    const int ky_first = (int)(c0 / window_row), ky_last = (int)((c1 - 1) / window_row);
    output_pixel at = output_pixel_of(w, r0);
    for (size_t r = r0; r < r1; r++, dst += ld, next_output_pixel(w, &at))
        unfold_row(dst, inp + at.image * (size_t)w->height * w->width * C, w, at.oy, at.ox, c0, c1, ky_first,
                   ky_last);
}

typedef struct {
    float *col;
    const float *inp;
    const dk_window *w;
} im2col_args;

static void im2col_rows(void *p, size_t r0, size_t r1) {
    const im2col_args *a = p;
    const size_t row_len = (size_t)a->w->kernel_h * a->w->kernel_w * a->w->channels;
    dk__im2col_block(a->col + r0 * row_len, row_len, a->inp, a->w, r0, r1, 0, row_len);
}

void dk_im2col(float *col, const float *inp, const dk_window *w) {
    size_t rows = (size_t)w->batch * w->out_h * w->out_w;
    size_t row_len = (size_t)w->kernel_h * w->kernel_w * w->channels;
    if (rows == 0 || row_len == 0) return;
    im2col_args a = {col, inp, w};
    dk__parallel_for(rows, 1 + (64 * 1024) / row_len, 1, im2col_rows, &a);
}

/* ---------------------------------------------------------------- windows read in place */

size_t dk__window_reach_h(const dk_window *w) { return (size_t)(w->out_h - 1) * w->stride_h + w->kernel_h; }
size_t dk__window_reach_w(const dk_window *w) { return (size_t)(w->out_w - 1) * w->stride_w + w->kernel_w; }

int dk__window_reads_padding(const dk_window *w) {
    return w->pad_top > 0 || w->pad_left > 0 || dk__window_reach_h(w) > (size_t)w->height ||
           dk__window_reach_w(w) > (size_t)w->width;
}

void dk__pad_image(float *dst, size_t cols, const float *inp, size_t image, const dk_window *w) {
    const size_t C = (size_t)w->channels, rows = dk__window_reach_h(w), line = cols * C;
    const float *in = inp + image * (size_t)w->height * w->width * C;
    /* Each row: zeros left of the input, its pixels in one copy, zeros to the right. */
    const size_t left = (size_t)w->pad_left < cols ? (size_t)w->pad_left : cols;
    const size_t inside = (size_t)w->width < cols - left ? (size_t)w->width : cols - left;
    for (size_t y = 0; y < rows; y++, dst += line) {
        int iy = (int)y - w->pad_top;
        if (iy < 0 || iy >= w->height) {
            memset(dst, 0, line * sizeof(float));
            continue;
        }
        memset(dst, 0, left * C * sizeof(float));
        memcpy(dst + left * C, in + (size_t)iy * w->width * C, inside * C * sizeof(float));
        memset(dst + (left + inside) * C, 0, (cols - left - inside) * C * sizeof(float));
    }
}

/* ---------------------------------------------------------------- col2im */

DK_KERNEL(, dk__col2im_rows,
          (float *dinp, const float *dcol, size_t ld, const dk_window *w, size_t r0, size_t r1),
          (dinp, dcol, ld, w, r0, r1)) {
    const size_t C = (size_t)w->channels, image_len = (size_t)w->height * w->width * C;
    output_pixel at = output_pixel_of(w, r0);
    for (size_t r = r0; r < r1; r++, dcol += ld, next_output_pixel(w, &at)) {
        const int oy = at.oy, ox = at.ox;
        float *image = dinp + at.image * image_len;
        if (oy == 0 && ox == 0) memset(image, 0, image_len * sizeof(float));
        int kx0, kx1;
        valid_columns(w, ox, &kx0, &kx1);
        const size_t span = (size_t)(kx1 - kx0) * C;
        const float *src = dcol;
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

typedef struct {
    float *dinp;
    const float *dcol;
    const dk_window *w;
} col2im_args;

static void col2im_images(void *p, size_t i0, size_t i1) {
    const col2im_args *a = p;
    const dk_window *w = a->w;
    const size_t pixels = (size_t)w->out_h * w->out_w, row_len = (size_t)w->kernel_h * w->kernel_w * w->channels;
    dk__col2im_rows(a->dinp, a->dcol + i0 * pixels * row_len, row_len, w, i0 * pixels, i1 * pixels);
}

void dk_col2im(float *dinp, const float *dcol, const dk_window *w) {
    if (w->batch <= 0) return;
    if ((size_t)w->out_h * w->out_w == 0) {
        /* No windows: nothing flows back, but dinp is still overwritten. */
        memset(dinp, 0, (size_t)w->batch * w->height * w->width * w->channels * sizeof(float));
        return;
    }
    col2im_args a = {dinp, dcol, w};
    dk__parallel_for((size_t)w->batch, 1, 1, col2im_images, &a);
}
