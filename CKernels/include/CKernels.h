/*
 * CKernels — the whole C API of Dendrite's tuned CPU kernels.
 *
 * Contract for every function:
 *  - plain float32 buffers, row-major, sizes and leading dimensions explicit;
 *  - outputs first, then inputs, then sizes (llm.c order);
 *  - no allocation on the heap; the global state is the thread count, the code path, the GEMM
 *    blocking and dk_sgemm's packing buffers (mapped once per slot, claimed per worker, so
 *    concurrent calls from several threads are safe);
 *  - deterministic: a result is bitwise identical for any thread count (each output element is
 *    produced by one thread in a fixed order; reductions use chunking that depends on sizes only);
 *  - every kernel has a portable, an AVX2+FMA and an AVX-512 code path on x86-64; the best one the
 *    CPU has is chosen at load time (DENDRITE_ISA or dk_set_isa override it). The AVX2 and AVX-512
 *    paths give the same bits (both fuse multiply-adds, and every GEMM element is summed in the same
 *    order); the portable path differs from them in the last bits.
 */
#ifndef DENDRITE_CKERNELS_H
#define DENDRITE_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- runtime */

/// Sets the number of threads every kernel uses (n < 1 means 1).
void dk_set_num_threads(int n);
/// The number of threads kernels use (defaults to the number of cores).
int dk_get_num_threads(void);
/// 1 when the library was built with OpenMP, 0 otherwise.
int dk_openmp_enabled(void);
/// The instruction set the kernels run with, for display: "avx512", "avx2+fma", "x86-64 (sse2)",
/// or "portable C" where the library has no vector code paths (not x86-64).
const char *dk_instruction_set(void);

/* ---------------------------------------------------------------- code paths and blocking */

/// The kernels' code paths. Every path runs every kernel; each but the portable one needs a CPU
/// feature set: AVX2+FMA (x86-64-v3) or AVX-512 F/BW/DQ/VL (x86-64-v4).
typedef enum { DK_ISA_PORTABLE = 0, DK_ISA_AVX2 = 1, DK_ISA_AVX512 = 2 } dk_isa;
#define DK_ISA_COUNT 3

/// 1 when this CPU (and this build) can run path `isa`, else 0.
int dk_isa_supported(dk_isa isa);
/// The path in use on the calling thread: its dk_set_thread_isa override if any, else DENDRITE_ISA
/// (portable, avx2 or avx512) when set and supported, else the best supported one.
dk_isa dk_get_isa(void);
/// Switches every kernel to path `isa`; returns 0, or -1 (and changes nothing) when unsupported.
/// Not for use while kernels run on other threads.
int dk_set_isa(dk_isa isa);
/// Overrides the path for the calling thread's kernel calls only (their worker threads follow it);
/// isa < 0 removes the override. Returns 0, or -1 (and changes nothing) when unsupported.
int dk_set_thread_isa(int isa);
/// "portable", "avx2" or "avx512" (the DENDRITE_ISA spellings); NULL for an unknown value.
const char *dk_isa_name(dk_isa isa);

/// The GEMM's cache blocking (see matmul.c): MC rows of A, KC steps of K, NC columns of B per
/// block. KC decides how each product's sum is split, so it changes the bits of the results;
/// MC and NC do not.
typedef struct { int mc, kc, nc; } dk_blocking;
/// Where a path's blocking came from.
typedef enum {
    DK_BLOCKING_FALLBACK = 0,    /* the built-in constants (the caches could not be read) */
    DK_BLOCKING_CACHES = 1,      /* derived from the cache sizes the CPU reports */
    DK_BLOCKING_ENVIRONMENT = 2, /* DENDRITE_BLOCKING=MC,KC,NC */
    DK_BLOCKING_CALLER = 3,      /* dk_set_blocking */
    DK_BLOCKING_WISDOM = 4       /* dk_set_blocking with a stored tuning result (the caller says so) */
} dk_blocking_source;
/// The built-in blocking, used where the caches cannot be read: MC 144, KC 512, NC 256.
dk_blocking dk_fallback_blocking(void);
/// Path `isa`'s blocking, and where it came from when `source` is not NULL.
dk_blocking dk_get_blocking(dk_isa isa, dk_blocking_source *source);
/// Sets path `isa`'s blocking, recording `source` (DK_BLOCKING_CALLER or DK_BLOCKING_WISDOM) as
/// where it came from. Returns 0, or -1 and a message in `error` (up to `error_size` bytes, may be
/// NULL) when the GEMM cannot use it: MC must be a multiple of the path's tile height, NC of its
/// tile width (dk_gemm_tile), and each within the limits the message states. Not for use while
/// GEMMs run on other threads.
int dk_set_blocking(dk_isa isa, dk_blocking blocking, dk_blocking_source source, char *error,
                    size_t error_size);
/// Path `isa`'s micro-kernel tile: rows (MR) and columns (NR).
void dk_gemm_tile(dk_isa isa, int *rows, int *cols);
/// A problem with DENDRITE_ISA, DENDRITE_BLOCKING or DENDRITE_WINOGRAD found when the library loaded (it then used
/// its own choice), or NULL.
const char *dk_environment_error(void);

/// Data cache sizes in bytes as the CPU reports them (Linux sysfs), 0 where unknown, and the
/// number of logical CPUs sharing the last-level cache.
typedef struct { size_t l1d, l2, l3; int l3_sharing; } dk_caches;
dk_caches dk_cpu_caches(void);
/// 1 when this CPU runs each 512-bit FMA as two 256-bit halves (AMD Zen 4): its AVX-512 and AVX2
/// paths share one FMA peak, and the blocking model lets the AVX-512 tile's slivers stream from L2.
int dk_cpu_splits_512bit_fma(void);
/// The blocking the cache model (see blocking.c) gives path `isa` on a CPU with `caches`, which
/// splits its 512-bit FMAs when `splits_512bit_fma` is 1. Returns 1, or 0 (and leaves `blocking`
/// alone) when L1d or L2 is unknown. The derived blocking of dk_get_blocking is this one for
/// dk_cpu_caches() and dk_cpu_splits_512bit_fma().
int dk_blocking_from_caches(dk_isa isa, dk_caches caches, int splits_512bit_fma, dk_blocking *blocking);
/// The output size in bytes from which kernels write with non-temporal (streaming) stores instead
/// of through the caches: the last-level cache's size, or every core's L2 together where a one-time
/// probe (see streaming.c) finds the last level no faster than memory. The softmax family, the
/// activations (forward, backward, fused bias + activation) and the Winograd convolutions' forward and
/// input gradient stream outputs of at least this size that overlap none of their inputs.
size_t dk_streaming_min_bytes(void);
/// Whether that probe found the last-level cache no faster than memory (0 where it was not needed).
int dk_streaming_probed_last_level_slow(void);

/* ---------------------------------------------------------------- matmul */

/// C = alpha * op(A) * op(B) + beta * C.
/// op(A) is (M,K): A is (M,K) with row stride lda, or (K,M) when trans_a != 0.
/// op(B) is (K,N): B is (K,N) with row stride ldb, or (N,K) when trans_b != 0.
/// C is (M,N) with row stride ldc. beta == 0 overwrites C without reading it (C may hold NaN).
void dk_sgemm(int trans_a, int trans_b, int M, int N, int K,
              float alpha, const float *A, int lda, const float *B, int ldb,
              float beta, float *C, int ldc);

/* ---------------------------------------------------------------- bias */

/// out[r,c] = inp[r,c] + bias[c]; inp and out are (rows,cols); out may equal inp.
void dk_bias_add(float *out, const float *inp, const float *bias, int rows, int cols);
/// dbias[c] = sum over r of dout[r,c] (+ dbias[c] when accumulate != 0). dout is (rows,cols).
void dk_bias_backward(float *dbias, const float *dout, int rows, int cols, int accumulate);

/* ---------------------------------------------------------------- activations */

typedef enum {
    DK_ACT_IDENTITY = 0,
    DK_ACT_RELU = 1,
    DK_ACT_LEAKY_RELU = 2, /* alpha = negative slope, must be > 0 (default 0.01) */
    DK_ACT_SIGMOID = 3,
    DK_ACT_TANH = 4,
    DK_ACT_ELU = 5,        /* alpha > 0 (default 1) */
    DK_ACT_SELU = 6        /* fixed constants: alpha 1.6732632423543772, scale 1.0507009873554805 */
} dk_activation;

/// out[i] = f(inp[i]) for n elements; out may equal inp.
void dk_activation_forward(float *out, const float *inp, size_t n, dk_activation act, float alpha);
/// Fused bias + activation: out[r,c] = f(inp[r,c] + bias[c]); out may equal inp.
void dk_bias_activation_forward(float *out, const float *inp, const float *bias,
                                int rows, int cols, dk_activation act, float alpha);
/// dk_sgemm followed by C[i,j] = f(C[i,j] + bias[j]) (bias may be NULL; act and alpha as for
/// dk_activation_forward): a dense layer's forward in one call. Each thread applies f to the part
/// of C it computed, while that part is still in its own cache; the result has the same bits as
/// dk_sgemm followed by dk_bias_activation_forward.
void dk_sgemm_bias_activation(int trans_a, int trans_b, int M, int N, int K,
                              float alpha, const float *A, int lda, const float *B, int ldb,
                              float beta, float *C, int ldc,
                              const float *bias, dk_activation act, float act_alpha);
/// dinp[i] = dout[i] * f'(x_i), computed from the forward OUTPUT out[i] = f(x_i) alone
/// (every supported activation's derivative is a function of its output). dinp may equal dout.
void dk_activation_backward(float *dinp, const float *dout, const float *out, size_t n,
                            dk_activation act, float alpha);
/// dk_sgemm followed by C[i,j] = C[i,j] * f'(x) where out[i,j] = f(x) (out has C's shape and row
/// stride ldc; act and alpha as above): a dense layer's input gradient carried back through the
/// activation that produced that input. Each thread finishes the part of C it computed, ReLU and
/// leaky ReLU in registers; same bits as dk_sgemm followed by dk_activation_backward.
void dk_sgemm_activation_backward(int trans_a, int trans_b, int M, int N, int K,
                                  float alpha, const float *A, int lda, const float *B, int ldb,
                                  float beta, float *C, int ldc,
                                  const float *out, dk_activation act, float act_alpha);

/* ---------------------------------------------------------------- softmax */

/// Row-wise softmax (max-subtracted). inp and out are (rows,cols); out may equal inp.
void dk_softmax_forward(float *out, const float *inp, int rows, int cols);
/// Row-wise log-softmax (max-subtracted log-sum-exp).
void dk_log_softmax_forward(float *out, const float *inp, int rows, int cols);
/// dinp = out * (dout - sum_c(dout * out)) per row, from the softmax output.
void dk_softmax_backward(float *dinp, const float *dout, const float *out, int rows, int cols);
/// dinp = dout - exp(out) * sum_c(dout) per row, from the log-softmax output.
void dk_log_softmax_backward(float *dinp, const float *dout, const float *out, int rows, int cols);

/// Fused softmax cross-entropy over a batch, forward and gradient in one pass.
/// logits (rows,cols), labels (rows) in [0, cols). Writes losses[r] = -log_softmax(logits)[r, label]
/// and, when dlogits != NULL, dlogits[r,c] = (softmax[r,c] - onehot[r,c]) * grad_scale
/// (grad_scale = 1/rows gives the gradient of the mean); dlogits may equal logits. Returns the mean
/// loss, summed in order.
double dk_softmax_cross_entropy(float *losses, float *dlogits, const float *logits,
                                const int32_t *labels, int rows, int cols, float grad_scale);
/// out[r] = index of the largest value of row r (first one on ties).
void dk_argmax_rows(int32_t *out, const float *inp, int rows, int cols);

/* ---------------------------------------------------------------- optimizers */

/// One Adam step, PyTorch's form (bias-corrected moments, eps added after the square root):
///   m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g*g;
///   p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
/// step is t >= 1 (the step being taken). A new m or v below FLT_MIN in magnitude is stored as 0
/// (subnormal floats are slow to compute with), so an update that small is not made.
void dk_adam_step(float *param, float *m, float *v, const float *grad, size_t n,
                  float lr, float beta1, float beta2, float eps, int64_t step);
/// One SGD step, PyTorch's form: with momentum mu > 0, vel = mu*vel + g and p -= lr*vel;
/// with mu == 0 (vel may be NULL), p -= lr*g.
void dk_sgd_step(float *param, float *velocity, const float *grad, size_t n, float lr, float momentum);

/* ---------------------------------------------------------------- elementwise and reductions */

/// y[i] += x[i]
void dk_add_inplace(float *y, const float *x, size_t n);
/// y[i] *= a
void dk_scale_inplace(float *y, float a, size_t n);
/// Sum of x, accumulated in double with size-only chunking (thread-count independent).
double dk_sum(const float *x, size_t n);
/// Sum of squares of x (double, as dk_sum). NaN/Inf propagate, so it doubles as a finiteness check.
double dk_sum_squares(const float *x, size_t n);

/* ---------------------------------------------------------------- data */

/// Gathers a batch: out[r, :] = images[indices[r], :] * scale, converting uint8 pixels to float.
/// images is (count, cols) bytes; out is (rows, cols).
void dk_gather_rows_u8(float *out, const uint8_t *images, const int32_t *indices,
                       int rows, int cols, float scale);
/// Asks the caches to fetch rows indices[0..<rows] of images (count, cols) in the background, so
/// that the dk_gather_rows_u8 call for them, one training step later, does not wait for memory.
void dk_prefetch_rows_u8(const uint8_t *images, const int32_t *indices, int rows, int cols);

/* ---------------------------------------------------------------- convolution and pooling */

/// A sliding window over NHWC images: the geometry of a convolution or a pooling layer.
/// The input is (batch, height, width, channels); the window (kernel_h, kernel_w) moves by
/// (stride_h, stride_w) over the input padded with pad_top rows above and pad_left columns to the
/// left (and whatever the output size needs below and to the right); the output is
/// (batch, out_h, out_w, ·). Padding is zeros for convolutions and is left out by pools.
typedef struct {
    int batch, height, width, channels;
    int kernel_h, kernel_w, stride_h, stride_w, pad_top, pad_left;
    int out_h, out_w;
} dk_window;

/// Unfolds the windows into rows: col is (batch*out_h*out_w, kernel_h*kernel_w*channels), each row
/// one output pixel's receptive field in (ky, kx, c) order, zeros where it reaches padding; inp is
/// (batch, height, width, channels). A convolution is then col · weight (kh*kw*C, out).
void dk_im2col(float *col, const float *inp, const dk_window *w);
/// The adjoint of dk_im2col: dinp (batch, height, width, channels) = the sum, over every element of
/// dcol that was copied from an input element, of that element of dcol (overwrites dinp). Each image
/// is summed by one thread in a fixed order (rows of dcol in order, then ky, kx).
void dk_col2im(float *dinp, const float *dcol, const dk_window *w);

/// Implicit-GEMM convolutions: the products above, unfolding the input a cache-sized chunk at a time
/// (conv_gemm.c) instead of into a whole col buffer, or, for layers of at most 16 filters, reading the
/// windows in place (conv_direct.c, conv_narrow*.c); bitwise equal to dk_im2col + dk_sgemm (+ dk_col2im)
/// for any thread count. They take receptive fields (kernel_h*kernel_w*channels) of up to
/// dk_conv2d_max_field() floats and do nothing beyond that.
size_t dk_conv2d_max_field(void);
/// Whether this window's convolution is faster through the whole unfolded buffer (dk_im2col once, the
/// weight gradient reusing it) than through the entries above: when the field is too large for them, or so
/// small that unfolding, done twice by the implicit GEMMs, outweighs the products — unless the layer has one
/// input channel, stride 1 along the width and at most 16 filters, whose forward and weight gradient the
/// entries above compute directly, unfolding nothing (conv_direct.c, conv_narrow_weight.c; same bits).
int dk_conv2d_prefers_unfolded(const dk_window *w, int out_channels);
/// Whether the three entries below compute this window's convolution by Winograd's F(4x4, 3x3)
/// (conv_winograd.c: 3x3 filters, stride 1, padding of at most 2, 16 to 512 channels in and out; the
/// forward also needs an activation its tiles apply: none, ReLU or leaky ReLU). Those results are not
/// im2col + GEMM's bits (a quarter of the multiplications, summed in another basis), and are the same
/// for any thread count. Off when DENDRITE_WINOGRAD is 0 or off, or for the calling thread after
/// dk_conv2d_set_winograd(0).
int dk_conv2d_uses_winograd(const dk_window *w, int out_channels);
/// Whether Winograd convolutions are allowed on the calling thread (see dk_conv2d_uses_winograd).
int dk_conv2d_winograd_allowed(void);
/// Allows (1) or forbids (0) Winograd convolutions on the calling thread; -1 returns it to DENDRITE_WINOGRAD.
void dk_conv2d_set_winograd(int allowed);
/// out (batch*out_h*out_w, out_channels) = act(im2col(inp) · weight + bias), weight (kh*kw*C,
/// out_channels); bias may be NULL; act as dk_sgemm_bias_activation.
void dk_conv2d_forward(float *out, const float *inp, const float *weight, const float *bias, int out_channels,
                       const dk_window *w, dk_activation act, float act_alpha);
/// dinp = col2im(dout · weight^T) (overwrites), dout (batch*out_h*out_w, out_channels).
void dk_conv2d_backward_input(float *dinp, const float *dout, const float *weight, int out_channels,
                              const dk_window *w);
/// dweight = im2col(inp)^T · dout + beta * dweight.
void dk_conv2d_backward_weight(float *dweight, const float *dout, const float *inp, int out_channels,
                               const dk_window *w, float beta);

/// out (batch, out_h, out_w, channels) = the largest input in each window, per channel (padding
/// ignored; a window must hold at least one input element).
void dk_maxpool_forward(float *out, const float *inp, const dk_window *w);
/// dinp (batch, height, width, channels) = for each window and channel, dout added at the window's
/// first (in row-major order) largest input (overwrites dinp). inp is the forward input.
void dk_maxpool_backward(float *dinp, const float *dout, const float *inp, const dk_window *w);
/// dk_maxpool_backward followed by dk_activation_backward's ReLU on its result, in one pass, bit for bit:
/// for inp = relu(z), the gradient reaching z (dout kept only where the window's maximum is > 0).
void dk_maxpool_relu_backward(float *dinp, const float *dout, const float *inp, const dk_window *w);
/// Whether dk_conv2d_relu_maxpool_backward takes the convolution window w with out_channels filters (stride 1,
/// kernel rows of up to 64 floats (kernel_w * channels), up to 8 of them, up to 32 filters, an output of at
/// least 2x2).
int dk_conv2d_relu_maxpool_backward_applies(const dk_window *w, int out_channels);
/// The gradients of y = relu(conv2d(inp, weight) + bias) (window w) when y's only reader is a 2x2 max pool of
/// stride 2 without padding, from that pool's output gradient dpool (batch, out_h / 2, out_w / 2,
/// out_channels) and y: what dk_maxpool_relu_backward, then the bias's, dk_conv2d_backward_weight and
/// dk_conv2d_backward_input compute, without the gradient of y. dweight = that + (accumulate_weight ? dweight
/// : 0), dbias likewise; dinp is overwritten, or not computed when NULL. Summed in its own order (not those
/// functions' bits), the same for any thread count.
void dk_conv2d_relu_maxpool_backward(float *dinp, float *dweight, float *dbias, const float *dpool,
                                     const float *conv_out, const float *inp, const float *weight, int out_channels,
                                     const dk_window *w, int accumulate_weight, int accumulate_bias);
/// out = the mean of each window's input elements, per channel (padding is not counted).
void dk_avgpool_forward(float *out, const float *inp, const dk_window *w);
/// dinp = for each window, dout / (its input element count) added at each of its elements (overwrites).
void dk_avgpool_backward(float *dinp, const float *dout, const dk_window *w);

/* ---------------------------------------------------------------- dropout */

/// out[i] = keep(first + i) ? inp[i] / (1 - rate) : 0, where keep(j) is a hash of (key, j) compared with the
/// rate (16-bit resolution): the mask is a function of the key and the index alone, so it is the same
/// for any thread count and on every backend, and the backward pass is this call on dout with the
/// same key. 0 <= rate < 1. out may equal inp.
void dk_dropout(float *out, const float *inp, size_t n, float rate, uint64_t key, size_t first);

/* ---------------------------------------------------------------- batch normalization */

/// Per-channel statistics of inp (rows, channels) (rows = N*H*W after a convolution, N after a dense
/// layer): mean[c] and the biased variance[c], summed in double over the rows in order, each channel
/// by one thread.
void dk_batchnorm_statistics(float *mean, float *variance, const float *inp, int rows, int channels);
/// out[r,c] = (inp[r,c] - mean[c]) * invstd[c] * gamma[c] + beta[c]; out may equal inp.
void dk_batchnorm_forward(float *out, const float *inp, const float *mean, const float *invstd,
                          const float *gamma, const float *beta, int rows, int channels);
/// The backward pass of dk_batchnorm_forward with batch statistics (mean, invstd of this inp):
/// dgamma[c] = sum_r dout*xhat, dbeta[c] = sum_r dout (overwritten), with xhat = (inp - mean)*invstd;
/// dinp = gamma*invstd*(dout - dbeta/rows - xhat*dgamma/rows). dinp may equal dout.
void dk_batchnorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout, const float *inp,
                           const float *mean, const float *invstd, const float *gamma, int rows, int channels);

/* ---------------------------------------------------------------- machine probes (benchmarks) */

/// Peak FP32 rate in GFLOP/s of code path `isa`: `threads` threads each run independent FMA chains
/// for about `seconds` (16-wide on AVX-512, 8-wide on AVX2, 4-wide multiply-add on the portable
/// path). Not a kernel: it ignores dk_set_num_threads and exists so benchmarks can show a share of
/// the machine's ceiling. Returns 0 for a path the CPU lacks.
double dk_probe_fma_gflops(dk_isa isa, int threads, double seconds);
/// Memory copy bandwidth in GB/s (bytes read + bytes written per second), the best of `repeats`
/// copies of a `bytes`-sized buffer split over `threads` threads. Allocates two buffers of `bytes`
/// (the one exception to "no allocation"); returns -1 when they cannot be allocated.
double dk_probe_copy_gbps(int threads, size_t bytes, int repeats);
/// Nanoseconds two threads of the kernels' pool take to pass a cache line there and back (a shared
/// counter each sets when it sees the other's value), over `round_trips` round trips timed after a
/// few untimed ones (which let a just-created worker arrive and settle on its CPU): tens of ns on
/// cores sharing a cache, several times that across chips, and a time slice when both threads share
/// one CPU (the probe then gives up after 0.1 s). 0 when there are not two threads (no OpenMP).
double dk_probe_core_round_trip_ns(int round_trips);
/// The C heap as glibc's mallinfo2 sees it: bytes in use, arena size and bytes in mmapped chunks
/// (all 0 without glibc 2.33+). Swift cannot call mallinfo2 itself: Glibc's module omits malloc.h.
void dk_probe_heap(size_t *in_use, size_t *arena, size_t *mmapped);

#ifdef __cplusplus
}
#endif
#endif
