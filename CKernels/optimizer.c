/*
 * Optimizer steps in PyTorch's exact form (see CKernels.h). Step-dependent constants are
 * computed once in double and cast, so the per-element loop is a pure float map.
 */
#include "internal.h"

#include <float.h>
#include <math.h>
#include <stddef.h>

/* Elements per thread below which a second thread does not pay. Lower than elementwise.c's: Adam
 * moves 28 bytes per element, and in training it follows parallel GEMMs, so the workers are awake
 * (the 256x256 layer's update, 65536 elements, gets two threads). */
#define OPT_GRAIN (16 * 1024)

/* sqrtf keeps errno semantics, which stops clang from vectorizing it; v >= 0 here anyway. */
#if defined(__has_builtin)
#if __has_builtin(__builtin_elementwise_sqrt)
#define VSQRT(x) __builtin_elementwise_sqrt(x)
#endif
#endif
#ifndef VSQRT
#define VSQRT(x) sqrtf(x)
#endif

typedef struct {
    float *param, *m, *v;
    const float *grad;
    float b1, b2, step_size, bc2_sqrt, eps, lr, momentum;
} opt_args;

DK_KERNEL(static, adam_range, (void *p, size_t b, size_t e),
          (p, b, e)) {
    const opt_args *a = p;
    float *restrict param = a->param, *restrict m = a->m, *restrict v = a->v;
    const float *restrict grad = a->grad;
    const float b1 = a->b1, b2 = a->b2, c1 = 1.0f - a->b1, c2 = 1.0f - a->b2;
    const float step_size = a->step_size, bc2_sqrt = a->bc2_sqrt, eps = a->eps;
    for (size_t i = b; i < e; i++) {
        float g = grad[i];
        float mi = b1 * m[i] + c1 * g;
        float vi = b2 * v[i] + c2 * g * g;
        /* Moments below FLT_MIN are stored as 0: a moment whose gradient went to zero decays
         * through the subnormal range for hundreds of steps, and subnormal arithmetic is slow on
         * x86. The update such a moment would make is below lr * FLT_MIN / eps ~ 1e-33, far
         * under any weight's rounding. */
        mi = fabsf(mi) < FLT_MIN ? 0.0f : mi;
        vi = vi < FLT_MIN ? 0.0f : vi;
        m[i] = mi;
        v[i] = vi;
        float denom = VSQRT(vi) / bc2_sqrt + eps;
        param[i] -= step_size * (mi / denom);
    }
}

void dk_adam_step(float *param, float *m, float *v, const float *grad, size_t n, float lr,
                  float beta1, float beta2, float eps, int64_t step) {
    double t = (double)(step < 1 ? 1 : step);
    double bc1 = 1.0 - pow((double)beta1, t);
    double bc2 = 1.0 - pow((double)beta2, t);
    opt_args a = {.param = param, .m = m, .v = v, .grad = grad, .b1 = beta1, .b2 = beta2,
                  .step_size = (float)((double)lr / bc1), .bc2_sqrt = (float)sqrt(bc2), .eps = eps};
    dk__parallel_for(n, OPT_GRAIN, 16, adam_range, &a);
}

DK_KERNEL(static, sgd_range, (void *p, size_t b, size_t e),
          (p, b, e)) {
    const opt_args *a = p;
    float *restrict param = a->param;
    const float *restrict grad = a->grad;
    const float lr = a->lr, mu = a->momentum;
    if (a->v) {
        float *restrict vel = a->v;
        for (size_t i = b; i < e; i++) {
            float vi = mu * vel[i] + grad[i];
            vel[i] = vi;
            param[i] -= lr * vi;
        }
    } else {
        for (size_t i = b; i < e; i++) param[i] -= lr * grad[i];
    }
}

void dk_sgd_step(float *param, float *velocity, const float *grad, size_t n, float lr, float momentum) {
    opt_args a = {.param = param, .v = momentum != 0.0f ? velocity : NULL, .grad = grad, .lr = lr,
                  .momentum = momentum};
    dk__parallel_for(n, OPT_GRAIN, 16, sgd_range, &a);
}
