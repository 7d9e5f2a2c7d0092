/* dk_sgemm's worker for AVX2+FMA: 6 x 16 tiles in 12 ymm accumulators. Of the 16 registers, too few
 * are left for a tile to pack a panel ahead (8) beside more than one row's accumulators. */
#include "internal.h"

#ifdef DK_HAS_PATHS
typedef float gemm_v8 __attribute__((vector_size(32)));
#define GEMM_VEC gemm_v8
#define GEMM_VL 8
#define GEMM_MR DK_MR_AVX2
#define GEMM_NR DK_NR_AVX2
#define GEMM_TARGET DK_TARGET_AVX2
#define GEMM_AHEAD_MAX_ROWS 0
#define GEMM_RECT dk__gemm_rect_avx2
#include "gemm_kernel.h"
#endif
