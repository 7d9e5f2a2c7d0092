/* dk_sgemm's worker for CPUs without AVX2: the AVX2 path's tile on whatever vectors the baseline
 * target has (SSE2 on x86-64), multiply and add unfused. */
#include "internal.h"

typedef float gemm_v8 __attribute__((vector_size(32)));
#define GEMM_VEC gemm_v8
#define GEMM_VL 8
#define GEMM_MR DK_MR_AVX2
#define GEMM_NR DK_NR_AVX2
#define GEMM_TARGET
#define GEMM_AHEAD_MAX_ROWS 0 /* as on the AVX2 path */
#define GEMM_RECT dk__gemm_rect_portable
#include "gemm_kernel.h"
