/*
 * Activations: forward, fused bias + forward, and backward from the forward output alone.
 * The kind is switched on once per chunk, outside the loops, so each loop is a plain
 * vectorizable map; exp-based kinds use dk__exp. Elementwise, hence trivially deterministic.
 */
#include "internal.h"

#include <math.h>
#include <stddef.h>

#define SELU_ALPHA 1.6732632423543772f
#define SELU_SCALE 1.0507009873554805f

/* Elements per thread below which waking another thread does not pay. */
#define ACT_GRAIN (16 * 1024)

DK_INLINE float sigmoid(float x) { return 1.0f / (1.0f + dk__exp(-x)); }

/* 1 - 2/(e^{2|x|} + 1) cancels badly near 0, so small |x| uses Cephes' odd polynomial instead. */
DK_INLINE float tanh_approx(float x) {
    float ax = fabsf(x);
    float big = 1.0f - 2.0f / (dk__exp(2.0f * ax) + 1.0f);
    float z = x * x;
    float small = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z +
                    1.33314422036e-1f) * z - 3.33332819422e-1f) * z * ax + ax;
    return copysignf(ax < 0.625f ? small : big, x);
}

/* out[i] = f(inp[i] (+ bias[i])); bias may be NULL. out may equal inp, so neither is restrict. */
#define FORWARD_LOOP(EXPR)                                                                         \
    do {                                                                                           \
        if (bias) {                                                                                \
            for (size_t i = 0; i < n; i++) {                                                       \
                float x = inp[i] + bias[i];                                                        \
                out[i] = (EXPR);                                                                   \
            }                                                                                      \
        } else {                                                                                   \
            for (size_t i = 0; i < n; i++) {                                                       \
                float x = inp[i];                                                                  \
                out[i] = (EXPR);                                                                   \
            }                                                                                      \
        }                                                                                          \
    } while (0)

DK_INLINE void forward_span(float *out, const float *inp, const float *restrict bias, size_t n,
                            dk_activation act, float alpha) {
    switch (act) {
    case DK_ACT_RELU: FORWARD_LOOP(x < 0.0f ? 0.0f : x); break;
    case DK_ACT_LEAKY_RELU: FORWARD_LOOP(x < 0.0f ? alpha * x : x); break;
    case DK_ACT_SIGMOID: FORWARD_LOOP(sigmoid(x)); break;
    case DK_ACT_TANH: FORWARD_LOOP(tanh_approx(x)); break;
    case DK_ACT_ELU: FORWARD_LOOP(x > 0.0f ? x : alpha * (dk__exp(x) - 1.0f)); break;
    case DK_ACT_SELU:
        FORWARD_LOOP(SELU_SCALE * (x > 0.0f ? x : SELU_ALPHA * (dk__exp(x) - 1.0f)));
        break;
    case DK_ACT_IDENTITY:
    default: FORWARD_LOOP(x); break;
    }
}

typedef struct {
    float *out;
    const float *inp, *bias, *dout;
    size_t cols;
    dk_activation act;
    float alpha;
} act_args;

DK_KERNEL static void forward_range(void *p, size_t b, size_t e) {
    const act_args *a = p;
    forward_span(a->out + b, a->inp + b, NULL, e - b, a->act, a->alpha);
}

void dk_activation_forward(float *out, const float *inp, size_t n, dk_activation act, float alpha) {
    if (act == DK_ACT_IDENTITY && out == inp) return;
    act_args a = {.out = out, .inp = inp, .act = act, .alpha = alpha};
    dk__parallel_for(n, ACT_GRAIN, 16, forward_range, &a);
}

DK_KERNEL static void bias_forward_rows(void *p, size_t r0, size_t r1) {
    const act_args *a = p;
    for (size_t r = r0; r < r1; r++)
        forward_span(a->out + r * a->cols, a->inp + r * a->cols, a->bias, a->cols, a->act, a->alpha);
}

void dk_bias_activation_forward(float *out, const float *inp, const float *bias, int rows, int cols,
                                dk_activation act, float alpha) {
    if (rows <= 0 || cols <= 0) return;
    act_args a = {.out = out, .inp = inp, .bias = bias, .cols = (size_t)cols, .act = act, .alpha = alpha};
    dk__parallel_for((size_t)rows, 1 + ACT_GRAIN / (size_t)cols, 1, bias_forward_rows, &a);
}

/* dinp[i] = dout[i] * f'(x_i), with f' written in terms of y = out[i]. dinp may equal dout. */
#define BACKWARD_LOOP(EXPR)                                                                        \
    do {                                                                                           \
        for (size_t i = 0; i < n; i++) {                                                           \
            float g = dout[i], y = outp[i];                                                        \
            dinp[i] = (EXPR);                                                                      \
        }                                                                                          \
    } while (0)

DK_KERNEL static void backward_range(void *p, size_t b, size_t e) {
    const act_args *a = p;
    float *dinp = a->out + b;
    const float *dout = a->dout + b;
    const float *restrict outp = a->inp + b;
    size_t n = e - b;
    float alpha = a->alpha;
    switch (a->act) {
    case DK_ACT_RELU: BACKWARD_LOOP(y > 0.0f ? g : 0.0f); break;
    case DK_ACT_LEAKY_RELU: BACKWARD_LOOP(y > 0.0f ? g : alpha * g); break;
    case DK_ACT_SIGMOID: BACKWARD_LOOP(g * (y * (1.0f - y))); break;
    case DK_ACT_TANH: BACKWARD_LOOP(g * (1.0f - y * y)); break;
    case DK_ACT_ELU: BACKWARD_LOOP(y > 0.0f ? g : g * (y + alpha)); break;
    case DK_ACT_SELU:
        BACKWARD_LOOP(y > 0.0f ? g * SELU_SCALE : g * (y + SELU_SCALE * SELU_ALPHA));
        break;
    case DK_ACT_IDENTITY:
    default:
        for (size_t i = 0; i < n; i++) dinp[i] = dout[i];
        break;
    }
}

void dk_activation_backward(float *dinp, const float *dout, const float *out, size_t n,
                            dk_activation act, float alpha) {
    if (act == DK_ACT_IDENTITY && dinp == dout) return;
    act_args a = {.out = dinp, .inp = out, .dout = dout, .act = act, .alpha = alpha};
    dk__parallel_for(n, ACT_GRAIN, 16, backward_range, &a);
}
