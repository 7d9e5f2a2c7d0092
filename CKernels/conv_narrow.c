/*
 * Forward of convolutions with at most 16 filters over several input channels (LeNet-5's second
 * layer: 16 filters of 5x5 over 6 channels). As a GEMM such a layer is 16 columns wide: half of the
 * micro-kernel's 32-wide tile idles, and the input is first unfolded into rows, a copy as large as
 * the products' reads. Here the filters sit in the lanes of one vector, PIXEL_BLOCK output pixels
 * along a row each have an accumulator, and each window is read where it lies: a kernel row of a
 * window is kernel_w * C contiguous floats of the image (of a zero-padded copy when the layer pads).
 *
 * Bits: each output is one multiply-add chain over the field in (ky, kx, c) order from zero, which is
 * the GEMM's order for a field within one K block, then the GEMM's tile epilogue; so the results equal
 * dk_im2col + dk_sgemm_bias_activation bit for bit, for any thread count.
 */
#include "conv_lanes.h"

#include <stddef.h>

#define PIXEL_BLOCK 8  /* output pixels whose accumulators are in registers at once */
#define SCRATCH_FLOATS ((size_t)1 << 20)

static dk_scratch_pool g_narrow = {.floats = SCRATCH_FLOATS};

static size_t field_floats(const dk_window *w) { return (size_t)w->kernel_h * w->kernel_w * w->channels; }

int dk__conv2d_narrow_applies(const dk_window *w, int out_channels) {
    size_t padded = dk__window_reads_padding(w) ? dk__window_reach_h(w) * dk__window_reach_w(w) * (size_t)w->channels : 0;
    return w->channels > 1 && out_channels >= 1 && out_channels <= LANES && w->out_w > 0 &&
           field_floats(w) <= (size_t)dk__blocking(dk__isa()).kc &&
           (field_floats(w) + 1) * LANES + padded <= SCRATCH_FLOATS;
}

/* Output pixels [0, P) of a block (P a constant at each call): window i starts at window + i *
 * pixel_step, each of its kernel rows `run` floats, `line` floats apart; weights is the field's rows
 * of LANES floats (zeros past n). Then + bias, ReLU or leaky ReLU elementwise, as the GEMM's tile
 * epilogue does, and the n filters of each pixel stored at out + i * n. */
DK_INLINE void narrow_block(float *out, const float *window, size_t line, size_t pixel_step, size_t run, int kh,
                            const float *weights, const float *bias, dk_activation act, float slope, int n,
                            const int P) {
    lanes_vec acc[PIXEL_BLOCK];
    for (int i = 0; i < P; i++) acc[i] = (lanes_vec){0};
    const float *wk = weights;
    for (int ky = 0; ky < kh; ky++) {
        const float *src = window + (size_t)ky * line;
        for (size_t t = 0; t < run; t++, wk += LANES) {
            lanes_vec wv = *(const lanes_vec *)wk;
            for (int i = 0; i < P; i++) acc[i] += src[(size_t)i * pixel_step + t] * wv;
        }
    }
    for (int i = 0; i < P; i++) {
        lanes_vec x = acc[i];
        if (bias) x = x + *(const lanes_vec *)bias;
        lanes_activate(&x, act, slope);
        if (n == LANES) {
            *(lanes_vecu *)(out + (size_t)i * n) = x;
        } else {
            float lanes[LANES];
            *(lanes_vecu *)lanes = x;
#pragma clang loop vectorize(disable)
            for (int f = 0; f < n; f++) out[(size_t)i * n + f] = lanes[f];
        }
    }
}

/* Output rows [r0, r1) (row = image * out_h + oy). */
DK_KERNEL(static, narrow_rows, (void *p, size_t r0, size_t r1), (p, r0, r1)) {
    const dk__conv_forward *a = p;
    const dk_window *w = a->w;
    const size_t C = (size_t)w->channels, field = field_floats(w), run = (size_t)w->kernel_w * C;
    const int n = a->oc, ow = w->out_w, padding = dk__window_reads_padding(w);
    const size_t line = (padding ? dk__window_reach_w(w) : (size_t)w->width) * C, pixel_step = (size_t)w->stride_w * C;
    const size_t image_floats = (size_t)w->height * w->width * C;
    int slot;
    float *weights = dk__scratch_claim(&g_narrow, (int)r0, &slot);
    const float *bias;
    dk_activation act;
    float *restrict padded = lanes_forward_setup(weights, a, field, &bias, &act); /* the image, when the layer pads */
    size_t image = r0 / (size_t)w->out_h;
    int oy = (int)(r0 % (size_t)w->out_h);
    if (padding) dk__pad_image(padded, dk__window_reach_w(w), a->inp, image, w);
    for (size_t row = r0; row < r1; row++) {
        if (oy == w->out_h) {
            oy = 0;
            if (padding) dk__pad_image(padded, dk__window_reach_w(w), a->inp, ++image, w);
            else ++image;
        }
        const float *top = (padding ? padded : a->inp + image * image_floats) + (size_t)oy * w->stride_h * line;
        float *out_row = a->out + row * (size_t)ow * n;
        int ox = 0;
        for (; ox + PIXEL_BLOCK <= ow; ox += PIXEL_BLOCK)
            narrow_block(out_row + (size_t)ox * n, top + (size_t)ox * pixel_step, line, pixel_step, run, w->kernel_h,
                         weights, bias, act, a->act_alpha, n, PIXEL_BLOCK);
        for (; ox < ow; ox++)
            narrow_block(out_row + (size_t)ox * n, top + (size_t)ox * pixel_step, line, pixel_step, run, w->kernel_h,
                         weights, bias, act, a->act_alpha, n, 1);
        /* The exp-based activations, as the GEMM applies them: on the stored values afterwards. */
        if (!lanes_in_tiles(a->act)) dk__bias_activation_block(out_row, n, ow, n, a->bias, a->act, a->act_alpha);
        oy++;
    }
    dk__scratch_release(&g_narrow, slot);
}

void dk__conv2d_forward_narrow(const dk__conv_forward *a) {
    dk__parallel_for((size_t)a->w->batch * a->w->out_h, 8, 1, narrow_rows, (void *)a);
}
