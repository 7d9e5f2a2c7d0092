/*
 * Private helpers shared by the kernel files: the per-CPU code-path macro, the thread runtime,
 * and a vectorizable exp. Not part of the public API (kept out of include/ on purpose).
 */
#ifndef DENDRITE_CKERNELS_INTERNAL_H
#define DENDRITE_CKERNELS_INTERNAL_H

#include "include/CKernels.h"

#include <stdint.h>
#include <string.h>

/*
 * DK_KERNEL marks the functions that hold the hot loops. On x86-64 ELF targets the compiler emits
 * an AVX2+FMA clone and a baseline clone behind an ifunc resolved at load time, so one binary built
 * without -march runs everywhere and still uses 256-bit FMA where the CPU has it.
 * Code inside `#pragma omp parallel` is outlined into functions that inherit neither the target
 * attributes nor `restrict`, so parallel regions only split work and call DK_KERNEL workers.
 */
#if defined(__x86_64__) && defined(__ELF__) && (defined(__clang__) || defined(__GNUC__))
#define DK_KERNEL __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define DK_KERNEL
#endif

#define DK_INLINE static inline __attribute__((always_inline))

/* ---------------------------------------------------------------- runtime (runtime.c) */

/// The thread count set by dk_set_num_threads (the number of online cores by default).
int dk__threads(void);

/// Threads worth using for `work` units when each thread should get at least `grain` units.
int dk__threads_for(size_t work, size_t grain);

typedef void (*dk_task_fn)(void *ctx, int task);
/// Runs fn(ctx, t) for every t in [0, ntasks), in parallel with ntasks threads when OpenMP is on.
void dk__run_tasks(int ntasks, dk_task_fn fn, void *ctx);

typedef void (*dk_range_fn)(void *ctx, size_t begin, size_t end);
/// Splits [0, n) into one contiguous range per thread (boundaries on multiples of `align`, so
/// vector loops keep their alignment) and calls fn on each. Uses one thread when n < 2 * grain.
/// Callers must make each output element depend on its own inputs only, so the split is invisible.
void dk__parallel_for(size_t n, size_t grain, size_t align, dk_range_fn fn, void *ctx);

/* ---------------------------------------------------------------- exp */

DK_INLINE float dk__bits_to_float(uint32_t u) { float f; memcpy(&f, &u, sizeof f); return f; }
DK_INLINE uint32_t dk__float_to_bits(float f) { uint32_t u; memcpy(&u, &f, sizeof u); return u; }

/*
 * expf that auto-vectorizes (libm's does not): x = n*ln2 + r with |r| <= ln2/2, Cephes' degree-6
 * minimax polynomial for e^r (relative error ~1e-7), then scaling by 2^n built in the exponent
 * bits. 2^n is applied as two factors so n = 128 (x just below ln(FLT_MAX)) does not overflow the
 * exponent field. Below ln(FLT_MIN) the result is flushed to 0 (no subnormals), above ln(FLT_MAX)
 * it is +inf; NaN propagates through the polynomial.
 */
DK_INLINE float dk__exp(float x) {
    const float hi = 88.72283935546875f;  /* ln(FLT_MAX) */
    const float lo = -87.33654022216797f; /* ln(FLT_MIN) */
    const float round_magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float xc = x > hi ? hi : x;
    xc = xc < lo ? lo : xc;
    float t = xc * 1.44269504088896341f + round_magic;
    float fn = t - round_magic;
    int32_t n = (int32_t)(dk__float_to_bits(t) - dk__float_to_bits(round_magic));
    /* ln2 split in a part exact in float and a correction, so r keeps full precision. */
    float r = xc - fn * 0.693359375f;
    r = r - fn * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    float y = p * r * r + r + 1.0f;
    int32_t n1 = n >> 1, n2 = n - n1;
    float s1 = dk__bits_to_float((uint32_t)(n1 + 127) << 23);
    float s2 = dk__bits_to_float((uint32_t)(n2 + 127) << 23);
    float res = y * s1 * s2;
    res = x > hi ? __builtin_inff() : res;
    res = x < lo ? 0.0f : res;
    return res;
}

#endif
