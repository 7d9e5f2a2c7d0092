/*
 * Activations: forward, fused bias + forward, and backward from the forward output alone.
 * The kind is switched on once per chunk, outside the loops, so each loop is a plain
 * vectorizable map; exp-based kinds use dk__exp / dk__expm1. Elementwise, hence trivially
 * deterministic. Outputs too large for the caches that overlap no input are written with
 * streaming stores (see internal.h); the arithmetic, and so the bits, are the same.
 */
#include "internal.h"

#include <stddef.h>

#define SELU_ALPHA 1.6732632423543772f
#define SELU_SCALE 1.0507009873554805f
#define SELU_SCALE_ALPHA 1.7580993408473766f /* SELU_SCALE * SELU_ALPHA, one multiply per element */

/*
 * Elements per thread below which waking another thread does not pay: a fork/join costs a few µs
 * on an idle machine and tens of µs when the other cores are busy. The exp-based forwards cost
 * ~0.25 ns per element on one core, the other maps a fraction of that.
 */
#define ACT_GRAIN_EXP (32 * 1024)
#define ACT_GRAIN (128 * 1024)

DK_INLINE float sigmoid(float x) { return 1.0f / (1.0f + dk__exp(-x)); }

/* tanh x = x P(x^2) / Q(x^2), a rational fit for relative error (6e-9 on |x| <= 8; at most 5 ulp
 * as evaluated in float): half the arithmetic of the exp-based formulas, and odd by construction.
 * The clamp to +-8 keeps |y| < 1 (the fit would pass 1 from 8.13 on), so the backward pass's
 * 1 - y^2 never turns negative; past it y stays 0.99999976, within 4 ulp of tanh there. NaN passes
 * through the clamps (a comparison with NaN keeps x). */
DK_INLINE float tanh_approx(float x) {
    float xc = x < -8.0f ? -8.0f : x;
    xc = xc > 8.0f ? 8.0f : xc;
    float s = xc * xc;
    float p = 1.523055282e-08f;
    p = p * s + 2.189474981e-05f;
    p = p * s + 3.571602982e-03f;
    p = p * s + 1.344450265e-01f;
    p = p * s + 1.0f;
    float q = 8.522498547e-07f;
    q = q * s + 3.411300422e-04f;
    q = q * s + 2.616446279e-02f;
    q = q * s + 4.677782953e-01f;
    q = q * s + 1.0f;
    return xc * p / q;
}

/*
 * out[i] = f(inp[i] (+ bias[i])); bias may be NULL. out may equal inp, so neither is restrict;
 * `omp simd` tells the vectorizer that element i is read before it is written, which spares the
 * runtime overlap check and its scalar fallback (taken whenever out == inp). With `stream`, out
 * overlaps no input and is written with streaming stores.
 */
#define FORWARD_LOOP(EXPR)                                                                         \
    do {                                                                                           \
        if (stream && bias) {                                                                      \
            DK_STREAM_ROW(out, n, i, ({ float x = inp[i] + bias[i]; (EXPR); }));                   \
        } else if (stream) {                                                                       \
            DK_STREAM_ROW(out, n, i, ({ float x = inp[i]; (EXPR); }));                             \
        } else if (bias) {                                                                         \
            _Pragma("omp simd") for (size_t i = 0; i < n; i++) {                                   \
                float x = inp[i] + bias[i];                                                        \
                out[i] = (EXPR);                                                                   \
            }                                                                                      \
        } else {                                                                                   \
            _Pragma("omp simd") for (size_t i = 0; i < n; i++) {                                   \
                float x = inp[i];                                                                  \
                out[i] = (EXPR);                                                                   \
            }                                                                                      \
        }                                                                                          \
    } while (0)

DK_INLINE void forward_span(float *out, const float *inp, const float *restrict bias, size_t n,
                            dk_activation act, float alpha, int stream) {
    switch (act) {
    case DK_ACT_RELU: FORWARD_LOOP(x < 0.0f ? 0.0f : x); break;
    case DK_ACT_LEAKY_RELU: FORWARD_LOOP(x < 0.0f ? alpha * x : x); break;
    case DK_ACT_SIGMOID: FORWARD_LOOP(sigmoid(x)); break;
    case DK_ACT_TANH: FORWARD_LOOP(tanh_approx(x)); break;
    case DK_ACT_ELU: FORWARD_LOOP(x > 0.0f ? x : alpha * dk__expm1(x)); break;
    case DK_ACT_SELU: FORWARD_LOOP(x > 0.0f ? SELU_SCALE * x : SELU_SCALE_ALPHA * dk__expm1(x)); break;
    case DK_ACT_IDENTITY:
    default: FORWARD_LOOP(x); break;
    }
}

static size_t forward_grain(dk_activation act) {
    switch (act) {
    case DK_ACT_SIGMOID:
    case DK_ACT_TANH:
    case DK_ACT_ELU:
    case DK_ACT_SELU: return ACT_GRAIN_EXP;
    default: return ACT_GRAIN;
    }
}

typedef struct {
    float *out;
    const float *inp, *bias, *dout;
    size_t cols;
    dk_activation act;
    float alpha;
    int stream; /* write out with streaming stores */
} act_args;

DK_KERNEL(static, forward_range, (void *p, size_t b, size_t e),
          (p, b, e)) {
    const act_args *a = p;
    forward_span(a->out + b, a->inp + b, NULL, e - b, a->act, a->alpha, a->stream);
    if (a->stream) dk__stream_fence();
}

void dk_activation_forward(float *out, const float *inp, size_t n, dk_activation act, float alpha) {
    if (act == DK_ACT_IDENTITY && out == inp) return;
    act_args a = {.out = out, .inp = inp, .act = act, .alpha = alpha,
                  .stream = dk__streams_output(out, n, inp, n, NULL, 0)};
    dk__parallel_for(n, forward_grain(act), 16, forward_range, &a);
}

DK_KERNEL(static, bias_forward_rows, (void *p, size_t r0, size_t r1),
          (p, r0, r1)) {
    const act_args *a = p;
    for (size_t r = r0; r < r1; r++)
        forward_span(a->out + r * a->cols, a->inp + r * a->cols, a->bias, a->cols, a->act, a->alpha, a->stream);
    if (a->stream) dk__stream_fence();
}

void dk_bias_activation_forward(float *out, const float *inp, const float *bias, int rows, int cols,
                                dk_activation act, float alpha) {
    if (rows <= 0 || cols <= 0) return;
    act_args a = {.out = out, .inp = inp, .bias = bias, .cols = (size_t)cols, .act = act, .alpha = alpha,
                  .stream = dk__streams_output(out, (size_t)rows * (size_t)cols, inp,
                                               (size_t)rows * (size_t)cols, bias, (size_t)cols)};
    dk__parallel_for((size_t)rows, 1 + forward_grain(act) / (size_t)cols, 1, bias_forward_rows, &a);
}

DK_KERNEL(, dk__bias_activation_block,
          (float *c, ptrdiff_t ldc, int rows, int cols, const float *bias, dk_activation act, float alpha),
          (c, ldc, rows, cols, bias, act, alpha)) {
    for (int r = 0; r < rows; r++) forward_span(c + r * ldc, c + r * ldc, bias, (size_t)cols, act, alpha, 0);
}

/* dinp[i] = dout[i] * f'(x_i), with f' written in terms of y = out[i]. dinp may equal dout (see
 * FORWARD_LOOP for `omp simd`, and for streaming). */
#define BACKWARD_LOOP(EXPR)                                                                        \
    do {                                                                                           \
        if (a->stream) {                                                                           \
            DK_STREAM_ROW(dinp, n, i, ({ float g = dout[i], y = outp[i]; (EXPR); }));              \
        } else {                                                                                   \
            _Pragma("omp simd") for (size_t i = 0; i < n; i++) {                                   \
                float g = dout[i], y = outp[i];                                                    \
                dinp[i] = (EXPR);                                                                  \
            }                                                                                      \
        }                                                                                          \
    } while (0)

DK_KERNEL(static, backward_range, (void *p, size_t b, size_t e),
          (p, b, e)) {
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
    default: BACKWARD_LOOP(g); break;
    }
    if (a->stream) dk__stream_fence();
}

DK_KERNEL(, dk__activation_backward_block,
          (float *c, ptrdiff_t ldc, int rows, int cols, const float *out, dk_activation act, float alpha),
          (c, ldc, rows, cols, out, act, alpha)) {
    for (int r = 0; r < rows; r++) {
        act_args a = {.out = c + r * ldc, .inp = out + r * ldc, .dout = c + r * ldc, .act = act, .alpha = alpha};
        backward_range_body(&a, 0, (size_t)cols);
    }
}

void dk_activation_backward(float *dinp, const float *dout, const float *out, size_t n,
                            dk_activation act, float alpha) {
    if (act == DK_ACT_IDENTITY && dinp == dout) return;
    act_args a = {.out = dinp, .inp = out, .dout = dout, .act = act, .alpha = alpha,
                  .stream = dk__streams_output(dinp, n, dout, n, out, n)};
    dk__parallel_for(n, ACT_GRAIN, 16, backward_range, &a);
}
