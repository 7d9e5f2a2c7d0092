/*
 * What the direct convolution kernels (conv_direct.c, conv_narrow*.c) share: 16-lane vector types, so
 * that each accumulator is one vector on every code path rather than whatever the auto-vectorizer makes
 * of a 2-D array; the GEMM's in-tile activations applied to such a vector; and a forward's filters laid
 * out for them.
 */
#ifndef DENDRITE_CKERNELS_CONV_LANES_H
#define DENDRITE_CKERNELS_CONV_LANES_H

#include "internal.h"

#include <stddef.h>

#define LANES 16

typedef float lanes_vec __attribute__((vector_size(LANES * 4)));
typedef float lanes_vecu __attribute__((vector_size(LANES * 4), aligned(4), __may_alias__));
typedef int lanes_ivec __attribute__((vector_size(LANES * 4)));

/* ReLU or leaky ReLU on *x, elementwise as the GEMM's tile epilogue computes them (x < 0 ? 0 : x and
 * x < 0 ? slope * x : x); any other activation leaves it as it is. (By pointer: a 64-byte vector passed
 * by value draws an ABI warning on the paths without AVX-512, though the call is always inlined.) */
DK_INLINE void lanes_activate(lanes_vec *x, dk_activation act, float slope) {
    lanes_ivec negative = *x < 0.0f;
    if (act == DK_ACT_RELU) *x = (lanes_vec)((lanes_ivec)*x & ~negative);
    if (act == DK_ACT_LEAKY_RELU) *x = (lanes_vec)(((lanes_ivec)(slope * *x) & negative) | ((lanes_ivec)*x & ~negative));
}

/* Whether the GEMM applies this activation in its tiles; the exp-based ones it applies afterwards, to the
 * stored rows (dk__bias_activation_block, bias included). */
DK_INLINE int lanes_in_tiles(dk_activation act) {
    return act == DK_ACT_IDENTITY || act == DK_ACT_RELU || act == DK_ACT_LEAKY_RELU;
}

/* Where the windows of an image are read: its first row, the floats between rows and between
 * horizontally adjacent windows. */
typedef struct {
    const float *top;
    size_t line, pixel_step;
} image_view;

/* The run of pixels [s0, r1) (pixel = image * out_h * out_w + local pixel) that lies in s0's image, as that
 * image's local pixels [*q0, *q1). *view is made to read that image (the layer's input from inp, or its
 * zero-padded copy in `padded` when the layer pads) unless *image, the one it reads, already is it.
 * Returns the image. */
DK_INLINE size_t lanes_image_part(const dk_window *w, const float *inp, float *padded, image_view *view,
                                  size_t *image, size_t s0, size_t r1, size_t *q0, size_t *q1) {
    const size_t per_image = (size_t)w->out_h * w->out_w;
    const size_t img = s0 / per_image, s1 = (img + 1) * per_image < r1 ? (img + 1) * per_image : r1;
    if (img != *image) {
        *image = img;
        if (padded) dk__pad_image(padded, dk__window_reach_w(w), inp, img, w);
        view->top = padded ? padded : inp + img * (size_t)w->height * w->width * w->channels;
    }
    *q0 = s0 - img * per_image;
    *q1 = s1 - img * per_image;
    return img;
}

/* The first n (1..LANES) floats at p into *x, zeros after them. (By pointer, as lanes_activate.) */
DK_INLINE void lanes_load_first(lanes_vec *x, const float *p, int n) {
    if (n >= LANES) {
        *x = *(const lanes_vecu *)p;
        return;
    }
    float lanes[LANES] = {0};
#pragma clang loop vectorize(disable)
    for (int f = 0; f < n; f++) lanes[f] = p[f];
    *x = *(lanes_vecu *)lanes;
}

/* The first n (1..LANES) lanes of *x to p. */
DK_INLINE void lanes_store_first(float *p, const lanes_vec *x, int n) {
    if (n >= LANES) {
        *(lanes_vecu *)p = *x;
        return;
    }
    float lanes[LANES];
    *(lanes_vecu *)lanes = *x;
#pragma clang loop vectorize(disable)
    for (int f = 0; f < n; f++) p[f] = lanes[f];
}

/* count elements of a weight gradient plus one K block's sums, as dk_sgemm stores its K blocks in order:
 * beta * c + s for the first block (s alone when beta is 0, never reading c), c + s for every later one
 * (beta 1). */
DK_INLINE void lanes_add_block(float *restrict c, const float *restrict s, size_t count, float beta) {
    if (beta == 1.0f)
        for (size_t i = 0; i < count; i++) c[i] = c[i] + s[i];
    else
        for (size_t i = 0; i < count; i++) c[i] = beta == 0.0f ? s[i] : s[i] + beta * c[i];
}

/* A forward's setup at the start of its scratch memory: the n filters in groups of `group` (a multiple of
 * LANES), each group's field x group floats (zeros past n), then the biases in the same groups. Returns
 * the memory after them; *bias is the biases when added in the tiles (else NULL), *act the activation
 * applied there. */
DK_INLINE float *lanes_forward_setup(float *restrict mem, const dk__conv_forward *a, size_t field, int group,
                                     const float **bias, dk_activation *act) {
    const int n = a->oc, in_tiles = lanes_in_tiles(a->act), groups = (n + group - 1) / group;
    float *restrict biases = mem + field * (size_t)group * groups;
    for (int g = 0; g < groups; g++)
        for (size_t k = 0; k < field; k++)
            for (int j = 0; j < group; j++) {
                int f = g * group + j;
                mem[((size_t)g * field + k) * group + j] = f < n ? a->weight[k * (size_t)n + f] : 0.0f;
            }
    for (int f = 0; f < groups * group; f++) biases[f] = f < n && a->bias ? a->bias[f] : 0.0f;
    *bias = in_tiles && a->bias ? biases : NULL;
    *act = in_tiles ? a->act : DK_ACT_IDENTITY;
    return biases + (size_t)groups * group;
}

#endif
