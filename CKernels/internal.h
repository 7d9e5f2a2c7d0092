/*
 * Private helpers shared by the kernel files: the per-CPU code-path macro, the thread runtime,
 * and a vectorizable exp. Not part of the public API (kept out of include/ on purpose).
 */
#ifndef DENDRITE_CKERNELS_INTERNAL_H
#define DENDRITE_CKERNELS_INTERNAL_H

#include "include/CKernels.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define DK_INLINE static inline __attribute__((always_inline))

/* v if keep is 1, +0 if it is 0: a select the compiler cannot turn into a branch (which pixel of a max
 * pool's window wins is data, so a branch on it mispredicts about every other window). */
DK_INLINE float dk__keep_if(float v, int keep) {
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    bits &= 0u - (uint32_t)keep;
    memcpy(&v, &bits, sizeof v);
    return v;
}

/* The cases of a switch on a count that calls CALL(count) with the count as a constant, so that each
 * count gets its own unrolled body (a register tile's rows or pixels): 7 to 12, and 1 to 6 (anything
 * else takes CALL(1)). */
#define DK_CASES_7_TO_12(CALL)                                                                     \
    case 12: CALL(12); break;                                                                      \
    case 11: CALL(11); break;                                                                      \
    case 10: CALL(10); break;                                                                      \
    case 9: CALL(9); break;                                                                        \
    case 8: CALL(8); break;                                                                        \
    case 7: CALL(7); break;
#define DK_CASES_1_TO_6(CALL)                                                                      \
    case 6: CALL(6); break;                                                                        \
    case 5: CALL(5); break;                                                                        \
    case 4: CALL(4); break;                                                                        \
    case 3: CALL(3); break;                                                                        \
    case 2: CALL(2); break;                                                                        \
    default: CALL(1); break;

/*
 * Code paths. DK_KERNEL(storage, name, (params), (args)) opens the body of a function that holds
 * hot loops: the body is compiled once per path (portable, AVX2+FMA, AVX-512) and `name` calls the
 * one dk__isa() picks. One binary built without -march runs everywhere and still uses the widest
 * vectors the CPU has; unlike target_clones' ifunc, the choice can be forced (DENDRITE_ISA,
 * dk_set_isa). The AVX-512 copy sets min_vector_width so explicit 512-bit vector types stay whole;
 * the build's -mprefer-vector-width=512 lets loops auto-vectorize to 16 lanes there.
 * Code inside `#pragma omp parallel` is outlined into functions that inherit neither the target
 * attributes nor `restrict`, so parallel regions only split work and call DK_KERNEL workers.
 */
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#define DK_HAS_PATHS 1
#define DK_TARGET_AVX2 __attribute__((target("arch=x86-64-v3")))
#define DK_TARGET_AVX512 __attribute__((target("arch=x86-64-v4"), min_vector_width(512)))
#define DK_KERNEL(storage, name, params, args)                                                     \
    DK_INLINE void name##_body params;                                                             \
    static void name##_portable params { name##_body args; }                                       \
    DK_TARGET_AVX2 static void name##_avx2 params { name##_body args; }                            \
    DK_TARGET_AVX512 static void name##_avx512 params { name##_body args; }                        \
    storage void name params {                                                                     \
        switch (dk__isa()) {                                                                       \
        case DK_ISA_AVX512: name##_avx512 args; return;                                            \
        case DK_ISA_AVX2: name##_avx2 args; return;                                                \
        default: name##_portable args; return;                                                     \
        }                                                                                          \
    }                                                                                              \
    DK_INLINE void name##_body params
#else
#define DK_TARGET_AVX2
#define DK_TARGET_AVX512
#define DK_KERNEL(storage, name, params, args)                                                     \
    DK_INLINE void name##_body params;                                                             \
    storage void name params { name##_body args; }                                                 \
    DK_INLINE void name##_body params
#endif

/* ---------------------------------------------------------------- code paths (isa.c) */

/// The code path in use (resolving DENDRITE_ISA on first use).
dk_isa dk__isa(void);
/// The calling thread's path override (-1: none), and setting it without checks: dk__run_tasks
/// gives its workers the caller's path and restores theirs afterwards.
int dk__thread_isa(void);
void dk__set_thread_isa(int isa);
/// DENDRITE_ISA's problem, or NULL (see dk_environment_error).
const char *dk__isa_environment_error(void);

/* ---------------------------------------------------------------- GEMM blocking (blocking.c) */

/* The micro-kernel tiles (MR rows x NR columns of C in registers), by path: 12 ymm accumulators
 * (6 x 2 vectors of 8) on AVX2 and on the portable path, 24 zmm accumulators (12 x 2 vectors of 16)
 * of AVX-512's 32 registers. */
#define DK_MR_AVX2 6
#define DK_NR_AVX2 16
#define DK_MR_AVX512 12
#define DK_NR_AVX512 32
/* The largest blocks dk_set_blocking accepts: they bound the packing buffers (MC*KC and KC*NC
 * floats per worker). */
#define DK_MC_MAX 1024
#define DK_KC_MAX 1024
#define DK_NC_MAX 8192

/// Path `isa`'s blocking, resolving it (DENDRITE_BLOCKING, the caches) on first use.
dk_blocking dk__blocking(dk_isa isa);

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

/* ---------------------------------------------------------------- scratch memory (scratch.c) */

#define DK_SCRATCH_SLOTS 64
/// Per-worker buffers of `floats` floats each (see scratch.c). Zero-initialized except `floats`.
typedef struct {
    size_t floats;
    float *_Atomic memory[DK_SCRATCH_SLOTS];
    atomic_int busy[DK_SCRATCH_SLOTS];
} dk_scratch_pool;

/// Claims a free slot of the pool (trying `hint` first; waiting if all are taken), sets *slot, and
/// returns its memory.
float *dk__scratch_claim(dk_scratch_pool *pool, int hint, int *slot);
void dk__scratch_release(dk_scratch_pool *pool, int slot);

/* ---------------------------------------------------------------- streaming stores (streaming.c) */

/*
 * Outputs larger than the last-level cache cannot stay in it, yet an ordinary store first reads
 * each line it writes (read for ownership): a kernel writing a large array moves half as many bytes
 * again as it needs. Non-temporal stores write whole 64-byte lines straight to memory instead.
 * Kernels use them only for outputs of at least dk_streaming_min_bytes() that do not overlap
 * their inputs (an in-place output's lines are already cached), and call dk__stream_fence() before
 * returning, so the stores are visible to whichever thread reads the output next.
 */
/// Whether a kernel writing `count` floats at `out` from `in1` and `in2` (`in2_count` 0: none) should
/// stream them: the output is large enough and overlaps neither input.
int dk__streams_output(const float *out, size_t count, const float *in1, size_t in1_count,
                       const float *in2, size_t in2_count);

typedef float dk__line __attribute__((vector_size(64)));

/// Writes y[i] = VALUE (an expression of i, vectorizable) for i in [0, n): whole 64-byte lines with
/// non-temporal stores, the parts of lines at either end, which neighbouring rows share, with
/// ordinary ones.
#define DK_STREAM_ROW(y, n, i, VALUE) DK_STREAM_ROW_EACH_LINE(y, n, i, VALUE, (void)0)

/// DK_STREAM_ROW that also runs the statement EACH_LINE (of i) once per whole line it writes, such as
/// a prefetch of the line at offset i of another row.
#define DK_STREAM_ROW_EACH_LINE(y, n, i, VALUE, EACH_LINE)                                         \
    do {                                                                                           \
        size_t dk_head_ = (size_t)(-(uintptr_t)(y) / sizeof(float)) % 16, i;                       \
        if (dk_head_ > (n)) dk_head_ = (n);                                                        \
        for (i = 0; i < dk_head_; i++) (y)[i] = (VALUE);                                           \
        for (; i + 16 <= (n); i += 16) {                                                           \
            EACH_LINE;                                                                             \
            float dk_values_[16];                                                                  \
            size_t dk_base_ = i;                                                                   \
            _Pragma("omp simd") for (int dk_j_ = 0; dk_j_ < 16; dk_j_++) {                         \
                size_t i = dk_base_ + (size_t)dk_j_;                                               \
                dk_values_[dk_j_] = (VALUE);                                                       \
            }                                                                                      \
            dk__line dk_line_;                                                                     \
            memcpy(&dk_line_, dk_values_, sizeof dk_line_);                                        \
            __builtin_nontemporal_store(dk_line_, (dk__line *)((y) + i));                          \
        }                                                                                          \
        for (; i < (n); i++) (y)[i] = (VALUE);                                                     \
    } while (0)

DK_INLINE void dk__stream_fence(void) {
#if defined(__x86_64__)
    __builtin_ia32_sfence();
#else
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

/* ---------------------------------------------------------------- GEMM on one thread (matmul.c) */

/// dk_sgemm and dk_sgemm_bias_activation (bias NULL and act DK_ACT_IDENTITY: none) computed
/// entirely on the calling thread: for kernels that split work between threads themselves and run
/// a product per piece. Same bits as the parallel entries.
void dk__sgemm_on_this_thread(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                              int lda, const float *B, int ldb, float beta, float *C, int ldc,
                              const float *bias, dk_activation act, float act_alpha);

/* ---------------------------------------------------------------- unfolding (conv.c) */

/// Writes rows [r0, r1) and columns [c0, c1) of im2col(inp) (see dk_im2col), row r at
/// dst + (r - r0) * ld, on the calling thread.
void dk__im2col_block(float *dst, size_t ld, const float *inp, const dk_window *w, size_t r0, size_t r1,
                      size_t c0, size_t c1);
/// The rows and columns of the padded input that a convolution's windows reach.
size_t dk__window_reach_h(const dk_window *w);
size_t dk__window_reach_w(const dk_window *w);
/// Whether some window reaches past the input (into padding), so that a kernel reading windows in
/// place needs a zero-padded copy.
int dk__window_reads_padding(const dk_window *w);
/// Image `image` of inp, zero-padded into dst: dk__window_reach_h rows of `cols` pixels of C floats
/// (cols >= dk__window_reach_w); pixel (y, x) of dst is input pixel (y - pad_top, x - pad_left), or
/// zeros outside the input.
void dk__pad_image(float *dst, size_t cols, const float *inp, size_t image, const dk_window *w);
/// Adds rows [r0, r1) of a dcol (row r at dcol + (r - r0) * ld) into dinp as dk_col2im does, rows in
/// order, zeroing each image first when r0..r1 holds its first row; on the calling thread. Calls over
/// consecutive ranges of an image give dk_col2im's bits.
void dk__col2im_rows(float *dinp, const float *dcol, size_t ld, const dk_window *w, size_t r0, size_t r1);

/* ---------------------------------------------------------------- register tiles (GEMM, convolutions) */

/* Row i's element in a tile whose row 0's is at a and whose rows are r1 bytes apart, given r3, r5 and
 * r7 = 3, 5 and 7 times r1: each row is a + one or two of those strides, the first scaled by 1, 2, 4
 * or 8, which the load's x86 address computes itself. i is a constant wherever this is called. */
DK_INLINE const float *row_at(const float *a, ptrdiff_t r1, ptrdiff_t r3, ptrdiff_t r5, ptrdiff_t r7,
                              int i) {
    const char *row = (const char *)a;
    switch (i) {
    case 0: return a;
    case 1: row += r1; break;
    case 2: row += 2 * r1; break;
    case 3: row += r3; break;
    case 4: row += 4 * r1; break;
    case 5: row += r5; break;
    case 6: row += 2 * r3; break;
    case 7: row += r7; break;
    case 8: row += 8 * r1; break;
    case 9: row += r7 + 2 * r1; break;
    case 10: row += 2 * r5; break;
    default: row += r7 + 4 * r1; break;
    }
    return (const float *)row;
}

/* ---------------------------------------------------------------- Winograd convolutions (conv_winograd.c) */

/// DENDRITE_WINOGRAD's problem, or NULL (see dk_environment_error).
const char *dk__winograd_environment_error(void);

/* Channels each side of the layers the Winograd kernels take (their scratch is sized for it). */
#define DK_WINOGRAD_MAX_CHANNELS 512

/// dk_conv2d_forward, dk_conv2d_backward_input and dk_conv2d_backward_weight by F(4x4, 3x3), for the
/// windows dk_conv2d_uses_winograd accepts (the forward: with an activation the tiles apply).
void dk__conv2d_forward_winograd(float *out, const float *inp, const float *weight, const float *bias,
                                 int out_channels, const dk_window *w, dk_activation act, float act_alpha);
void dk__conv2d_backward_input_winograd(float *dinp, const float *dout, const float *weight, int out_channels,
                                        const dk_window *w);
void dk__conv2d_backward_weight_winograd(float *dweight, const float *dout, const float *inp, int out_channels,
                                         const dk_window *w, float beta);

/* ---------------------------------------------------------------- direct convolutions (conv_direct.c, conv_narrow*.c, conv_wide*.c) */

/// A convolution's forward (dk_conv2d_forward's arguments) and weight gradient (dk_conv2d_backward_weight's,
/// with dk_sgemm's K blocks over the pixels, which its kernels follow), as the convolution files split
/// them between threads.
typedef struct {
    float *out;
    const float *inp, *weight, *bias;
    const dk_window *w;
    int oc;
    dk_activation act;
    float act_alpha;
    size_t rows; /* the implicit GEMM's rows per unfolded chunk */
} dk__conv_forward;

typedef struct {
    float *dweight;
    const float *dout, *inp;
    const dk_window *w;
    int oc;
    float beta;
    size_t step, blocks;
} dk__conv_weight;

/// Whether the direct forward takes this convolution: one input channel, stride 1 along the width, at
/// most 16 filters, a field within one K block.
int dk__conv2d_direct_applies(const dk_window *w, int out_channels);
/// dk_conv2d_forward's result (same bits) with output pixels in a vector's lanes.
void dk__conv2d_forward_direct(const dk__conv_forward *a);

/// Whether the narrow forward takes this convolution: at most 16 filters over several input channels, or on
/// the AVX-512 path up to 64 over any.
int dk__conv2d_narrow_applies(const dk_window *w, int out_channels);
/// dk_conv2d_forward's result (same bits) with the filters in a vector's lanes.
void dk__conv2d_forward_narrow(const dk__conv_forward *a);

/// Whether the narrow weight gradient takes this convolution: at most 16 filters, a field within one
/// K block.
int dk__conv2d_narrow_weight_applies(const dk_window *w, int out_channels);
/// dk_conv2d_backward_weight's result (same bits) with the filters in a vector's lanes.
void dk__conv2d_backward_weight_narrow(const dk__conv_weight *a);

/// Whether the block-lanes weight gradient takes this convolution: the AVX-512 path, one input channel,
/// stride 1, output the input's size, at most 8 filters of width 3 or 5, and K blocks that fill at least half
/// the lanes.
int dk__conv2d_block_lanes_weight_applies(const dk_window *w, int out_channels);
/// dk_conv2d_backward_weight's result (same bits) with 16 of the GEMM's K blocks in a vector's lanes.
void dk__conv2d_backward_weight_block_lanes(const dk__conv_weight *a);

/// Whether the wide weight gradient takes this convolution: the AVX-512 path, 17 to 64 filters, kernel rows
/// of at least 12 floats or a greyscale 3x3 kernel.
int dk__conv2d_wide_weight_applies(const dk_window *w, int out_channels);
/// dk_conv2d_backward_weight's result (same bits) with groups of 32 filters in two vectors' lanes.
void dk__conv2d_backward_weight_wide(const dk__conv_weight *a);

/// Whether the narrow input gradient takes this convolution: at most 16 filters (64 on the AVX-512 path).
int dk__conv2d_narrow_input_applies(const dk_window *w, int out_channels);
/// dk_conv2d_backward_input's result (same bits) with field positions in a vector's lanes.
void dk__conv2d_backward_input_narrow(float *dinp, const float *dout, const float *weight, int out_channels,
                                      const dk_window *w);

/* ---------------------------------------------------------------- activations (activation.c) */

/// c[r, j] = f(c[r, j] + bias[j]) in place over a rows x cols block with row stride ldc, on the
/// calling thread (bias may be NULL): the epilogue of dk_sgemm_bias_activation.
void dk__bias_activation_block(float *c, ptrdiff_t ldc, int rows, int cols, const float *bias,
                               dk_activation act, float alpha);
/// c[r, j] *= f'(x) where out[r, j] = f(x), in place over a rows x cols block, c and out with row
/// stride ldc, on the calling thread: the epilogue of dk_sgemm_activation_backward.
void dk__activation_backward_block(float *c, ptrdiff_t ldc, int rows, int cols, const float *out,
                                   dk_activation act, float alpha);

/* ---------------------------------------------------------------- exp */

DK_INLINE float dk__bits_to_float(uint32_t u) { float f; memcpy(&f, &u, sizeof f); return f; }
DK_INLINE uint32_t dk__float_to_bits(float f) { uint32_t u; memcpy(&u, &f, sizeof u); return u; }

/*
 * exp and expm1 that auto-vectorize (libm's do not): x = n*ln2 + r with |r| <= ln2/2, a minimax
 * polynomial in r, then scaling by 2^n. Adding 1.5*2^23 + 127 rounds x*log2(e) to an integer
 * n + 127 held in the low mantissa bits, so shifting that sum left by 23 yields 2^n directly.
 * Inputs are clamped so that n+127 stays in [0, 255]: n+127 = 0 gives the factor 0 (e^x flushes to
 * 0 below about -87.7, so no fix-up select is needed) and 255 gives +inf. NaN passes through the
 * clamps (written so that a comparison with NaN keeps x) and the polynomial.
 */
#define DK__EXP_LO (-88.0f) /* rounds to n = -127: the factor 2^n is 0 */

DK_INLINE float dk__exp_reduce(float x, float *scale) {
    const float magic = 12583039.0f; /* 1.5 * 2^23 + 127 */
    float t = x * 1.44269504088896341f + magic;
    float fn = t - magic;
    *scale = dk__bits_to_float(dk__float_to_bits(t) << 23);
    /* ln2 split in a part exact in float and a correction, so r keeps full precision. */
    float r = x - fn * 0.693359375f;
    return r - fn * -2.12194440e-4f;
}

/* e^r on |r| <= ln2/2 as 1 + r + r^2*q(r), degree 5, fitted for relative error (1.05e-7). */
DK_INLINE float dk__exp_poly(float r) {
    float p = 8.312477730e-3f;
    p = p * r + 4.189055040e-2f;
    p = p * r + 1.666711569e-1f;
    p = p * r + 4.999922812e-1f;
    p = p * r + 1.0f;
    return p * r + 1.0f;
}

/* e^x for x <= 0 (or NaN), e.g. max-subtracted logits: no upper clamp needed. */
DK_INLINE float dk__exp_nonpos(float x) {
    float scale, xc = x < DK__EXP_LO ? DK__EXP_LO : x;
    float r = dk__exp_reduce(xc, &scale);
    return dk__exp_poly(r) * scale;
}

/* e^x; above ~88.38 (where n would be 128) the result is +inf, slightly before FLT_MAX's 88.72. */
DK_INLINE float dk__exp(float x) {
    float scale, xc = x < DK__EXP_LO ? DK__EXP_LO : x;
    xc = xc > 88.9f ? 88.9f : xc; /* rounds to n = 128: the factor is +inf */
    float r = dk__exp_reduce(xc, &scale);
    return dk__exp_poly(r) * scale;
}

/*
 * e^x - 1 without cancellation near 0: 2^n*(e^r - 1) + (2^n - 1), where 2^n - 1 is exact and
 * e^r - 1 = r + r^2*q(r) (degree 6, fitted for relative error of e^r - 1: 1.8e-8). Saturates at
 * e^88.3 - 1 (about 2.1e38) above 88.3 instead of overflowing, so u/(u+2) and the like stay finite;
 * below -88 it is exactly -1.
 */
DK_INLINE float dk__expm1(float x) {
    float scale, xc = x < DK__EXP_LO ? DK__EXP_LO : x;
    xc = xc > 88.3f ? 88.3f : xc; /* n <= 127: the factor stays finite */
    float r = dk__exp_reduce(xc, &scale);
    float q = 1.388250967e-3f;
    q = q * r + 8.366580121e-3f;
    q = q * r + 4.166720062e-2f;
    q = q * r + 1.666654348e-1f;
    q = q * r + 4.999999702e-1f;
    float em1_r = (r * r) * q + r;
    return scale * em1_r + (scale - 1.0f);
}

#endif
